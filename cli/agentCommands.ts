import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { z } from 'zod';
import { AuditLog, parseAuditLog } from '../agent/auditLog.ts';
import { type AuditSources, replayDecision, showDecision, verifyAudit } from '../agent/auditTools.ts';
import { clearPause, runCycle } from '../agent/cycle.ts';
import { runLoggedCycle } from '../agent/cycleLog.ts';
import { describeLedgerLocation, ledgerLocationOf, openLedger } from '../agent/ledger.ts';
import { buildRuntime } from '../agent/runtime.ts';
import { startSchedule } from '../agent/scheduler.ts';
import { configSecrets, environmentSecretValues, readSecrets, urlCredentials } from '../agent/secrets.ts';
import { loadConfig, parseConfig } from '../config/loadConfig.ts';
import { TreasuryAgentConfigSchema } from '../config/schema.ts';
import { makePublicClient } from '../contracts/chainClients.ts';
import { chainClock, systemClock } from '../governance/clock.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { ConfigError, describeError, TreasuryError } from '../shared/errors.ts';
import { type Command, integerOption, stringOption, UsageError } from './command.ts';
import { fleetOnce, fleetOptions, fleetRun } from './fleetCommand.ts';
import { createCommandLogger } from './logger.ts';

const agentOptions = {
  config: { type: 'string' as const, valueName: 'FILE', description: 'the agent config (YAML or JSON)' },
  prices: {
    type: 'string' as const,
    valueName: 'FILE',
    description: "take the lookback from this price CSV instead of the feeds' rounds on chain",
  },
};

/** Loads the config, builds the runtime from the environment, runs `body`, and always closes the ledger. */
async function withRuntime(
  args: Parameters<Command['run']>[0],
  io: Parameters<Command['run']>[1],
  body: (runtime: Awaited<ReturnType<typeof buildRuntime>>) => Promise<number>,
  options: { printEvents?: boolean } = {},
): Promise<number> {
  const path = stringOption(args, 'config');
  if (!path)
    throw new UsageError('--config FILE is required', { hint: 'e.g. --config config/examples/devnet.yaml' });
  const config = await loadConfig(path);
  io.addSecrets?.([...configSecrets(config), ...environmentSecretValues(process.env, config.keys)]);
  const runtime = await buildRuntime({
    config,
    env: process.env,
    pricesPath: stringOption(args, 'prices'),
    log: options.printEvents === false ? undefined : io.out,
  });
  try {
    return await body(runtime);
  } finally {
    await runtime.close();
  }
}

export const onceCommand: Command = {
  name: ['once'],
  summary: 'run one cycle: carry open proposals forward, then observe, decide, draft and propose if due',
  options: { ...agentOptions, ...fleetOptions },
  help: [
    'Keys come from the environment: TREASURY_AGENT_KEY (and TREASURY_COSIGNER_KEYS on the devnet), or the',
    "variables the config's keys section names. mode: shadow in the config posts nothing and executes nothing.",
    '--configs DIR: one cycle of every DAO in the folder (exit 1 if any failed, each named).',
  ],
  run: (args, io) =>
    stringOption(args, 'configs')
      ? fleetOnce(args, io)
      : withRuntime(args, io, async (runtime) => {
          const report = await runCycle(runtime);
          if (report.events.length === 0) io.out('nothing to do');
          return 0;
        }),
};

export const runCommand: Command = {
  name: ['run'],
  summary: "run cycles on the config's cron schedule (UTC, no overlap) until SIGINT/SIGTERM",
  options: {
    ...agentOptions,
    ...fleetOptions,
    queue: {
      type: 'string' as const,
      valueName: 'URL',
      description:
        'with --configs: share the DAOs with every runner using this PostgreSQL (postgres://…; password in PGPASSWORD)',
    },
  },
  help: [
    'SIGTERM lets the running cycle finish its step, then closes the ledger. A restart resumes open proposals.',
    '--configs DIR: every DAO in the folder on its own schedule in this process; one failing never stops another.',
    '--queue URL (with --configs and PostgreSQL ledgers): runners on several machines split the DAOs, one runner',
    'per DAO and tick.',
  ],
  run: (args, io) =>
    stringOption(args, 'configs')
      ? fleetRun(args, io)
      : withRuntime(
          args,
          io,
          async (runtime) => {
            const config = runtime.config;
            const log = await createCommandLogger(io, 'run');
            const space = config.governance.space;
            const schedule = startSchedule({
              cron: config.schedule.cron,
              signal: io.signal,
              // One line per cycle, its events inside it (agent/cycleLog.ts).
              cycle: async () => {
                await runLoggedCycle(runtime, log);
              },
              onSkip: (reason) => log.warn({ space }, `${space}: tick skipped: ${reason}`),
              onError: (error) =>
                log.error(
                  { space, error: describeError(error) },
                  `${space}: schedule: ${describeError(error)}`,
                ),
            });
            const next = schedule.nextRun()?.toISOString() ?? null;
            log.info(
              { space, cron: config.schedule.cron, mode: config.mode, next },
              `${space}: running on "${config.schedule.cron}" (UTC), mode ${config.mode}; next cycle ${next ?? '—'}`,
            );
            await schedule.done;
            log.info({ space }, `${space}: stopped; ledger closed`);
            return 0;
          },
          { printEvents: false },
        ),
};

export const watchCommand: Command = {
  name: ['watch'],
  summary:
    'watch the Safe on watchdog.cron: owners, threshold, modules, guard, fallback handler and outflows the agent cannot explain pause it and alert',
  options: agentOptions,
  help: [
    'Runs only the watchdog (every agent cycle runs it too), at its own faster cadence. Anything unexplained is',
    'an audit record, a pause (`treasury resume` clears it) and an alert, printed and POSTed to watchdog.webhookUrl.',
  ],
  run: (args, io) =>
    withRuntime(args, io, async (runtime) => {
      const { runWatchdog } = await import('../agent/watchdog.ts');
      const cron = runtime.config.watchdog.cron;
      const schedule = startSchedule({
        cron,
        signal: io.signal,
        cycle: async () => {
          const report = await runWatchdog({ ...runtime, log: io.out }, await runtime.clock());
          if (!report.alerted)
            io.out(
              `watchdog: blocks ${report.fromBlock}–${report.toBlock} checked, ${report.findings.length ? `${report.findings.length} known finding(s), already reported` : 'nothing unexplained'}`,
            );
        },
        onSkip: (reason) => io.err(`tick skipped: ${reason}`),
        onError: (error) => io.err(`✖ watchdog failed: ${describeError(error)}`),
      });
      io.out(
        `watching ${runtime.config.safe.address} on "${cron}" (UTC); next look ${schedule.nextRun()?.toISOString() ?? '—'}`,
      );
      await schedule.done;
      io.out('stopped; ledger closed');
      return 0;
    }),
};

export const configValidateCommand: Command = {
  name: ['config', 'validate'],
  summary: 'check a config file and print every problem with its path',
  positionals: ['FILE'],
  options: {},
  async run(args, io) {
    const path = args.positionals[0];
    if (!path) throw new UsageError('which file?', { hint: 'treasury config validate FILE' });
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new TreasuryError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`, {
        hint: 'pass an existing file',
      });
    }
    try {
      const config = parseConfig(text, path);
      io.out(
        `✔ ${path} is valid (mode ${config.mode}, strategy ${config.strategy?.id ?? 'none'}, ${config.tokens.length} tokens)`,
      );
      return 0;
    } catch (error) {
      // Every problem on stdout, one a line; what is wrong overall (and what to do) on stderr.
      if (error instanceof ConfigError) {
        for (const line of error.details) io.out(line);
        io.err(`✖ ${error.hint ? `${error.shortMessage} → ${error.hint}` : error.shortMessage}`);
        return 1;
      }
      throw error;
    }
  },
};

export const configSchemaCommand: Command = {
  name: ['config', 'schema'],
  summary: 'print the JSON Schema of the config file (for editors)',
  options: {},
  async run(_args, io) {
    const schema = z.toJSONSchema(TreasuryAgentConfigSchema, { io: 'input', unrepresentable: 'any' });
    io.out(JSON.stringify(schema, null, 2));
    return 0;
  },
};

const logOption = {
  log: { type: 'string' as const, valueName: 'FILE', description: 'audit log (default: out/audit.jsonl)' },
};

async function readLog(args: Parameters<Command['run']>[0], fallback?: string) {
  const path = stringOption(args, 'log') ?? fallback ?? 'out/audit.jsonl';
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TreasuryError(`cannot read the audit log ${path}: ${(error as NodeJS.ErrnoException).code}`, {
      hint: 'pass --log FILE',
    });
  }
  return { path, records: parseAuditLog(text, path) };
}

export const auditVerifyCommand: Command = {
  name: ['audit', 'verify'],
  summary:
    "check the log's hash chain, the ledger's mirror, its anchors on the hub and on chain, and every execution",
  options: {
    ...logOption,
    rpc: {
      type: 'string',
      valueName: 'URL',
      description: 'JSON-RPC to check executed transactions on (default: none, chain check skipped)',
    },
    ledger: {
      type: 'string',
      valueName: 'FILE',
      description: "the agent's ledger, whose mirror of the log is compared with the file",
    },
    config: {
      type: 'string',
      valueName: 'FILE',
      description:
        "or everything from the agent's config: the log, the ledger, the RPC, the hub's proposals, PolicySwapper",
    },
    'from-block': {
      type: 'string',
      valueName: 'N',
      description:
        "scan PolicySwapper's executions from block N (default: the earliest snapshot block of the agent's proposals)",
    },
  },
  help: [
    'With --config, the file is compared with the ledger the agent mirrors it into, with the audit heads the hub',
    "keeps in the agent's proposals, and with the decisions PolicySwapper executed for the Safe: a truncated or",
    'replaced log disagrees with at least one of them.',
  ],
  async run(args, io) {
    const configPath = stringOption(args, 'config');
    const config = configPath ? await loadConfig(configPath) : undefined;
    const { path, records } = await readLog(args, config?.state.auditLogPath);
    const rpc = stringOption(args, 'rpc') ?? config?.chain.rpcUrl;
    io.addSecrets?.(urlCredentials(rpc));
    const client = rpc ? makePublicClient(Number.parseInt(await chainIdOf(rpc), 16), rpc) : undefined;
    const ledgerFile = stringOption(args, 'ledger');
    const location = ledgerFile
      ? ({ kind: 'sqlite', path: ledgerFile } as const)
      : config
        ? ledgerLocationOf(config, readSecrets(process.env, config.keys).ledgerPassword)
        : undefined;
    let mirror: { seq: number; hash: string }[] | undefined;
    if (location) {
      if (location.kind === 'sqlite' && !existsSync(location.path)) {
        throw new TreasuryError(`no ledger at ${describeLedgerLocation(location)}`, {
          hint: 'pass the ledger the agent used (--ledger FILE, or state.ledgerPath in --config)',
        });
      }
      const ledger = await openLedger(location, { readOnly: true });
      try {
        mirror = await ledger.auditRecords();
      } finally {
        await ledger.close();
      }
    }
    let hub: AuditSources['hub'];
    let anchors: AuditSources['anchors'];
    let unscanned: string | undefined;
    const fromBlockOption = integerOption(args, 'from-block', { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (config) {
      const reader = createSnapshotClient({
        hubUrl: config.governance.hubUrl,
        account: privateKeyToAccount(generatePrivateKey()),
        apiKey: readSecrets(process.env, config.keys).snapshotApiKey,
      });
      const proposals = await reader.listProposals(config.governance.space, { first: 1000, state: 'all' });
      hub = { proposals, agent: config.safe.agent };
      const own = proposals.filter((p) => p.author.toLowerCase() === config.safe.agent.toLowerCase());
      // The scan starts where the agent's first proposal was planned: public RPCs refuse to serve logs from
      // block 0, and scanning all of a live chain in chunks would take thousands of requests.
      const earliest = own.reduce((min, p) => Math.min(min, p.snapshot ?? min), Number.POSITIVE_INFINITY);
      const fromBlock =
        fromBlockOption ?? (Number.isFinite(earliest) ? earliest : config.chain.id === 31337 ? 0 : undefined);
      if (config.execution.policySwapper && config.safe.address) {
        if (fromBlock === undefined) {
          unscanned =
            '  · decisions executed on chain not scanned: the hub has no proposal of the agent to start from (pass --from-block N, e.g. the block PolicySwapper was deployed at)';
        } else {
          anchors = {
            swapper: config.execution.policySwapper,
            safe: config.safe.address,
            fromBlock: BigInt(fromBlock),
            chunkBlocks: config.chain.logChunkBlocks ? BigInt(config.chain.logChunkBlocks) : undefined,
          };
        }
      }
    }
    const result = await verifyAudit(records, { client, mirror, hub, anchors });
    const mark = (problems: string[]) => (problems.length === 0 ? '✔' : '✖');
    io.out(`${path}: ${result.chain.count} records, hash chain ${result.chain.ok ? 'intact' : 'BROKEN'}`);
    for (const problem of result.chain.problems) io.out(`  ✖ ${problem}`);
    if (result.mirror.checked) {
      io.out(
        `  ${mark(result.mirror.problems)} the ledger's mirror ${result.mirror.problems.length ? 'disagrees' : 'agrees'}`,
      );
      for (const problem of result.mirror.problems) io.out(`    ✖ ${problem}`);
    } else {
      io.out("  · the ledger's mirror not compared (no --ledger or --config)");
    }
    io.out(
      `  ${mark(result.decisions.problems)} ${result.decisions.checked} decisions replay to their decision hash`,
    );
    for (const problem of result.decisions.problems) io.out(`    ✖ ${problem}`);
    if (result.hub) {
      io.out(
        `  ${mark(result.hub.problems)} ${result.hub.checked} audit heads anchored in the agent's proposals on the hub`,
      );
      for (const problem of result.hub.problems) io.out(`    ✖ ${problem}`);
    }
    if (result.onChain) {
      io.out(
        `  ${mark(result.onChain.problems)} ${result.onChain.checked} decisions executed on chain, each in the log`,
      );
      for (const problem of result.onChain.problems) io.out(`    ✖ ${problem}`);
    }
    if (unscanned) io.out(unscanned);
    for (const e of result.executed)
      io.out(
        `  ${e.onChain === 'verified' ? '✔' : e.onChain === 'skipped' ? '·' : '✖'} ${e.id} executed ${e.transactionHash}: ${e.onChain === 'skipped' ? 'on-chain check skipped (no --rpc or --config)' : e.onChain}`,
      );
    io.out(result.ok ? '✔ audit log verifies' : '✖ audit log does NOT verify');
    return result.ok ? 0 : 1;
  },
};

async function chainIdOf(rpc: string): Promise<string> {
  try {
    const response = await fetch(rpc, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    });
    return ((await response.json()) as { result: string }).result;
  } catch (error) {
    throw new TreasuryError('the --rpc node does not answer', {
      cause: error,
      hint: 'start it or drop --rpc',
    });
  }
}

/** `audit replay|show ID [--log FILE]`: the record id (required) and the parsed log. */
async function readRecordArgs(args: Parameters<Command['run']>[0], verb: 'replay' | 'show') {
  const id = args.positionals[0];
  if (!id) throw new UsageError('which record?', { hint: `treasury audit ${verb} rec-000001` });
  return { id, ...(await readLog(args)) };
}

export const auditReplayCommand: Command = {
  name: ['audit', 'replay'],
  summary: "recompute a decision's plan and safeTxHash from its logged inputs and compare",
  positionals: ['ID'],
  options: logOption,
  async run(args, io) {
    const { id, records } = await readRecordArgs(args, 'replay');
    const result = replayDecision(records, id);
    io.out(`${id}: logged ${result.logged.swaps} swaps, safeTxHash ${result.logged.safeTxHash ?? '—'}`);
    io.out(`${id}: replayed ${result.replayed.swaps} swaps, safeTxHash ${result.replayed.safeTxHash ?? '—'}`);
    for (const d of result.differences) io.out(`  ✖ ${d}`);
    io.out(result.matches ? '✔ replay matches the log exactly' : '✖ replay does NOT match');
    return result.matches ? 0 : 1;
  },
};

export const auditShowCommand: Command = {
  name: ['audit', 'show'],
  summary: 'print a decision for a person: what, why, who voted, what was executed',
  positionals: ['ID'],
  options: logOption,
  async run(args, io) {
    const { id, records } = await readRecordArgs(args, 'show');
    for (const line of showDecision(records, id)) io.out(line);
    return 0;
  },
};

export const resumeCommand: Command = {
  name: ['resume'],
  summary:
    'clear a pause (balances diverged from a plan, or the circuit breaker tripped) after investigating it',
  options: {
    config: agentOptions.config,
    note: {
      type: 'string',
      valueName: 'TEXT',
      description: 'why it is cleared (what was investigated), kept in the audit record',
    },
    by: {
      type: 'string',
      valueName: 'NAME',
      description: "who clears it, kept in the audit record (default: this system's user name)",
    },
  },
  help: [
    'Appends a `resumed` record to the audit log: why the agent was paused, who cleared it, when, and the note.',
    'Example: treasury resume --config agent.yaml --by alice --note "feed outage on 2026-11-20, prices confirmed"',
  ],
  async run(args, io) {
    const path = stringOption(args, 'config');
    if (!path)
      throw new UsageError('--config FILE is required', { hint: 'the config whose ledger is paused' });
    const config = await loadConfig(path);
    io.addSecrets?.(configSecrets(config));
    const ledger = await openLedger(
      ledgerLocationOf(config, readSecrets(process.env, config.keys).ledgerPassword),
    );
    try {
      // (awaited: the ledger and the audit log are asynchronous behind the fleet's ledger port)
      if (!(await ledger.getState('paused'))) {
        io.out('the agent is not paused');
        return 0;
      }
      // The log is verified (chain and the ledger's mirror) before anything changes: a log that does not verify
      // stops the resume as it would stop the agent.
      const audit = await AuditLog.open(config.state.auditLogPath, ledger);
      // the agent's clock: the chain's on the devnet (its records are in chain time), the wall clock elsewhere
      const at = await (config.chain.id === 31337 ? chainClock(config.chain.rpcUrl) : systemClock)();
      const reason = (await clearPause(ledger))!;
      const by = stringOption(args, 'by') ?? userInfo().username;
      const note = stringOption(args, 'note') ?? null;
      const record = await audit.append('resumed', { pausedBecause: reason, by, note }, at);
      io.out(`paused because: ${reason}`);
      io.out(
        `pause cleared by ${by}${note ? ` (${note})` : ''}: the next cycle runs normally (audit record ${record.id})`,
      );
      return 0;
    } finally {
      await ledger.close();
    }
  },
};
