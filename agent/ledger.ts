import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'libsql';
import { TreasuryError } from '../shared/errors.ts';

/**
 * The durable ledger, a port with two adapters that pass one conformance suite (test/ledger.conformance.test.ts):
 * SQLite (`SqliteLedger`, WAL, embedded: the default) and PostgreSQL (`PostgresLedger` in postgresLedger.ts, for
 * several runners sharing one database). One row per proposal with the state machine of DESIGN.md
 *   planned → posted → (rejected | expired | passed) → executing → executed | failed
 * Each transition is committed before its side effect is attempted and carries an idempotency key: repeating
 * a transition that already happened is a no-op, so a process killed at any point resumes without posting
 * or executing twice (the side effects themselves are checked on resume: the hub for a posted id, the chain
 * for an executing safeTxHash).
 */

export const PROPOSAL_STATES = [
  'planned',
  'posted',
  'rejected',
  'expired',
  'passed',
  'executing',
  'executed',
  'failed',
] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

const ALLOWED: Record<ProposalState, ProposalState[]> = {
  planned: ['posted', 'expired', 'failed'],
  posted: ['rejected', 'expired', 'passed', 'failed'],
  rejected: [],
  expired: [],
  passed: ['executing', 'expired', 'failed'],
  executing: ['executed', 'failed', 'expired'],
  executed: [],
  failed: [],
};

export const TERMINAL_STATES: ProposalState[] = ['rejected', 'expired', 'executed', 'failed'];

export type ProposalRow = {
  key: string;
  state: ProposalState;
  cycleAt: number;
  /** Everything needed to rebuild the transaction and the proposal (JSON, bigints as strings). */
  record: unknown;
  safeTxHash: string;
  safeNonce: string;
  proposalId: string | null;
  /** The signed Snapshot message, kept so a crash after signing re-sends exactly the same bytes. */
  envelope: unknown | null;
  executionTxHash: string | null;
  reason: string | null;
  auditRecordId: string | null;
  createdAt: number;
  updatedAt: number;
};

/**
 * A feed's close of one UTC day (days since 1970-01-01): its last round with updatedAt ≤ the end of that day
 * (contracts/feedRounds.ts). The feed address is stored in lower case.
 */
export type FeedClose = { feed: string; day: number; answer: bigint; updatedAt: number; roundId: bigint };

/** A stored feed close's columns (amounts as decimal text), as both adapters store them. */
export type FeedCloseColumns = {
  feed: string;
  day: number;
  answer: string;
  updated_at: number;
  round_id: string;
};

export function toFeedClose(r: FeedCloseColumns): FeedClose {
  return {
    feed: r.feed,
    day: r.day,
    answer: BigInt(r.answer),
    updatedAt: r.updated_at,
    roundId: BigInt(r.round_id),
  };
}

export class LedgerError extends TreasuryError {
  override name = 'LedgerError';
}

function connect(path: string): Database.Database {
  try {
    return new Database(path);
  } catch (error) {
    throw new LedgerError(`cannot open the ledger at ${path}`, {
      cause: error,
      hint: 'check state.ledgerPath',
    });
  }
}

/** A proposal row's columns, as both adapters store them (snake_case; JSON as text). */
export type ProposalColumns = {
  key: string;
  state: string;
  cycle_at: number;
  record_json: string;
  safe_tx_hash: string;
  safe_nonce: string;
  proposal_id: string | null;
  envelope_json: string | null;
  execution_tx_hash: string | null;
  reason: string | null;
  audit_record_id: string | null;
  created_at: number;
  updated_at: number;
};

/** A stored row as the port returns it (both adapters). */
export function toProposal(row: ProposalColumns): ProposalRow {
  return {
    key: row.key,
    state: row.state as ProposalState,
    cycleAt: row.cycle_at,
    record: JSON.parse(row.record_json),
    safeTxHash: row.safe_tx_hash,
    safeNonce: row.safe_nonce,
    proposalId: row.proposal_id,
    envelope: row.envelope_json ? JSON.parse(row.envelope_json) : null,
    executionTxHash: row.execution_tx_hash,
    reason: row.reason,
    auditRecordId: row.audit_record_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export type TransitionPatch = Partial<
  Pick<ProposalRow, 'proposalId' | 'envelope' | 'executionTxHash' | 'reason' | 'auditRecordId'>
>;

export type PlannedInput = {
  key: string;
  cycleAt: number;
  record: unknown;
  safeTxHash: string;
  safeNonce: string;
  now: number;
};

export type TransitionRecord = { from: string | null; to: string; at: number; detail: string | null };
export type MirroredAuditRecord = { seq: number; id: string; hash: string; prevHash: string; json: string };

/** The ledger port: what the cycle, the watchdog, the market history, the audit log and the console use. */
export interface Ledger {
  /** Which adapter: `sqlite` or `postgresql`. */
  readonly kind: 'sqlite' | 'postgresql';
  /** Records a new planned proposal; a second insert with the same key is a no-op (returns the existing row). */
  insertPlanned(input: PlannedInput): Promise<ProposalRow>;
  get(key: string): Promise<ProposalRow | undefined>;
  byProposalId(proposalId: string): Promise<ProposalRow | undefined>;
  /** Proposals not yet in a terminal state, oldest first: what a resumed agent must carry on with. */
  open(): Promise<ProposalRow[]>;
  all(): Promise<ProposalRow[]>;
  /**
   * Moves a proposal from `from` to `to` atomically, storing `patch`. Idempotent: if this exact transition
   * (same idempotency key `key:from->to`) was already made, nothing changes and the current row is returned.
   * Any other state mismatch is an error (the caller's view is stale).
   */
  transition(
    key: string,
    from: ProposalState,
    to: ProposalState,
    patch: TransitionPatch,
    now: number,
    detail?: string,
  ): Promise<ProposalRow>;
  /** Stores fields without changing state (e.g. the signed envelope before it is sent). */
  annotate(key: string, patch: TransitionPatch, now: number): Promise<ProposalRow>;
  transitions(key: string): Promise<TransitionRecord[]>;
  getState(name: string): Promise<string | undefined>;
  setState(name: string, value: string): Promise<void>;
  clearState(name: string): Promise<void>;
  /** The stored daily closes of a feed for days fromDay…toDay (inclusive), by day. */
  feedCloses(feed: string, fromDay: number, toDay: number): Promise<FeedClose[]>;
  /** Stores daily closes (days that are over, so their close cannot change), in one transaction. */
  storeFeedCloses(rows: readonly FeedClose[]): Promise<void>;
  /** Mirrors one audit record (the JSONL file is the primary copy; both must agree); a repeat is a no-op. */
  mirrorAudit(
    record: { seq: number; id: string; hash: string; prevHash: string },
    json: string,
  ): Promise<void>;
  auditRecords(): Promise<MirroredAuditRecord[]>;
  /**
   * Runs `body` as the DAO's only runner: `{ ran: false }` at once while another body holds the DAO (SQLite: in
   * this process; PostgreSQL: in any process sharing the database, released when its holder dies).
   */
  exclusive<T>(body: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
  close(): Promise<void>;
}

/** Checks a transition against the state machine (shared by the adapters). */
export function checkTransition(
  key: string,
  current: ProposalState,
  from: ProposalState,
  to: ProposalState,
): void {
  if (current !== from) {
    throw new LedgerError(`proposal ${key} is ${current}, not ${from}: cannot move it to ${to}`);
  }
  if (!ALLOWED[from].includes(to))
    throw new LedgerError(`illegal transition ${from} → ${to} for proposal ${key}`);
}

/** Where a DAO's ledger is: a SQLite file, or a PostgreSQL database (URL) and the schema that holds this DAO. */
export type LedgerLocation =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgresql'; url: string; schema: string; password?: string };

/**
 * Where the config puts the DAO's ledger: PostgreSQL when state.ledgerUrl is set (schema state.ledgerSchema, by
 * default dao_<chain id>_<Safe address>), else the SQLite file state.ledgerPath.
 */
export function ledgerLocationOf(
  config: {
    chain: { id: number };
    safe: { address?: string };
    state: { ledgerPath: string; ledgerUrl?: string; ledgerSchema?: string };
  },
  password?: string,
): LedgerLocation {
  const { state } = config;
  if (!state.ledgerUrl) return { kind: 'sqlite', path: state.ledgerPath };
  const schema =
    state.ledgerSchema ??
    (config.safe.address
      ? `dao_${config.chain.id}_${config.safe.address.slice(2).toLowerCase()}`
      : undefined);
  if (!schema) {
    throw new LedgerError('state.ledgerSchema is needed with state.ledgerUrl when safe.address is not set', {
      hint: 'name the schema that holds this DAO (e.g. ledgerSchema: dao_mydao)',
    });
  }
  return { kind: 'postgresql', url: state.ledgerUrl, schema, ...(password ? { password } : {}) };
}

/** The ledger's location for people: the file, or the database without credentials and the schema. */
export function describeLedgerLocation(location: LedgerLocation): string {
  if (location.kind === 'sqlite') return location.path;
  let url = 'PostgreSQL';
  try {
    const parsed = new URL(location.url);
    parsed.username = '';
    parsed.password = '';
    url = parsed.toString();
  } catch {}
  return `${url} (schema ${location.schema})`;
}

/**
 * Opens the ledger at `location`. PostgreSQL is loaded only when used; `pools` lets many DAOs share one
 * connection pool per database (the fleet passes one; the pools are its to close).
 */
export async function openLedger(
  location: LedgerLocation,
  options: { readOnly?: boolean; pools?: import('./postgresLedger.ts').PostgresPools } = {},
): Promise<Ledger> {
  if (location.kind === 'sqlite')
    return options.readOnly ? SqliteLedger.openReadOnly(location.path) : SqliteLedger.open(location.path);
  const { PostgresLedger } = await import('./postgresLedger.ts');
  return PostgresLedger.open(location, options);
}

/** The SQLite adapter (libsql, WAL, synchronous = FULL); its calls are synchronous underneath. */
export class SqliteLedger implements Ledger {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;

  /** Prepared statements by SQL text: preparing costs more than running these small statements. */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(db: Database.Database) {
    this.db = db;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private row(key: string): ProposalRow | undefined {
    const row = this.statement('SELECT * FROM proposals WHERE key = ?').get(key) as
      | ProposalColumns
      | undefined;
    return row ? toProposal(row) : undefined;
  }

  /** Opens (or creates) the ledger; `:memory:` for tests. */
  static open(path: string): SqliteLedger {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = connect(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    // A ledger is small (a few proposals a month): 512 KiB of page cache, not SQLite's 2 MiB, since one process may
    // hold a hundred DAOs' ledgers open.
    db.pragma('cache_size = -512');
    db.exec(`
      CREATE TABLE IF NOT EXISTS proposals (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        cycle_at INTEGER NOT NULL,
        record_json TEXT NOT NULL,
        safe_tx_hash TEXT NOT NULL,
        safe_nonce TEXT NOT NULL,
        proposal_id TEXT UNIQUE,
        envelope_json TEXT,
        execution_tx_hash TEXT,
        reason TEXT,
        audit_record_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        proposal_key TEXT NOT NULL REFERENCES proposals(key),
        from_state TEXT,
        to_state TEXT NOT NULL,
        at INTEGER NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        detail TEXT
      );
      CREATE TABLE IF NOT EXISTS audit_records (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        json TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS agent_state (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS feed_daily_closes (
        feed TEXT NOT NULL,
        day INTEGER NOT NULL,
        answer TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        round_id TEXT NOT NULL,
        PRIMARY KEY (feed, day)
      ) WITHOUT ROWID;
    `);
    return new SqliteLedger(db);
  }

  /**
   * Opens an existing ledger to read only (`query_only`: any write is refused by SQLite): the console and
   * auditors read it while the agent may be writing (WAL).
   */
  static openReadOnly(path: string): SqliteLedger {
    if (!existsSync(path)) throw new LedgerError(`no ledger at ${path}`, { hint: 'check state.ledgerPath' });
    const db = connect(path);
    db.pragma('query_only = ON');
    db.pragma('busy_timeout = 5000');
    return new SqliteLedger(db);
  }

  async close(): Promise<void> {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }

  private exclusiveHeld = false;

  async exclusive<T>(body: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.exclusiveHeld) return { ran: false };
    this.exclusiveHeld = true;
    try {
      return { ran: true, value: await body() };
    } finally {
      this.exclusiveHeld = false;
    }
  }

  async insertPlanned(input: PlannedInput): Promise<ProposalRow> {
    const insert = this.db.transaction(() => {
      const existing = this.row(input.key);
      if (existing) return existing;
      this.statement(
        `INSERT INTO proposals (key, state, cycle_at, record_json, safe_tx_hash, safe_nonce, created_at, updated_at)
           VALUES (?, 'planned', ?, ?, ?, ?, ?, ?)`,
      ).run(
        input.key,
        input.cycleAt,
        JSON.stringify(input.record),
        input.safeTxHash,
        input.safeNonce,
        input.now,
        input.now,
      );
      this.statement(
        `INSERT INTO transitions (proposal_key, from_state, to_state, at, idempotency_key) VALUES (?, NULL, 'planned', ?, ?)`,
      ).run(input.key, input.now, `${input.key}:planned`);
      return this.row(input.key)!;
    });
    return insert();
  }

  async get(key: string): Promise<ProposalRow | undefined> {
    return this.row(key);
  }

  async byProposalId(proposalId: string): Promise<ProposalRow | undefined> {
    const row = this.statement('SELECT * FROM proposals WHERE proposal_id = ?').get(proposalId) as
      | ProposalColumns
      | undefined;
    return row ? toProposal(row) : undefined;
  }

  async open(): Promise<ProposalRow[]> {
    const placeholders = TERMINAL_STATES.map(() => '?').join(',');
    const rows = this.statement(
      `SELECT * FROM proposals WHERE state NOT IN (${placeholders}) ORDER BY cycle_at, created_at`,
    ).all(...TERMINAL_STATES) as ProposalColumns[];
    return rows.map(toProposal);
  }

  async all(): Promise<ProposalRow[]> {
    return (
      this.statement('SELECT * FROM proposals ORDER BY cycle_at, created_at').all() as ProposalColumns[]
    ).map(toProposal);
  }

  async transition(
    key: string,
    from: ProposalState,
    to: ProposalState,
    patch: TransitionPatch,
    now: number,
    detail?: string,
  ): Promise<ProposalRow> {
    const idempotencyKey = `${key}:${from}->${to}`;
    const apply = this.db.transaction(() => {
      const done = this.statement('SELECT 1 FROM transitions WHERE idempotency_key = ?').get(idempotencyKey);
      const current = this.row(key);
      if (!current) throw new LedgerError(`no proposal ${key} in the ledger`);
      if (done) return current;
      checkTransition(key, current.state, from, to);
      this.update(key, { ...patch, state: to }, now);
      this.statement(
        'INSERT INTO transitions (proposal_key, from_state, to_state, at, idempotency_key, detail) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(key, from, to, now, idempotencyKey, detail ?? null);
      return this.row(key)!;
    });
    return apply();
  }

  async annotate(key: string, patch: TransitionPatch, now: number): Promise<ProposalRow> {
    if (!this.row(key)) throw new LedgerError(`no proposal ${key} in the ledger`);
    this.update(key, patch, now);
    return this.row(key)!;
  }

  private update(key: string, patch: TransitionPatch & { state?: ProposalState }, now: number): void {
    const columns: [string, unknown][] = [['updated_at', now]];
    if (patch.state !== undefined) columns.push(['state', patch.state]);
    if (patch.proposalId !== undefined) columns.push(['proposal_id', patch.proposalId]);
    if (patch.envelope !== undefined) columns.push(['envelope_json', JSON.stringify(patch.envelope)]);
    if (patch.executionTxHash !== undefined) columns.push(['execution_tx_hash', patch.executionTxHash]);
    if (patch.reason !== undefined) columns.push(['reason', patch.reason]);
    if (patch.auditRecordId !== undefined) columns.push(['audit_record_id', patch.auditRecordId]);
    const sql = `UPDATE proposals SET ${columns.map(([c]) => `${c} = ?`).join(', ')} WHERE key = ?`;
    this.statement(sql).run(...columns.map(([, v]) => v), key);
  }

  async transitions(key: string): Promise<TransitionRecord[]> {
    return (
      this.statement(
        'SELECT from_state, to_state, at, detail FROM transitions WHERE proposal_key = ? ORDER BY id',
      ).all(key) as { from_state: string | null; to_state: string; at: number; detail: string | null }[]
    ).map((r) => ({ from: r.from_state, to: r.to_state, at: r.at, detail: r.detail }));
  }

  async getState(name: string): Promise<string | undefined> {
    return (this.statement('SELECT v FROM agent_state WHERE k = ?').get(name) as { v: string } | undefined)
      ?.v;
  }

  async setState(name: string, value: string): Promise<void> {
    this.statement(
      'INSERT INTO agent_state (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v',
    ).run(name, value);
  }

  async clearState(name: string): Promise<void> {
    this.statement('DELETE FROM agent_state WHERE k = ?').run(name);
  }

  async feedCloses(feed: string, fromDay: number, toDay: number): Promise<FeedClose[]> {
    return (
      this.statement(
        'SELECT feed, day, answer, updated_at, round_id FROM feed_daily_closes WHERE feed = ? AND day BETWEEN ? AND ? ORDER BY day',
      ).all(feed.toLowerCase(), fromDay, toDay) as FeedCloseColumns[]
    ).map(toFeedClose);
  }

  async storeFeedCloses(rows: readonly FeedClose[]): Promise<void> {
    if (rows.length === 0) return;
    const insert = this.statement(
      `INSERT INTO feed_daily_closes (feed, day, answer, updated_at, round_id) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(feed, day) DO UPDATE SET answer = excluded.answer, updated_at = excluded.updated_at,
         round_id = excluded.round_id`,
    );
    this.db.transaction(() => {
      for (const r of rows)
        insert.run(r.feed.toLowerCase(), r.day, r.answer.toString(), r.updatedAt, r.roundId.toString());
    })();
  }

  async mirrorAudit(
    record: { seq: number; id: string; hash: string; prevHash: string },
    json: string,
  ): Promise<void> {
    this.statement(
      'INSERT OR IGNORE INTO audit_records (seq, id, hash, prev_hash, json) VALUES (?, ?, ?, ?, ?)',
    ).run(record.seq, record.id, record.hash, record.prevHash, json);
  }

  async auditRecords(): Promise<MirroredAuditRecord[]> {
    return (
      this.statement('SELECT seq, id, hash, prev_hash, json FROM audit_records ORDER BY seq').all() as {
        seq: number;
        id: string;
        hash: string;
        prev_hash: string;
        json: string;
      }[]
    ).map((r) => ({ seq: r.seq, id: r.id, hash: r.hash, prevHash: r.prev_hash, json: r.json }));
  }
}
