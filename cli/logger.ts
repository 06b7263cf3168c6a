import type { Logger } from 'pino';
import type { CommandIo } from './command.ts';

export type { Logger };

/**
 * A pino logger for a long-running command (`run`, `hub`, `console`): one JSON object a line, or on a terminal
 * one readable line an event (pino-pretty, single line). Every line is written through `io.out` (info and
 * below) or `io.err` (warn and above), so it passes the CLI's redactor like everything else the CLI prints:
 * pino never writes to the process's stdout itself.
 *
 * pino and pino-pretty are imported here, on first use, so the commands that never log do not load them.
 *
 * @example
 * const log = await createCommandLogger(io, 'run');
 * log.info({ space: 'dao.eth', outcome: 'proposed', ms: 812 }, 'dao.eth: proposed 0xabc…');
 */
export async function createCommandLogger(io: CommandIo, command: string): Promise<Logger> {
  const { pino, stdTimeFunctions } = await import('pino');
  const pretty = io.tty ? (await import('pino-pretty')).prettyFactory : undefined;
  const prettify = pretty?.({
    colorize: true,
    singleLine: true,
    translateTime: 'UTC:yyyy-mm-dd HH:MM:ss"Z"',
    ignore: 'pid,hostname,command',
  });
  const destination = {
    write(chunk: string) {
      const level = (JSON.parse(chunk) as { level?: number }).level ?? 30;
      const line = (prettify ? prettify(chunk) : chunk).trimEnd();
      (level >= 40 ? io.err : io.out)(line);
    },
  };
  return pino({ base: { command }, timestamp: stdTimeFunctions.isoTime }, destination);
}
