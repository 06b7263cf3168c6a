import { readFileSync } from 'node:fs';
import { createRedactor, environmentSecretValues } from '../agent/secrets.ts';
import { editDistance, nearMatch } from '../config/nearMatch.ts';
import { describeError, redactUrlsIn, TreasuryError } from '../shared/errors.ts';
import { type Command, type CommandIo, commandUsage, parseCommandArgs, UsageError } from './command.ts';

/**
 * A command as the registry knows it before loading it: loading pulls in its (heavy) dependencies. `keys: false`
 * marks a command that needs none of the agent's keys: its process never reads them from the environment, not
 * even to redact them (it cannot print what it never read); its config's URL credentials are still redacted.
 */
export type CommandEntry = { name: string[]; summary: string; keys?: false; load: () => Promise<Command> };

/**
 * Every `treasury` command. Only the command that runs is loaded (viem, protocol-kit, snapshot.js and the
 * rest take seconds to import); a test checks that each summary here matches its command's.
 */
export const commands: CommandEntry[] = [
  {
    name: ['devnet'],
    summary:
      'start anvil and deploy the DAO Safe, tokens, Uniswap V2 pools and price feeds; stay up until Ctrl-C',
    load: async () => (await import('./devnetCommand.ts')).devnetCommand,
  },
  {
    name: ['backtest'],
    summary: 'replay the price history with the configured strategy, governance delay, fees and spending',
    load: async () => (await import('./backtestCommand.ts')).backtestCommand,
  },
  {
    name: ['hub'],
    summary: 'run the Snapshot-compatible hub (messages at /, GraphQL at /graphql) until Ctrl-C',
    load: async () => (await import('./hubCommand.ts')).hubCommand,
  },
  ...(
    [
      [
        'once',
        'onceCommand',
        'run one cycle: carry open proposals forward, then observe, decide, draft and propose if due',
      ],
      [
        'run',
        'runCommand',
        "run cycles on the config's cron schedule (UTC, no overlap) until SIGINT/SIGTERM",
      ],
      [
        'watch',
        'watchCommand',
        'watch the Safe on watchdog.cron: owners, threshold, modules, guard, fallback handler and outflows the agent cannot explain pause it and alert',
      ],
      [
        'config validate',
        'configValidateCommand',
        'check a config file and print every problem with its path',
      ],
      ['config schema', 'configSchemaCommand', 'print the JSON Schema of the config file (for editors)'],
      [
        'audit verify',
        'auditVerifyCommand',
        "check the log's hash chain, the ledger's mirror, its anchors on the hub and on chain, and every execution",
      ],
      [
        'audit replay',
        'auditReplayCommand',
        "recompute a decision's plan and safeTxHash from its logged inputs and compare",
      ],
      [
        'audit show',
        'auditShowCommand',
        'print a decision for a person: what, why, who voted, what was executed',
      ],
      [
        'resume',
        'resumeCommand',
        'clear a pause (balances diverged from a plan, or the circuit breaker tripped) after investigating it',
      ],
    ] as const
  ).map(([name, exported, summary]) => ({
    name: name.split(' '),
    summary,
    load: async () => (await import('./agentCommands.ts'))[exported],
  })),
  {
    name: ['preflight'],
    summary:
      'check a config against the chain, the Snapshot space, the Transaction Service and the LLM: one ✔/✖ line each',
    load: async () => (await import('./preflightCommand.ts')).preflightCommand,
  },
  {
    name: ['console'],
    summary:
      'a read-only web console: proposals, votes, the voted Safe transaction, executions, the audit log, backtests',
    keys: false,
    load: async () => (await import('./consoleCommand.ts')).consoleCommand,
  },
  {
    name: ['demo'],
    summary:
      'the whole product offline: local chain + hub + DAO members, a year of real prices at accelerated time',
    load: async () => (await import('./demoCommand.ts')).demoCommand,
  },
];

function commandList(entries: readonly CommandEntry[]): string[] {
  const width = Math.max(...entries.map((c) => c.name.join(' ').length)) + 2;
  return entries.map((c) => `  ${c.name.join(' ').padEnd(width)} ${c.summary}`);
}

function topLevelHelp(): string {
  return [
    'treasury — the DAO treasury agent',
    '',
    'usage: treasury COMMAND [options]     (treasury COMMAND --help for each)',
    '',
    'options:',
    '  --version, -V   print the version',
    '  --help, -h      show this help',
    '',
    'commands:',
    ...commandList(commands),
  ].join('\n');
}

/** The commands whose first word is `group` (`config`, `audit`), when it names a group of sub-commands. */
function groupOf(group: string | undefined): CommandEntry[] {
  return commands.filter((c) => c.name.length > 1 && c.name[0] === group);
}

function groupHelp(group: string, members: readonly CommandEntry[]): string {
  return [
    `treasury ${group} — ${members.length} commands`,
    '',
    `usage: treasury ${group} COMMAND [options]     (treasury ${group} COMMAND --help for each)`,
    '',
    'commands:',
    ...commandList(members),
  ].join('\n');
}

/** The command the words most likely meant: each command compared with as many words as it has. */
function didYouMean(argv: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const command of commands) {
    const name = command.name.join(' ');
    const typed = argv.slice(0, command.name.length).join(' ');
    if (nearMatch(typed, [name]) === undefined) continue;
    const distance = editDistance(typed.toLowerCase(), name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  return best?.name;
}

/** The package's version, read from package.json beside the sources (also from the bundled CLI). */
function packageVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  const version = (JSON.parse(text) as { version?: unknown }).version;
  if (typeof version !== 'string')
    throw new TreasuryError('package.json has no version', { hint: 'reinstall the package' });
  return version;
}

function findCommand(argv: string[]): { command: CommandEntry; rest: string[] } | undefined {
  let best: { command: CommandEntry; rest: string[] } | undefined;
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
  // Everything printed goes through one redactor: the environment's secrets (unless the command reads no keys)
  // and those a command adds (its config's URL credentials), in any encoding it knows (agent/secrets.ts), then
  // credentials in URLs.
  const found = findCommand(argv);
  const secrets = found?.command.keys === false ? [] : environmentSecretValues(process.env);
  let redact = createRedactor(secrets);
  const clean = (line: string) => redactUrlsIn(redact(line));
  const out = io?.out ?? ((line) => process.stdout.write(`${line}\n`));
  const err = io?.err ?? ((line) => process.stderr.write(`${line}\n`));
  const fullIo: CommandIo = {
    out: (line) => out(clean(line)),
    err: (line) => err(clean(line)),
    signal: io?.signal ?? controller.signal,
    tty: io?.tty ?? (io?.out ? false : Boolean(process.stdout.isTTY)),
    addSecrets: (values) => {
      secrets.push(...values);
      redact = createRedactor(secrets);
      io?.addSecrets?.(values);
    },
  };
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      fullIo.out(topLevelHelp());
      return argv.length === 0 ? 2 : 0;
    }
    if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
      fullIo.out(`treasury ${packageVersion()}`);
      return 0;
    }
    if (!found) {
      const group = groupOf(argv[0]);
      const asked = argv.length === 1 || argv[1] === '--help' || argv[1] === '-h';
      if (group.length > 0 && asked) {
        // `treasury config`, `treasury config --help`: the group's commands
        fullIo.out(groupHelp(argv[0]!, group));
        return argv.length === 1 ? 2 : 0;
      }
      const near = didYouMean(argv);
      const words = argv.slice(0, group.length > 0 ? 2 : 1).join(' ');
      fullIo.err(
        `✖ unknown command "${words}"${near ? ` (did you mean ${near}?)` : ''}\n\n${group.length > 0 ? groupHelp(argv[0]!, group) : topLevelHelp()}`,
      );
      return 2;
    }
    const command = await found.command.load();
    const parsed = parseCommandArgs(command, found.rest);
    if (parsed === 'help') {
      fullIo.out(commandUsage(command));
      return 0;
    }
    return await command.run(parsed, fullIo);
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
