import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { loadConfig, parseConfig } from '../config/loadConfig.ts';
import { TreasuryAgentConfigSchema } from '../config/schema.ts';
import { makePublicClient } from '../contracts/chainClients.ts';
import { parseAuditLog } from './auditLog.ts';
import { replayDecision, showDecision, verifyAudit } from './auditTools.ts';
import { type Command, stringOption, UsageError } from './command.ts';
import { runCycle } from './cycle.ts';
import { ConfigError, describeError, TreasuryError } from './errors.ts';
import { Ledger } from './ledger.ts';
import { buildRuntime } from './runtime.ts';
import { startSchedule } from './scheduler.ts';
import { configSecrets, urlCredentials } from './secrets.ts';

const agentOptions = {
  config: { type: 'string' as const, valueName: 'FILE', description: 'the agent config (YAML or JSON)' },
  prices: { type: 'string' as const, valueName: 'FILE', description: 'price history CSV (lookbacks)' },
};

/** Loads the config, builds the runtime from the environment, runs `body`, and always closes the ledger. */
async function withRuntime(
  args: Parameters<Command['run']>[0],
  io: Parameters<Command['run']>[1],
  body: (runtime: Awaited<ReturnType<typeof buildRuntime>>) => Promise<number>,
): Promise<number> {
  const path = stringOption(args, 'config');
  if (!path)
    throw new UsageError('--config FILE is required', { hint: 'e.g. --config config/examples/devnet.yaml' });
  const config = await loadConfig(path);
  io.addSecrets?.(configSecrets(config));
  const runtime = await buildRuntime({
    config,
    env: process.env,
    pricesPath: stringOption(args, 'prices'),
    log: io.out,
  });
  try {
    return await body(runtime);
  } finally {
    runtime.close();
  }
}

export const onceCommand: Command = {
  name: ['once'],
  summary: 'run one cycle: carry open proposals forward, then observe, decide, draft and propose if due',
  options: agentOptions,
  help: [
    'Keys come from the environment: TREASURY_AGENT_KEY (and TREASURY_COSIGNER_KEYS on the devnet).',
    'mode: shadow in the config posts nothing and executes nothing.',
  ],
  run: (args, io) =>
    withRuntime(args, io, async (runtime) => {
      const report = await runCycle(runtime);
      if (report.events.length === 0) io.out('nothing to do');
      return 0;
    }),
};

export const runCommand: Command = {
  name: ['run'],
  summary: "run cycles on the config's cron schedule (UTC, no overlap) until SIGINT/SIGTERM",
  options: agentOptions,
  help: [
    'SIGTERM lets the running cycle finish its step, then closes the ledger. A restart resumes open proposals.',
  ],
  run: (args, io) =>
    withRuntime(args, io, async (runtime) => {
      const config = runtime.config;
      const schedule = startSchedule({
        cron: config.schedule.cron,
        signal: io.signal,
        cycle: async () => {
          await runCycle(runtime);
        },
        onSkip: (reason) => io.err(`tick skipped: ${reason}`),
        onError: (error) => io.err(`✖ cycle failed: ${describeError(error)}`),
      });
      io.out(
        `running on "${config.schedule.cron}" (UTC), mode ${config.mode}; next cycle ${schedule.nextRun()?.toISOString() ?? '—'}`,
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

async function readLog(args: Parameters<Command['run']>[0]) {
  const path = stringOption(args, 'log') ?? 'out/audit.jsonl';
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
  summary: "check the log's hash chain and that every executed transaction is on chain with its safeTxHash",
  options: {
    ...logOption,
    rpc: {
      type: 'string',
      valueName: 'URL',
      description: 'JSON-RPC to check executed transactions on (default: none, chain check skipped)',
    },
    config: {
      type: 'string',
      valueName: 'FILE',
      description: "or take the chain's RPC from the agent's config",
    },
  },
  async run(args, io) {
    const { path, records } = await readLog(args);
    const configPath = stringOption(args, 'config');
    const rpc =
      stringOption(args, 'rpc') ?? (configPath ? (await loadConfig(configPath)).chain.rpcUrl : undefined);
    io.addSecrets?.(urlCredentials(rpc));
    const client = rpc ? makePublicClient(Number.parseInt(await chainIdOf(rpc), 16), rpc) : undefined;
    const result = await verifyAudit(records, client);
    io.out(`${path}: ${result.chain.count} records, hash chain ${result.chain.ok ? 'intact' : 'BROKEN'}`);
    for (const problem of result.chain.problems) io.out(`  ✖ ${problem}`);
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
  summary: 'clear a pause (set when balances diverged from a plan) after investigating it',
  options: { config: agentOptions.config },
  async run(args, io) {
    const path = stringOption(args, 'config');
    if (!path)
      throw new UsageError('--config FILE is required', { hint: 'the config whose ledger is paused' });
    const config = await loadConfig(path);
    io.addSecrets?.(configSecrets(config));
    const ledger = Ledger.open(config.state.ledgerPath);
    try {
      const reason = ledger.getState('paused');
      if (!reason) {
        io.out('the agent is not paused');
        return 0;
      }
      io.out(`paused because: ${reason}`);
      ledger.clearState('paused');
      io.out('pause cleared: the next cycle runs normally');
      return 0;
    } finally {
      ledger.close();
    }
  },
};
