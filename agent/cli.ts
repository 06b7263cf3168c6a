import { devnetCommand } from '../contracts/devnetCommand.ts';
import { hubCommand } from '../governance/hub/hubCommand.ts';
import { backtestCommand } from '../strategies/backtest/backtestCommand.ts';
import { agentCommands } from './agentCommands.ts';
import { type Command, type CommandIo, commandUsage, parseCommandArgs, UsageError } from './command.ts';
import { demoCommand } from './demo/demoCommand.ts';
import { describeError, TreasuryError } from './errors.ts';

/** Every `treasury` command. Each module exports one `Command`; this list is the only registry. */
export const commands: Command[] = [
  devnetCommand,
  backtestCommand,
  hubCommand,
  ...agentCommands,
  demoCommand,
];

function topLevelHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.join(' ').length)) + 2;
  return [
    'treasury — the DAO treasury agent',
    '',
    'usage: treasury COMMAND [options]     (treasury COMMAND --help for each)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.join(' ').padEnd(width)} ${c.summary}`),
  ].join('\n');
}

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined;
  for (const command of commands) {
    const matches = command.name.every((word, i) => argv[i] === word);
    if (matches && (!best || command.name.length > best.command.name.length)) {
      best = { command, rest: argv.slice(command.name.length) };
    }
  }
  return best;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. Signals abort `io.signal`. */
export async function main(argv: string[], io?: Partial<CommandIo>): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  const ownSignal = !io?.signal;
  if (ownSignal) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const fullIo: CommandIo = {
    out: io?.out ?? ((line) => process.stdout.write(`${line}\n`)),
    err: io?.err ?? ((line) => process.stderr.write(`${line}\n`)),
    signal: io?.signal ?? controller.signal,
  };
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      fullIo.out(topLevelHelp());
      return argv.length === 0 ? 2 : 0;
    }
    const found = findCommand(argv);
    if (!found) {
      fullIo.err(`✖ unknown command "${argv.join(' ')}"\n\n${topLevelHelp()}`);
      return 2;
    }
    const parsed = parseCommandArgs(found.command, found.rest);
    if (parsed === 'help') {
      fullIo.out(commandUsage(found.command));
      return 0;
    }
    return await found.command.run(parsed, fullIo);
  } catch (error) {
    fullIo.err(`✖ ${describeError(error)}`);
    if (process.env.TREASURY_DEBUG && error instanceof Error && error.stack) fullIo.err(error.stack);
    return error instanceof UsageError ? 2 : error instanceof TreasuryError ? 1 : 1;
  } finally {
    if (ownSignal) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
