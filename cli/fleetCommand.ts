import { existsSync, statSync } from 'node:fs';
import { z } from 'zod';
import { outcomeText } from '../agent/cycleLog.ts';
import { type DaoTickResult, Fleet } from '../agent/fleet.ts';
import type { FleetQueue } from '../agent/fleetQueue.ts';
import { startSchedule } from '../agent/scheduler.ts';
import { urlCredentials } from '../agent/secrets.ts';
import { SharedClients } from '../agent/sharedClients.ts';
import { describeError } from '../shared/errors.ts';
import { type Command, integerOption, stringOption, UsageError } from './command.ts';
import { createCommandLogger, type Logger } from './logger.ts';

/** The --queue URL: PostgreSQL, and no password in it (the password comes from PGPASSWORD). */
const QueueUrl = z
  .string()
  .url('not a URL')
  .refine((url) => /^postgres(ql)?:\/\//.test(url), 'a postgres:// or postgresql:// URL')
  .refine((url) => new URL(url).password === '', 'no password in the URL: put it in PGPASSWORD');

/** `once --configs DIR` and `run --configs DIR [--queue URL]`: many DAOs in one process (agent/fleet.ts). */

type Args = Parameters<Command['run']>[0];
type Io = Parameters<Command['run']>[1];

export const fleetOptions = {
  configs: {
    type: 'string' as const,
    valueName: 'DIR',
    description: 'every config (YAML/JSON) in this folder is one DAO, named after its file',
  },
  concurrency: {
    type: 'string' as const,
    valueName: 'N',
    description: 'with --configs: DAO cycles run at once by this process (8)',
  },
};

/**
 * Without `log` (`once`), each DAO's events are printed as `[dao] …` lines as they happen; with it (`run`), a
 * tick's events go into its one log line.
 */
async function loadFleet(args: Args, io: Io, shared: SharedClients, log?: Logger): Promise<Fleet> {
  const dir = stringOption(args, 'configs')!;
  if (!(existsSync(dir) && statSync(dir).isDirectory()))
    throw new UsageError(`--configs ${dir} is not a folder`);
  const fleet = await Fleet.load(dir, {
    env: process.env,
    shared,
    log: log ? undefined : io.out,
    pricesPath: stringOption(args, 'prices'),
  });
  io.addSecrets?.(fleet.secrets());
  if (fleet.daos.length === 0) throw new UsageError(`no config (*.yaml, *.yml, *.json) in ${dir}`);
  for (const dao of fleet.daos) {
    if (!dao.configError) continue;
    if (log)
      log.error({ dao: dao.name, error: dao.configError }, `[${dao.name}] not run: ${dao.configError}`);
    else io.err(`✖ [${dao.name}] not run: ${dao.configError}`);
  }
  return fleet;
}

/**
 * One line per DAO and tick for `run --configs`, as `run --config` logs one per cycle (agent/cycleLog.ts): the
 * DAO's name, space and Safe, the outcome, the proposal id, the duration and the cycle's events.
 */
function logResult(log: Logger, result: DaoTickResult): void {
  const dao = {
    dao: result.dao,
    ...(result.space ? { space: result.space } : {}),
    ...(result.safe ? { safe: result.safe } : {}),
  };
  if (result.status === 'failed')
    log.error(
      { ...dao, outcome: 'failed', ms: result.ms, error: result.error },
      `[${result.dao}] cycle failed: ${result.error} (${result.ms} ms)`,
    );
  else if (result.status === 'skipped')
    log.info(
      { ...dao, outcome: 'skipped', ms: result.ms, reason: result.error },
      `[${result.dao}] tick skipped: ${result.error}`,
    );
  else {
    const outcome = result.outcome ?? { outcome: 'nothing due' as const };
    log.info(
      { ...dao, ...outcome, ms: result.ms, events: result.events },
      `[${result.dao}] ${result.space ?? ''}: ${outcomeText(outcome, result.ms)}`,
    );
  }
}

function report(io: Io, result: DaoTickResult): void {
  if (result.status === 'failed') io.err(`✖ [${result.dao}] cycle failed: ${result.error}`);
  else if (result.status === 'skipped') io.out(`[${result.dao}] tick skipped: ${result.error}`);
  else if (result.events.length === 0) io.out(`[${result.dao}] nothing to do`);
}

/** One tick of every DAO; exit 1 when any failed. */
export async function fleetOnce(args: Args, io: Io): Promise<number> {
  const shared = new SharedClients();
  try {
    const fleet = await loadFleet(args, io, shared);
    try {
      const started = performance.now();
      const results = await fleet.tickAll({
        concurrency: integerOption(args, 'concurrency', { min: 1, max: 256 }) ?? 8,
      });
      const tickS = (performance.now() - started) / 1000;
      for (const r of results) report(io, r);
      const count = (s: DaoTickResult['status']) => results.filter((r) => r.status === s).length;
      io.out(
        `${results.length} DAOs: ${count('ran')} ran, ${count('skipped')} skipped, ${count('failed')} failed; tick ${tickS.toFixed(2)} s`,
      );
      return count('failed') > 0 ? 1 : 0;
    } finally {
      await fleet.close();
    }
  } finally {
    await shared.close();
  }
}

/**
 * Every DAO on its own schedule until SIGINT/SIGTERM. With --queue, the ticks go through the job queue shared
 * with other runners (agent/fleetQueue.ts); without, this process runs them. One log line per DAO and tick
 * (pino, as `run --config` logs one per cycle).
 */
export async function fleetRun(args: Args, io: Io): Promise<number> {
  const shared = new SharedClients();
  let queue: FleetQueue | undefined;
  const log = await createCommandLogger(io, 'run');
  try {
    const fleet = await loadFleet(args, io, shared, log);
    try {
      const queueUrl = stringOption(args, 'queue');
      if (queueUrl) {
        io.addSecrets?.(urlCredentials(queueUrl));
        const checked = QueueUrl.safeParse(queueUrl);
        if (!checked.success) {
          throw new UsageError(`--queue: ${checked.error.issues[0]?.message}`, {
            hint: 'e.g. --queue postgres://treasury@db.example.org:5432/treasury, with the password in PGPASSWORD',
          });
        }
        const { startFleetQueue } = await import('../agent/fleetQueue.ts');
        queue = await startFleetQueue({
          url: queueUrl,
          password: process.env.PGPASSWORD,
          fleet,
          concurrency: integerOption(args, 'concurrency', { min: 1, max: 256 }) ?? 4,
          onResult: (result) => logResult(log, result),
          onError: (error) =>
            log.error({ error: describeError(error) }, `job queue: ${describeError(error)}`),
        });
      }
      const running = queue;
      const schedules: Promise<void>[] = [];
      for (const dao of fleet.daos) {
        if (!dao.config) continue;
        const name = dao.name;
        try {
          const schedule = startSchedule({
            cron: dao.config.schedule.cron,
            signal: io.signal,
            name: `treasury-${name}`,
            cycle: async (tick) => {
              if (running) await running.offer(name, tick);
              else logResult(log, await fleet.tick(name));
            },
            onSkip: (reason) => log.warn({ dao: name, reason }, `[${name}] tick skipped: ${reason}`),
            onError: (error) =>
              log.error(
                { dao: name, error: describeError(error) },
                `[${name}] tick failed: ${describeError(error)}`,
              ),
          });
          schedules.push(schedule.done);
        } catch (error) {
          log.error({ dao: name, error: describeError(error) }, `[${name}] not run: ${describeError(error)}`);
        }
      }
      log.info(
        { daos: schedules.length, of: fleet.daos.length, queue: queue !== undefined },
        `running ${schedules.length} of ${fleet.daos.length} DAOs${queue ? ', sharing their ticks through the job queue' : ''}`,
      );
      await Promise.all(schedules);
      await queue?.stop();
      queue = undefined;
      log.info('stopped; ledgers closed');
      return 0;
    } finally {
      await queue?.stop();
      await fleet.close();
    }
  } finally {
    await shared.close();
  }
}
