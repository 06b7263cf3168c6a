import { basename, extname, resolve } from 'node:path';
import { configFilesIn, loadConfig } from '../config/loadConfig.ts';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { describeError } from '../shared/errors.ts';
import { runCycle } from './cycle.ts';
import { type CycleOutcome, outcomeSince } from './cycleLog.ts';
import { describeLedgerLocation, ledgerLocationOf } from './ledger.ts';
import { buildRuntime, type Runtime, type RuntimeOptions } from './runtime.ts';
import { configSecrets, environmentSecretValues } from './secrets.ts';
import type { SharedClients } from './sharedClients.ts';

/**
 * Many DAOs in one process: every config in a folder is one DAO, named after its file (`dao1.yaml` → dao1). Each
 * keeps its own ledger, audit log, keys (the variables its `keys` names) and schedule; the public clients, clocks,
 * database pools and modules are shared (SharedClients, and Node's module cache). A DAO whose config does not load,
 * whose runtime cannot be built (RPC down, key missing) or whose cycle fails is reported with its name and tried
 * again at its next tick; the others run on.
 */

export type FleetDao = {
  name: string;
  path: string;
  config?: TreasuryAgentConfig;
  /** Why the config cannot be used (it does not load, or it shares a ledger or audit log with another DAO). */
  configError?: string;
  runtime?: Runtime;
};

export type DaoTickResult = {
  dao: string;
  /** ran: a cycle ran (it may have stopped early, see events); skipped: another runner held the DAO. */
  status: 'ran' | 'skipped' | 'failed';
  events: string[];
  /** What a cycle that ran came to (agent/cycleLog.ts), for the one line a `run` logs per cycle. */
  outcome?: CycleOutcome;
  /** The DAO's Snapshot space and Safe, when its config loaded. */
  space?: string;
  safe?: string;
  error?: string;
  ms: number;
};

export type FleetOptions = {
  env: Readonly<Record<string, string | undefined>>;
  shared: SharedClients;
  /** One line per event, already prefixed with the DAO's name. */
  log?: (line: string) => void;
  pricesPath?: string;
  /** For tests: runtime options every DAO gets (a clock, a rationale writer, a transaction service). */
  runtime?: Pick<RuntimeOptions, 'clock' | 'writer' | 'transactionService' | 'contractNetworks'>;
};

export class Fleet {
  private constructor(
    readonly daos: FleetDao[],
    private readonly options: FleetOptions,
  ) {}

  /** Loads every config in `dir` (YAML or JSON); a config that does not load is kept with its error. */
  static async load(dir: string, options: FleetOptions): Promise<Fleet> {
    const daos: FleetDao[] = [];
    for (const path of configFilesIn(dir)) {
      const name = basename(path, extname(path));
      try {
        daos.push({ name, path, config: await loadConfig(path) });
      } catch (error) {
        daos.push({ name, path, configError: describeError(error) });
      }
    }
    refuseSharedState(daos);
    return new Fleet(daos, options);
  }

  /** The secrets of every DAO, for the CLI to redact: each config's URL credentials and its key variables. */
  secrets(): string[] {
    return this.daos.flatMap((d) =>
      d.config
        ? [...configSecrets(d.config), ...environmentSecretValues(this.options.env, d.config.keys)]
        : [],
    );
  }

  dao(name: string): FleetDao | undefined {
    return this.daos.find((d) => d.name === name);
  }

  /**
   * One tick of one DAO: builds its runtime when it has none yet, then runs a cycle as the DAO's only runner
   * (`ledger.exclusive`: with PostgreSQL, across every process sharing the database). Never throws.
   */
  async tick(name: string): Promise<DaoTickResult> {
    const started = performance.now();
    const dao = this.dao(name);
    const result = (
      status: DaoTickResult['status'],
      events: string[],
      error?: string,
      outcome?: CycleOutcome,
    ): DaoTickResult => ({
      dao: name,
      status,
      events,
      ms: Math.round(performance.now() - started),
      ...(dao?.config
        ? {
            space: dao.config.governance.space,
            ...(dao.config.safe.address ? { safe: dao.config.safe.address } : {}),
          }
        : {}),
      ...(outcome ? { outcome } : {}),
      ...(error !== undefined ? { error } : {}),
    });
    if (!dao) return result('failed', [], `no DAO named ${name} in this runner's folder`);
    if (!dao.config) return result('failed', [], dao.configError ?? 'no config');
    const log = this.options.log;
    try {
      dao.runtime ??= await buildRuntime({
        config: dao.config,
        env: this.options.env,
        shared: this.options.shared,
        pricesPath: this.options.pricesPath,
        log: log ? (line) => log(`[${name}] ${line}`) : undefined,
        ...this.options.runtime,
      });
      const runtime = dao.runtime;
      const outcome = await runtime.ledger.exclusive(async () => {
        const fromSeq = runtime.audit.head().seq;
        const report = await runCycle(runtime);
        return { report, outcome: await outcomeSince(runtime, fromSeq) };
      });
      if (!outcome.ran) return result('skipped', [], 'another runner holds this DAO');
      return result('ran', outcome.value.report.events, undefined, outcome.value.outcome);
    } catch (error) {
      return result('failed', [], describeError(error));
    }
  }

  /** One tick of every DAO, `concurrency` at a time (default 8). */
  async tickAll(options: { concurrency?: number } = {}): Promise<DaoTickResult[]> {
    const names = this.daos.map((d) => d.name);
    const results: DaoTickResult[] = new Array(names.length);
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const i = next++;
        results[i] = await this.tick(names[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, names.length) }, worker));
    return results;
  }

  /** Closes every DAO's ledger (the shared clients are the caller's). */
  async close(): Promise<void> {
    await Promise.all(
      this.daos.map(async (d) => {
        const runtime = d.runtime;
        d.runtime = undefined;
        await runtime?.close();
      }),
    );
  }
}

/**
 * Two DAOs writing one ledger or one audit log would corrupt both: the later config (by file name) is refused,
 * naming the DAO that has it.
 */
function refuseSharedState(daos: FleetDao[]): void {
  const owners = new Map<string, string>();
  for (const dao of daos) {
    if (!dao.config) continue;
    let location: ReturnType<typeof ledgerLocationOf>;
    try {
      location = ledgerLocationOf(dao.config);
    } catch (error) {
      dao.configError = describeError(error);
      dao.config = undefined;
      continue;
    }
    const claims = [
      [
        `the ledger ${describeLedgerLocation(location)}`,
        location.kind === 'sqlite' ? resolve(location.path) : `${location.url} ${location.schema}`,
      ],
      [`the audit log ${dao.config.state.auditLogPath}`, `audit ${resolve(dao.config.state.auditLogPath)}`],
    ] as const;
    for (const [what, key] of claims) {
      const owner = owners.get(key);
      if (owner) {
        dao.configError = `${what} is also DAO ${owner}'s: each DAO needs its own (state.ledgerPath/ledgerSchema, state.auditLogPath)`;
        dao.config = undefined;
        break;
      }
    }
    if (dao.config) for (const [, key] of claims) owners.set(key, dao.name);
  }
}
