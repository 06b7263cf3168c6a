import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { type AuditRecord, parseAuditLog } from '../agent/auditLog.ts';
import { describeLedgerLocation, type Ledger, ledgerLocationOf, openLedger } from '../agent/ledger.ts';
import { configFilesIn, loadConfig } from '../config/loadConfig.ts';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { describeError, redactUrlsIn } from '../shared/errors.ts';
import { type DaoModel, daoModel } from './daoView.ts';

/**
 * The DAOs a console shows and how each is read. `live`: a config file (its ledger, audit log, hub and chain);
 * `offline`: an audit log alone (a finished run). A config that does not load is kept with its error, so one
 * broken file in a folder is shown on the index and never stops the console. Files are re-read per request
 * (the agent may be appending); nothing is ever written: the ledger is opened query-only.
 */

type Base = { id: string; name: string; origin: string };
export type LiveDao = Base & { mode: 'live'; config: TreasuryAgentConfig };
export type OfflineDao = Base & { mode: 'offline'; auditLogPath: string };
export type BrokenDao = Base & { mode: 'broken'; error: string };
export type DaoEntry = LiveDao | OfflineDao | BrokenDao;

export type DaoData = {
  records: AuditRecord[];
  /** Why the audit log could not be read (missing, malformed). */
  logError?: string;
  /** The ledger's mirror of the log (live, when the ledger exists). */
  mirror?: { seq: number; hash: string }[];
  ledgerError?: string;
  model: DaoModel;
};

/** A DAO's address in the console: the file name, made URL-safe and unique. */
function slug(path: string, taken: Set<string>): string {
  const base =
    basename(path, extname(path))
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'dao';
  let id = base;
  for (let i = 2; taken.has(id); i++) id = `${base}-${i}`;
  taken.add(id);
  return id;
}

export { configFilesIn };

/** Loads what `--config`, `--configs` and `--audit-log` name; a config that fails to load is kept as broken. */
export async function loadDaos(options: {
  config?: string;
  configs?: string;
  auditLog?: string;
}): Promise<DaoEntry[]> {
  const taken = new Set<string>();
  const entries: DaoEntry[] = [];
  const files = [
    ...(options.config ? [options.config] : []),
    ...(options.configs ? configFilesIn(options.configs) : []),
  ];
  for (const file of files) {
    const id = slug(file, taken);
    try {
      const config = await loadConfig(file);
      entries.push({ id, name: config.governance.space, origin: file, mode: 'live', config });
    } catch (error) {
      entries.push({ id, name: basename(file), origin: file, mode: 'broken', error: safeText(error) });
    }
  }
  if (options.auditLog) {
    const path = resolve(options.auditLog);
    entries.push({
      id: slug(basename(path) === 'audit.jsonl' ? `${basename(resolve(path, '..'))}-audit` : path, taken),
      name: `audit log ${options.auditLog}`,
      origin: options.auditLog,
      mode: 'offline',
      auditLogPath: path,
    });
  }
  return entries;
}

/** An error for a page: its message with every URL's credentials and key-like parts hidden. */
export function safeText(error: unknown): string {
  return redactUrlsIn(describeError(error));
}

/** The audit log file a DAO reads. */
export function auditLogPathOf(dao: LiveDao | OfflineDao): string {
  return dao.mode === 'live' ? dao.config.state.auditLogPath : dao.auditLogPath;
}

type Parsed = { mtimeMs: number; size: number; records: AuditRecord[] };

/**
 * Reads a DAO's audit log (parsed again only when the file changed) and, live, its ledger (query-only). Each
 * ledger is opened once and kept for the reader's life: libsql keeps about 0.17 MB of native memory for every
 * connection it opens and closes in WAL mode, which a console opening the ledger for each page would pile up.
 * A ledger that fails a read is closed and opened again at the next.
 */
export function createDaoReader() {
  const parsed = new Map<string, Parsed>();
  const ledgers = new Map<string, Promise<Ledger>>();
  const ledgerAt = (location: ReturnType<typeof ledgerLocationOf>) => {
    const key = describeLedgerLocation(location);
    let ledger = ledgers.get(key);
    if (!ledger) {
      ledger = openLedger(location, { readOnly: true });
      ledgers.set(key, ledger);
      ledger.catch(() => ledgers.delete(key));
    }
    return { key, ledger };
  };
  const readLog = (path: string): AuditRecord[] => {
    const stat = statSync(path);
    const cached = parsed.get(path);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.records;
    const records = parseAuditLog(readFileSync(path, 'utf8'), path);
    parsed.set(path, { mtimeMs: stat.mtimeMs, size: stat.size, records });
    return records;
  };
  return async (dao: LiveDao | OfflineDao): Promise<DaoData> => {
    const path = auditLogPathOf(dao);
    let records: AuditRecord[] = [];
    let logError: string | undefined;
    if (!existsSync(path)) {
      logError = `no audit log at ${path} yet`;
    } else {
      try {
        records = readLog(path);
      } catch (error) {
        logError = safeText(error);
      }
    }
    if (dao.mode === 'offline') return { records, logError, model: daoModel(records) };
    // No password is read here (the console reads no key): a PostgreSQL ledger is opened as libpq would (.pgpass).
    const location = ledgerLocationOf(dao.config);
    if (location.kind === 'sqlite' && !existsSync(location.path)) {
      return {
        records,
        logError,
        ledgerError: `no ledger at ${describeLedgerLocation(location)} yet (the agent has not run)`,
        model: daoModel(records),
      };
    }
    const opened = ledgerAt(location);
    try {
      const ledger = await opened.ledger;
      const rows = await ledger.all();
      const transitions = new Map<string, Awaited<ReturnType<Ledger['transitions']>>>();
      for (const row of rows) transitions.set(row.key, await ledger.transitions(row.key));
      const model = daoModel(records, {
        rows,
        paused: await ledger.getState('paused'),
        transitions: (key) => transitions.get(key) ?? [],
      });
      const mirror = (await ledger.auditRecords()).map((r) => ({ seq: r.seq, hash: r.hash }));
      return { records, logError, mirror, model };
    } catch (error) {
      if (ledgers.get(opened.key) === opened.ledger) {
        ledgers.delete(opened.key);
        await opened.ledger.then((l) => l.close()).catch(() => {});
      }
      return { records, logError, ledgerError: safeText(error), model: daoModel(records) };
    }
  };
}

/**
 * The parts of a config's URLs that may be credentials: user and password, query values, long path segments
 * (API keys in the path). The console never shows a URL from a config, and also scrubs these from every
 * response, whatever put them there.
 */
export function sensitiveParts(config: TreasuryAgentConfig): string[] {
  const urls = [
    config.chain.rpcUrl,
    config.governance.hubUrl,
    config.llm.baseUrl,
    config.execution.transactionServiceUrl,
  ].filter((u): u is string => typeof u === 'string' && u.length > 0);
  const parts: string[] = [];
  for (const raw of urls) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    if (url.username) parts.push(decodeURIComponent(url.username));
    if (url.password) parts.push(decodeURIComponent(url.password));
    if (url.search.length > 1) parts.push(url.search.slice(1));
    for (const [name, value] of url.searchParams) {
      if (value.length >= 8 || /key|token|secret|auth|pass/i.test(name)) parts.push(value);
    }
    for (const segment of url.pathname.split('/')) if (segment.length >= 24) parts.push(segment);
  }
  return [...new Set(parts.filter((p) => p.length >= 4))];
}
