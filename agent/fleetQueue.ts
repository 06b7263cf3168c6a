import { createHash } from 'node:crypto';
import PgBoss from 'pg-boss';
import { z } from 'zod';
import { TreasuryError } from '../shared/errors.ts';
import type { DaoTickResult, Fleet } from './fleet.ts';

/**
 * Past one machine: several `treasury run --configs DIR --queue URL` processes share one PostgreSQL and split the
 * DAOs through pg-boss (a job queue in PostgreSQL, `SELECT … FOR UPDATE SKIP LOCKED`). At each DAO's tick every
 * runner offers the same job, whose id is derived from the DAO and the tick's scheduled time, so the queue holds
 * one job per DAO and tick (`ON CONFLICT DO NOTHING`); whichever runner fetches it first runs that DAO's cycle.
 * The cycle itself runs under the DAO's advisory lock (PostgresLedger.exclusive), which a killed runner releases
 * with its connection: the next tick's job goes to a live runner, and a late duplicate only finds the DAO held.
 * Posting and execution stay exactly-once through the ledger's idempotency keys, as with one process.
 */

export const FLEET_QUEUE = 'treasury-dao-tick';
/** The PostgreSQL schema pg-boss keeps its tables in. */
export const FLEET_QUEUE_SCHEMA = 'treasury_jobs';

const TickJob = z.strictObject({ dao: z.string().min(1).max(200), tick: z.iso.datetime() });

export class QueueError extends TreasuryError {
  override name = 'QueueError';
}

/** The job id of a DAO's tick: a UUID from SHA-256 of the DAO and the scheduled time (the same in every runner). */
export function tickJobId(dao: string, tick: Date): string {
  const hex = createHash('sha256').update(`${dao}\n${tick.toISOString()}`).digest('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export type FleetQueue = {
  /** Offers a DAO's tick (a no-op when another runner already offered it). */
  offer: (dao: string, tick: Date) => Promise<void>;
  stop: () => Promise<void>;
};

export async function startFleetQueue(options: {
  url: string;
  password?: string;
  fleet: Fleet;
  /** Jobs run at once by this runner (default 4). */
  concurrency?: number;
  onResult: (result: DaoTickResult) => void;
  onError: (error: unknown) => void;
}): Promise<FleetQueue> {
  const url = new URL(options.url);
  if (options.password !== undefined) url.password = encodeURIComponent(options.password);
  const boss = new PgBoss({
    connectionString: url.toString(),
    schema: FLEET_QUEUE_SCHEMA,
    max: (options.concurrency ?? 4) + 2,
    // Ticks come from each runner's own schedules; pg-boss only queues, hands out and expires jobs.
    schedule: false,
    supervise: true,
    application_name: 'treasury-run',
  });
  boss.on('error', (error) => options.onError(error));
  try {
    await boss.start();
    await boss.createQueue(FLEET_QUEUE, {
      name: FLEET_QUEUE,
      policy: 'standard',
      // A runner killed mid-cycle leaves its job active until it expires; the next tick is a new job, so no retry.
      retryLimit: 0,
      expireInSeconds: 3600,
    });
  } catch (error) {
    await boss.stop({ graceful: false, wait: false }).catch(() => {});
    throw new QueueError('cannot start the job queue in PostgreSQL', {
      cause: error,
      hint: 'is PostgreSQL up, the --queue URL right and its password in PGPASSWORD?',
    });
  }
  for (let i = 0; i < (options.concurrency ?? 4); i++) {
    await boss.work(FLEET_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => {
      const data = TickJob.safeParse(job?.data);
      if (!data.success) throw new QueueError(`a tick job that is not one: ${z.prettifyError(data.error)}`);
      const result = await options.fleet.tick(data.data.dao);
      options.onResult(result);
      return { status: result.status, ms: result.ms };
    });
  }
  return {
    async offer(dao, tick) {
      await boss.send(FLEET_QUEUE, { dao, tick: tick.toISOString() }, { id: tickJobId(dao, tick) });
    },
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 600_000 });
    },
  };
}
