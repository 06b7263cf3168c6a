import cron from 'node-cron';
import { ConfigError } from '../shared/errors.ts';

/**
 * Runs `cycle` on a cron schedule in UTC with no overlap: a tick that arrives while a cycle is running is
 * skipped (node-cron's noOverlap). Aborting `signal` stops the schedule and waits for the running cycle to
 * finish its step, so the caller can then close the database safely.
 */
export function startSchedule(options: {
  cron: string;
  /** Called with the tick's scheduled time (the same in every process on this schedule). */
  cycle: (tick: Date) => Promise<void>;
  signal: AbortSignal;
  onSkip?: (reason: string) => void;
  onError?: (error: unknown) => void;
  name?: string;
}): { done: Promise<void>; nextRun: () => Date | null } {
  if (!cron.validate(options.cron)) {
    throw new ConfigError(`"${options.cron}" is not a valid cron expression`, {
      hint: 'e.g. "0 12 * * 1" (Mondays 12:00 UTC)',
    });
  }
  let running: Promise<void> | undefined;
  const task = cron.schedule(
    options.cron,
    async (context) => {
      running = options.cycle(context.date).catch((error: unknown) => options.onError?.(error));
      await running;
      running = undefined;
    },
    {
      timezone: 'UTC',
      noOverlap: true,
      name: options.name ?? 'treasury-cycle',
      // node-cron prints its own warnings with console.warn, past the CLI's redactor and logger: its overlap and
      // missed-tick warnings come here as events instead, and its errors go to onError.
      logger: {
        info: () => {},
        debug: () => {},
        warn: () => {},
        error: (message, error) => options.onError?.(error ?? message),
      },
    },
  );
  task.on('execution:overlap', () => options.onSkip?.('the previous cycle is still running'));
  task.on('execution:missed', () => options.onSkip?.('the process was busy at the time of the tick'));
  const done = new Promise<void>((resolve) => {
    const stop = async () => {
      await task.stop();
      if (running) await running;
      await task.destroy();
      resolve();
    };
    if (options.signal.aborted) void stop();
    else options.signal.addEventListener('abort', () => void stop(), { once: true });
  });
  return { done, nextRun: () => task.getNextRun() };
}
