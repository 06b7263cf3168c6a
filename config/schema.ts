import cron from 'node-cron';
import { z } from 'zod';
import { GuardrailsSchema } from '../strategies/guardrails.ts';
import { StrategyConfigSchema, unknownStrategySymbols } from '../strategies/registry.ts';
import { AddressSchema, addressProblem } from './addressSchema.ts';

/**
 * The one config file the stewards write (YAML or JSON). Each section is a zod schema; the strategy's own
 * params are validated by the strategy registry (strategies/), the guardrails by the planner's schema.
 * Secrets are never here: keys come from the environment (see agent/secrets.ts).
 */

export { AddressSchema };

export const TokenSymbolSchema = z.string().regex(/^[A-Z][A-Z0-9]{1,9}$/, {
  message: 'token symbols are 2–10 capital letters or digits, e.g. WETH',
});

export const TokenRoleSchema = z.enum(['governance', 'stable', 'risk']);

export const TokenConfigSchema = z.strictObject({
  symbol: TokenSymbolSchema.describe(
    "The token's symbol, e.g. WETH: exactly one token has role governance; USDC is required (every pool pairs with it).",
  ),
  name: z.string().min(1).max(64).optional().describe('Display name.'),
  decimals: z.number().int().min(0).max(36).describe('Base-unit decimals (WBTC 8, USDC 6, most tokens 18).'),
  role: TokenRoleSchema.describe(
    "governance: the DAO's own token; stable: counts toward runway; risk: everything else.",
  ),
  priceAsset: z
    .string()
    .regex(/^[A-Z0-9]{2,10}$/)
    .describe('The asset in the price history (data/prices_daily.csv) this token tracks, e.g. WETH → ETH.'),
  address: AddressSchema.optional().describe(
    'Deployed token; absent on the devnet, where `treasury devnet` deploys it.',
  ),
  feed: AddressSchema.optional().describe('AggregatorV3 price feed (8 decimals); absent on the devnet.'),
});

export const ChainConfigSchema = z.strictObject({
  id: z.number().int().positive().describe('Chain id (1 for Ethereum mainnet, 31337 for the devnet).'),
  rpcUrl: z
    .string()
    .url()
    .describe('JSON-RPC URL. May contain an API key: it is never printed (see redactUrl).'),
  logChunkBlocks: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .optional()
    .describe(
      'Blocks per eth_getLogs request when the agent looks for an execution (from the block the proposal was planned at, never from 0). Public RPCs limit the range (500 to 50,000 blocks): a refused range is halved and asked again, so this only saves the refused requests. Default 5000.',
    ),
});

export const SafeConfigSchema = z
  .strictObject({
    address: AddressSchema.optional().describe(
      "The DAO's Safe; absent on the devnet, where it is deployed from owners and threshold.",
    ),
    owners: z
      .array(AddressSchema)
      .min(1)
      .max(20)
      .describe("The Safe's owner addresses (the agent is one of them)."),
    threshold: z
      .number()
      .int()
      .min(1)
      .describe('Owner signatures the Safe requires; the agent alone stays below it.'),
    agent: AddressSchema.describe("The agent's own address: one owner of the Safe, below threshold."),
    modules: z
      .array(AddressSchema)
      .max(50)
      .optional()
      .describe(
        "Modules the DAO enabled on the Safe on purpose (e.g. a Zodiac Roles modifier): `treasury preflight` fails on any other enabled module, since a module moves funds without the owners' signatures. Default: none.",
      ),
    guard: AddressSchema.optional().describe(
      'The transaction guard the DAO set on the Safe on purpose; `treasury preflight` fails on any other.',
    ),
    contracts: z
      .strictObject({
        safeSingleton: AddressSchema.describe("Safe 1.4.1 singleton (the Safe's logic contract)."),
        safeProxyFactory: AddressSchema.describe('Safe 1.4.1 proxy factory.'),
        multiSend: AddressSchema.describe('Safe 1.4.1 MultiSend.'),
        multiSendCallOnly: AddressSchema.describe(
          'Safe 1.4.1 MultiSendCallOnly: the batch contract of every voted transaction (calls only, no delegatecall).',
        ),
        fallbackHandler: AddressSchema.describe('Safe 1.4.1 compatibility fallback handler.'),
        signMessageLib: AddressSchema.describe('Safe 1.4.1 SignMessageLib.'),
        createCall: AddressSchema.describe('Safe 1.4.1 CreateCall.'),
        simulateTxAccessor: AddressSchema.describe('Safe 1.4.1 SimulateTxAccessor.'),
      })
      .optional()
      .describe(
        'Safe v1.4.1 contract addresses, for chains without an entry in @safe-global/safe-deployments (the devnet fills them in). Default: the canonical deployments of the chain.',
      ),
  })
  .superRefine((safe, ctx) => {
    if (safe.threshold > safe.owners.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['threshold'],
        message: `threshold ${safe.threshold} is above the number of owners (${safe.owners.length})`,
      });
    }
    // In lowercase: an address with a bad checksum (reported at its own path) reaches here as written.
    const owners = safe.owners.map((owner) => owner.toLowerCase());
    if (new Set(owners).size !== owners.length) {
      ctx.addIssue({ code: 'custom', path: ['owners'], message: 'owners must be distinct' });
    }
    if (!addressProblem(safe.agent) && !owners.includes(safe.agent.toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: ['agent'], message: 'the agent must be one of the Safe owners' });
    }
  });

export const DevnetConfigSchema = z.strictObject({
  priceDate: z.iso
    .date()
    .describe('Pools and feeds start at the closing prices of this day of the price history.'),
  treasuryUsd: z.number().positive().max(1e12).describe('Treasury value in USD at `priceDate`.'),
  treasuryMixBps: z
    .record(TokenSymbolSchema, z.number().int().min(0).max(10_000))
    .describe('Share of the treasury per token symbol in basis points, summing to 10,000.'),
  poolDepthUsd: z.number().positive().max(1e12).describe('USD depth of each side of every token/USDC pool.'),
  blockTimeSeconds: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(12)
    .describe("Seconds between blocks' timestamps (stable Uniswap gas figures); 0 lets anvil choose."),
  historyDays: z
    .number()
    .int()
    .min(0)
    .max(3650)
    .optional()
    .describe(
      "Days before priceDate whose closes each feed holds as past rounds, so the agent reads its lookback from the chain; default: the strategy's lookback + 7.",
    ),
});

export const TreasuryConfigSchema = z.strictObject({
  monthlySpendUsd: z
    .number()
    .min(0, { message: 'monthly spend cannot be negative' })
    .describe('What the DAO spends per month, in USD, paid from stablecoins.'),
});

export const GovernanceConfigSchema = z.strictObject({
  hubUrl: z
    .string()
    .url()
    .describe("Snapshot hub: the project's local hub by default, https://hub.snapshot.org in production."),
  space: z.string().min(1).max(64).describe('Snapshot space id, e.g. mydao.eth.'),
  proposalCadenceDays: z
    .number()
    .int()
    .min(1)
    .max(365)
    .default(7)
    .describe('A new proposal at most this often.'),
  votingDelaySeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(0)
    .describe("Seconds from posting to the start of voting (the space's voting delay)."),
  votingPeriodSeconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(3 * 86_400)
    .describe("Seconds from start to end of voting (the space's voting period)."),
  executionDelaySeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(86_400)
    .describe('Seconds after the vote closes before the agent executes (time for co-signers and checks).'),
  quorum: z
    .number()
    .min(0)
    .describe('Votes (in governance tokens, For + Against + Abstain) needed for a result to count.'),
  discussionUrl: z
    .string()
    .url()
    .max(256)
    .optional()
    .describe("Where proposals are discussed (a forum thread or category): the proposal's discussion link."),
});

export const ScheduleConfigSchema = z.strictObject({
  cron: z
    .string()
    .refine((expression) => cron.validate(expression), {
      message: 'not a valid cron expression (5 or 6 fields, e.g. "0 12 * * 1" for Mondays 12:00 UTC)',
    })
    .describe('Five-field cron expression, evaluated in UTC: when `treasury run` starts a cycle.'),
  timezone: z.literal('UTC').default('UTC').describe('Always UTC: cron expressions are evaluated in UTC.'),
});

export const LlmConfigSchema = z.strictObject({
  provider: z
    .enum(['deterministic', 'openai', 'anthropic', 'ollama'])
    .default('deterministic')
    .describe(
      'deterministic: the offline rationale writer (no network, no key). Others need their key in the environment.',
    ),
  model: z
    .string()
    .min(1)
    .optional()
    .describe('Model name for the provider, e.g. gpt-4o-mini, claude-sonnet-4-5, llama3.1.'),
  baseUrl: z.string().url().optional().describe('Base URL (ollama, or an OpenAI-compatible endpoint).'),
  timeoutMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('A reply slower than this falls back to the deterministic writer.'),
  temperature: z
    .number()
    .min(0)
    .max(2)
    .default(0)
    .describe('Sampling temperature of the model (0: the most repeatable).'),
});

export const ObserveConfigSchema = z.strictObject({
  maxFeedAgeSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(2 * 86_400)
    .describe("A feed answer older than this (seconds, by the chain's clock) stops the cycle."),
  maxPoolDeviationBps: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(300)
    .describe("A feed price further than this from the DEX pool's price (basis points) stops the cycle."),
  circuitBreaker: z
    .strictObject({
      maxMoveBps: z
        .number()
        .int()
        .min(1)
        .max(100_000)
        .default(3_000)
        .describe('Governance and risk tokens: the largest move allowed, in bps (3000 = ±30%).'),
      maxStableMoveBps: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .default(300)
        .describe('Stablecoins: the largest move allowed, in bps (300 = ±3%).'),
    })
    .prefault({})
    .describe(
      "Moves against the previous observation (within 36 h) and the price history's last close that pause the agent, even when feed and pool agree; a steward investigates and clears it with `treasury resume`.",
    ),
});

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = (fallback: string) =>
  z.string().regex(ENV_NAME, 'an environment variable name (letters, digits, _)').default(fallback);

export const StateConfigSchema = z.strictObject({
  ledgerPath: z
    .string()
    .min(1)
    .default('out/ledger.db')
    .describe(
      'SQLite ledger (WAL): one row per proposal with its state machine; unused when ledgerUrl is set.',
    ),
  ledgerUrl: z
    .string()
    .url()
    .refine((url) => /^postgres(ql)?:\/\//.test(url), 'a postgres:// or postgresql:// URL')
    .refine((url) => {
      try {
        return new URL(url).password === '';
      } catch {
        return true;
      }
    }, 'no password in the URL: put it in the environment variable keys.ledgerPasswordEnv names (PGPASSWORD)')
    .optional()
    .describe(
      'A PostgreSQL ledger instead of SQLite (`postgres://user@host:5432/db`): several `treasury run` processes share it. The password comes from the environment (keys.ledgerPasswordEnv), not the URL.',
    ),
  ledgerSchema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _, at most 63 characters')
    .optional()
    .describe(
      "The PostgreSQL schema holding this DAO's ledger (default: dao_<chain id>_<Safe address>); each DAO sharing one database has its own.",
    ),
  auditLogPath: z
    .string()
    .min(1)
    .default('out/audit.jsonl')
    .describe('Append-only, hash-chained audit log (JSONL), mirrored in the ledger.'),
  auditLogUrl: z
    .string()
    .url()
    .optional()
    .describe('Where the DAO publishes the audit log for voters and auditors (named in every proposal).'),
});

export const ExecutionConfigSchema = z.strictObject({
  coSigning: z
    .enum(['local-keys', 'safe-transaction-service'])
    .default('local-keys')
    .describe(
      'How co-signatures are collected: with co-signer keys from the environment (the devnet), or by proposing the transaction to the Safe Transaction Service for the other owners (production).',
    ),
  transactionServiceUrl: z.string().url().optional().describe('Safe Transaction Service URL (production).'),
  policySwapper: AddressSchema.optional().describe(
    "PolicySwapper (contracts/solidity/PolicySwapper.sol, no owner): the contract the voted batch calls, which checks each swap's price policy against the feeds when it runs. Absent on the devnet, which deploys it.",
  ),
  deadlineSlackSeconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(2 * 86_400)
    .describe("The swaps' router deadline, in seconds after the planned execution time."),
});

export const WatchdogConfigSchema = z.strictObject({
  cron: z
    .string()
    .refine((expression) => cron.validate(expression), {
      message: 'not a valid cron expression (e.g. "*/5 * * * *" for every five minutes)',
    })
    .default('*/5 * * * *')
    .describe('`treasury watch` checks the Safe this often (cron, UTC); every agent cycle checks it too.'),
  allowances: z
    .array(
      z.strictObject({
        token: TokenSymbolSchema.describe('The token of the expected outflow (a configured symbol).'),
        to: AddressSchema.describe('The recipient of the expected outflow.'),
        maxPerMonth: z
          .number()
          .positive()
          .describe('At most this many whole tokens per calendar month (UTC).'),
        label: z.string().max(64).optional().describe('A name for people, e.g. payroll.'),
      }),
    )
    .default([])
    .describe(
      'Outflows the DAO expects outside proposals (payroll, grants): token, recipient, at most this a month.',
    ),
  webhookUrl: z
    .string()
    .url()
    .optional()
    .describe('Alerts are POSTed here as JSON; the URL may hold a token: it is never printed.'),
});

/**
 * The environment variables holding this DAO's keys (never the keys themselves): DAOs run by one process each
 * name their own, e.g. TREASURY_AGENT_KEY_DAO1.
 */
export const KeysConfigSchema = z.strictObject({
  agentKeyEnv: envName('TREASURY_AGENT_KEY').describe(
    "The environment variable holding the agent's private key.",
  ),
  coSignerKeysEnv: envName('TREASURY_COSIGNER_KEYS').describe(
    "The environment variable holding the co-signers' keys, comma-separated (devnet, execution.coSigning: local-keys).",
  ),
  safeApiKeyEnv: envName('TREASURY_SAFE_API_KEY').describe(
    'The environment variable holding the Safe Transaction Service API key.',
  ),
  snapshotApiKeyEnv: envName('TREASURY_SNAPSHOT_API_KEY').describe(
    'The environment variable holding the Snapshot API key.',
  ),
  ledgerPasswordEnv: envName('PGPASSWORD').describe(
    "The environment variable holding the PostgreSQL ledger's password (state.ledgerUrl).",
  ),
});

export const TreasuryAgentConfigSchema = z
  .strictObject({
    chain: ChainConfigSchema.describe('The chain the Safe lives on and how to reach it.'),
    safe: SafeConfigSchema.describe(
      "The DAO's Safe: its owners, threshold, the agent, expected modules and guard.",
    ),
    tokens: z
      .array(TokenConfigSchema)
      .min(2)
      .max(64)
      .describe(
        'The tokens the treasury holds and may trade, each with its decimals, role, price asset and feed.',
      ),
    treasury: TreasuryConfigSchema.describe('What the DAO spends: the runway is counted from it.'),
    governance: GovernanceConfigSchema.describe(
      'The Snapshot space, its voting timing and quorum, and the proposal cadence.',
    ),
    mode: z
      .enum(['shadow', 'live'])
      .default('shadow')
      .describe(
        'shadow: observe, decide, draft and log, but post nothing and execute nothing. live: the whole cycle.',
      ),
    schedule: ScheduleConfigSchema.prefault({ cron: '0 12 * * 1' }).describe(
      'When `treasury run` starts a cycle.',
    ),
    llm: LlmConfigSchema.prefault({}).describe(
      'The model that writes the rationale (figures always come from the plan), or the deterministic writer.',
    ),
    observe: ObserveConfigSchema.prefault({}).describe(
      'What the agent accepts from the feeds and pools before deciding: freshness, pool deviation, circuit breaker.',
    ),
    state: StateConfigSchema.prefault({}).describe(
      'Where the ledger and the audit log are kept, and published.',
    ),
    keys: KeysConfigSchema.prefault({}).describe(
      "Which environment variables hold this DAO's keys (never the keys themselves).",
    ),
    execution: ExecutionConfigSchema.prefault({}).describe(
      "How a passed proposal executes: co-signing, PolicySwapper, the swaps' deadline.",
    ),
    watchdog: WatchdogConfigSchema.prefault({}).describe(
      "The treasury watchdog: what may change the Safe or move its funds besides the agent's proposals.",
    ),
    router: AddressSchema.optional().describe(
      'Uniswap V2 router the executor may call; absent on the devnet.',
    ),
    devnet: DevnetConfigSchema.optional().describe(
      'The local devnet only (`treasury devnet`, the demo): the day, treasury and pools it starts from.',
    ),
    strategy: StrategyConfigSchema.optional().describe(
      'The allocation strategy and its overlays (strategies/registry.ts); required to plan or backtest.',
    ),
    guardrails: GuardrailsSchema.prefault({}).describe(
      'Limits every plan respects (strategies/guardrails.ts); defaults apply when absent.',
    ),
  })
  .superRefine((config, ctx) => {
    const symbols = config.tokens.map((t) => t.symbol);
    const seen = new Set<string>();
    symbols.forEach((symbol, i) => {
      if (seen.has(symbol)) {
        ctx.addIssue({ code: 'custom', path: ['tokens', i, 'symbol'], message: `duplicate token ${symbol}` });
      }
      seen.add(symbol);
    });
    const governance = config.tokens.filter((t) => t.role === 'governance');
    if (governance.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokens'],
        message: 'exactly one token must have role governance',
      });
    }
    if (config.strategy) {
      for (const issue of unknownStrategySymbols(config.strategy, symbols)) {
        ctx.addIssue({ code: 'custom', path: ['strategy', ...issue.path], message: issue.message });
      }
    }
    const guardrailSymbols: Array<[(string | number)[], string]> = [
      ...Object.keys(config.guardrails.maxTradeBpsPerAsset).map((s): [string[], string] => [
        ['maxTradeBpsPerAsset', s],
        s,
      ]),
      ...(config.guardrails.allowlist ?? []).map((s, i): [(string | number)[], string] => [
        ['allowlist', i],
        s,
      ]),
    ];
    for (const [path, symbol] of guardrailSymbols) {
      if (!symbols.includes(symbol)) {
        ctx.addIssue({
          code: 'custom',
          path: ['guardrails', ...path],
          message: `unknown token ${symbol} (configured: ${symbols.join(', ')})`,
        });
      }
    }
    if (!config.tokens.some((t) => t.symbol === 'USDC')) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokens'],
        message: 'USDC is required: every pool pairs a token with USDC',
      });
    }
    if (config.devnet) {
      let total = 0;
      for (const [symbol, bps] of Object.entries(config.devnet.treasuryMixBps)) {
        total += bps;
        if (!symbols.includes(symbol)) {
          ctx.addIssue({
            code: 'custom',
            path: ['devnet', 'treasuryMixBps', symbol],
            message: `unknown token ${symbol} (configured: ${symbols.join(', ')})`,
          });
        }
      }
      if (total !== 10_000) {
        ctx.addIssue({
          code: 'custom',
          path: ['devnet', 'treasuryMixBps'],
          message: `weights must add up to 10000 basis points, got ${total}`,
        });
      }
    } else {
      config.tokens.forEach((token, i) => {
        if (!token.address)
          ctx.addIssue({
            code: 'custom',
            path: ['tokens', i, 'address'],
            message: 'required outside the devnet',
          });
        if (!token.feed)
          ctx.addIssue({
            code: 'custom',
            path: ['tokens', i, 'feed'],
            message: 'required outside the devnet',
          });
      });
      if (!config.safe.address)
        ctx.addIssue({ code: 'custom', path: ['safe', 'address'], message: 'required outside the devnet' });
      if (!config.router)
        ctx.addIssue({ code: 'custom', path: ['router'], message: 'required outside the devnet' });
      if (!config.execution.policySwapper) {
        ctx.addIssue({
          code: 'custom',
          path: ['execution', 'policySwapper'],
          message: 'required outside the devnet (deploy contracts/solidity/PolicySwapper.sol once per chain)',
        });
      }
    }
  });

export type TreasuryAgentConfig = z.infer<typeof TreasuryAgentConfigSchema>;
export type TokenConfig = z.infer<typeof TokenConfigSchema>;
export type LlmConfig = z.infer<typeof LlmConfigSchema>;
export type GovernanceConfig = z.infer<typeof GovernanceConfigSchema>;
export type DevnetConfig = z.infer<typeof DevnetConfigSchema>;
