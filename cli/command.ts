import { type ParseArgsConfig, parseArgs } from 'node:util';
import { TreasuryError } from '../shared/errors.ts';

/** What a command may print to and how it is told to stop; injected so tests can run commands in-process. */
export type CommandIo = {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM: long-running commands finish their step, clean up and return. */
  signal: AbortSignal;
  /**
   * Tells the CLI more secret values to redact from everything printed after this (the credentials in the
   * config's URLs or in --rpc); the environment's keys are redacted from the start. See agent/secrets.ts.
   */
  addSecrets?: (values: readonly string[]) => void;
  /** Whether `out` is a terminal: logs are then one readable line an event, else JSON lines (cli/logger.ts). */
  tty?: boolean;
};

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & {
  description: string;
  valueName?: string;
};

/** A `treasury` sub-command: its name, help text, options and what it does. */
export type Command = {
  /** Words after `treasury`, e.g. `['config', 'validate']`. */
  name: string[];
  summary: string;
  /** Positional arguments, as shown in the usage line, e.g. `FILE`. */
  positionals?: string[];
  options: Record<string, OptionSpec>;
  /** More lines of help: examples, notes. */
  help?: string[];
  run: (args: ParsedArgs, io: CommandIo) => Promise<number>;
};

export type ParsedArgs = {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
};

export class UsageError extends TreasuryError {
  override name = 'UsageError';
}

export function commandUsage(command: Command): string {
  const lines = [`treasury ${command.name.join(' ')} — ${command.summary}`, ''];
  const positional = (command.positionals ?? []).join(' ');
  lines.push(`usage: treasury ${command.name.join(' ')}${positional ? ` ${positional}` : ''} [options]`, '');
  lines.push('options:');
  const entries = Object.entries(command.options);
  entries.push(['help', { type: 'boolean', description: 'show this help' }]);
  for (const [name, spec] of entries) {
    const flag = `--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`;
    lines.push(`  ${flag.padEnd(24)} ${spec.description}`);
  }
  if (command.help?.length) lines.push('', ...command.help);
  return lines.join('\n');
}

/** Parses argv for one command: unknown flags are a usage error that names the flag. */
export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs | 'help' {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries(command.options)) {
    const { description: _d, valueName: _v, ...rest } = spec;
    options[name] = rest;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]}`, {
      hint: `run: treasury ${command.name.join(' ')} --help`,
    });
  }
  if (parsed.values.help) return 'help';
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function integerOption(args: ParsedArgs, name: string, bounds: { min: number; max: number }) {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw new UsageError(
      `--${name} must be a whole number from ${bounds.min} to ${bounds.max}, got "${raw}"`,
    );
  }
  return value;
}
