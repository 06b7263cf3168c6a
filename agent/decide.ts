import { type Address, type Hex, keccak256, stringToHex } from 'viem';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import {
  buildPolicyBatchTx,
  type PolicyBatchTx,
  type PolicyDecision,
  type PolicyOrder,
} from '../contracts/safeTransaction.ts';
import { ConfigError } from '../shared/errors.ts';
import type { Plan } from '../strategies/planner.ts';
import { planRebalance } from '../strategies/planner.ts';
import type { PriceHistory } from '../strategies/priceHistory.ts';
import { FEED_DECIMALS } from '../strategies/pricePolicy.ts';
import { configureStrategy } from '../strategies/registry.ts';
import { buildSnapshot } from '../strategies/snapshot.ts';
import type { MarketSnapshot, TokenInfo, WeightsBps } from '../strategies/types.ts';
import type { PoolReserves } from '../strategies/uniswap.ts';
import { canonicalJson, sha256Hex } from './auditLog.ts';
import type { HistoryProvenance } from './marketHistory.ts';
import type { Observation } from './observe.ts';

/**
 * decide: a pure function of what was observed. The strategy maps (snapshot, holdings, params) to target
 * weights; the planner maps (holdings, targets, prices, pools, guardrails) to swaps; the swaps become one
 * Safe transaction with its safeTxHash. Everything here is recorded in the audit log and `audit replay`
 * runs this same function on the logged inputs.
 */

/** The inputs of a decision, as logged (JSON-safe: bigints as strings). */
export type DecisionInputs = {
  at: number;
  /** ISO day of the market snapshot (the history's closes up to the day before `at`, feed prices of `at`). */
  asOf: string;
  configHash: string;
  strategy: { id: string; version: string; description: string; config: unknown };
  guardrails: unknown;
  monthlySpendUsd: number;
  tokens: (TokenInfo & { address: Address; feed: Address })[];
  /** Closes per day, oldest first; null where the history has no price (JSON has no NaN). */
  snapshot: {
    prices: Record<string, number>;
    closes: Record<string, (number | null)[]>;
    lookbackDays: number;
  };
  /** Where the closes came from: the feeds' rounds (with each day's round id) or a price file. */
  history?: HistoryProvenance;
  holdings: Record<string, string>;
  pools: Record<string, { reserveToken: string; reserveUsdc: string }>;
  safe: { address: Address; nonce: string; chainId: number };
  contracts: { router: Address; factory: Address; multiSendCallOnly: Address; swapper: Address };
  /** What every swap's policy asks of the feeds at execution. */
  policy: { maxFeedAgeSeconds: number; feedDecimals: number };
  /**
   * The voted batch runs only inside [validAfter, deadline] (unix seconds). validAfter is the drafting time, so
   * the exact voted calls can be simulated when drafted; that they run only after a passed vote is what the
   * agent and the co-signers (the Safe's threshold) enforce.
   */
  validAfter: string;
  deadline: string;
};

export type Decision = {
  inputs: DecisionInputs;
  targets: WeightsBps;
  plan: Plan;
  /**
   * keccak256 of the decision (its inputs, targets and plan, canonical JSON): in the voted calldata, and in the
   * PolicySwapper's event when it executes, so every executed decision is anchored on chain. It cannot hold
   * the safeTxHash (that hashes the calldata holding it); the audit record holds both.
   */
  decisionHash: Hex;
  /** The swaps as PolicySwapper orders (absent fields: none; empty when there is nothing to trade). */
  policyDecision: PolicyDecision;
  /** Absent when the plan has no swaps: no trade list, no proposal. */
  tx?: PolicyBatchTx;
};

export const DAY_SECONDS = 86_400;

/** The hash of the config that decided (secrets are never in it). */
export function configHash(config: TreasuryAgentConfig): string {
  return sha256Hex(canonicalJson(config));
}

/** When the voted transaction stops being valid: voting, the execution delay, and some slack. */
export function swapDeadline(config: TreasuryAgentConfig, at: number): bigint {
  const g = config.governance;
  return BigInt(
    at +
      g.votingDelaySeconds +
      g.votingPeriodSeconds +
      g.executionDelaySeconds +
      config.execution.deadlineSlackSeconds,
  );
}

/**
 * Gathers the inputs of a decision from an observation and the price history (closes before today: from the
 * feeds' rounds for the agent, see agent/marketHistory.ts), with where that history came from.
 */
export function decisionInputs(params: {
  config: TreasuryAgentConfig;
  observation: Observation;
  history: PriceHistory;
  provenance?: HistoryProvenance;
  contracts: DecisionInputs['contracts'];
}): DecisionInputs {
  const { config, observation, history } = params;
  if (!config.strategy)
    throw new ConfigError('the config has no strategy', { hint: 'add a strategy section' });
  const strategy = configureStrategy(config.strategy);
  const tokens = config.tokens.map((t) => ({
    symbol: t.symbol,
    decimals: t.decimals,
    role: t.role,
    priceAsset: t.priceAsset,
    address: t.address!,
    feed: t.feed!,
  }));
  const today = Math.floor(observation.at / DAY_SECONDS);
  // History up to yesterday's close (no look-ahead), today's price from the checked feeds.
  const historical = buildSnapshot(history, tokens, today - 1, strategy.lookbackDays);
  const prices = Object.fromEntries(Object.values(observation.prices).map((p) => [p.symbol, p.usd]));
  return {
    at: observation.at,
    asOf: historical.asOf,
    configHash: configHash(config),
    strategy: {
      id: strategy.id,
      version: strategy.version,
      description: strategy.description,
      config: config.strategy,
    },
    guardrails: config.guardrails,
    monthlySpendUsd: config.treasury.monthlySpendUsd,
    tokens,
    snapshot: {
      prices,
      closes: Object.fromEntries(
        Object.entries(historical.closes).map(([s, c]) => [
          s,
          Array.from(c, (x) => (Number.isFinite(x) ? x : null)),
        ]),
      ),
      lookbackDays: historical.lookbackDays,
    },
    ...(params.provenance ? { history: params.provenance } : {}),
    holdings: Object.fromEntries(
      Object.values(observation.holdings.holdings).map((h) => [h.symbol, h.amount.toString()]),
    ),
    pools: Object.fromEntries(
      Object.values(observation.pools.pools).map((p) => [
        p.symbol,
        { reserveToken: p.reserveToken.toString(), reserveUsdc: p.reserveQuote.toString() },
      ]),
    ),
    safe: {
      address: observation.safe.safe,
      nonce: observation.safe.nonce.toString(),
      chainId: config.chain.id,
    },
    contracts: params.contracts,
    policy: { maxFeedAgeSeconds: config.observe.maxFeedAgeSeconds, feedDecimals: FEED_DECIMALS },
    validAfter: String(observation.at),
    deadline: swapDeadline(config, observation.at).toString(),
  };
}

/** The hash that commits to a decision: its logged inputs, its targets and its plan. */
export function decisionHashOf(inputs: DecisionInputs, targets: WeightsBps, plan: Plan): Hex {
  return keccak256(stringToHex(canonicalJson({ inputs, targets, plan })));
}

/**
 * The decision, purely from its logged inputs: same inputs, same swaps, same safeTxHash. The inputs are taken
 * as the log keeps them (a canonical JSON round trip: keys sorted, NaN closes as null), so a decision replayed
 * from the log is the one made (holdings arrive in config order and the log keeps them sorted: without the round
 * trip the live decision and its replay add the same floats in another order and can differ in the last digits).
 */
export function decide(given: DecisionInputs): Decision {
  const inputs = JSON.parse(canonicalJson(given)) as DecisionInputs;
  const strategy = configureStrategy(inputs.strategy.config as NonNullable<TreasuryAgentConfig['strategy']>);
  const day = Math.floor(inputs.at / DAY_SECONDS);
  const snapshot: MarketSnapshot = {
    asOf: inputs.asOf,
    day,
    tokens: Object.fromEntries(inputs.tokens.map((t) => [t.symbol, t])),
    prices: inputs.snapshot.prices,
    closes: Object.fromEntries(
      Object.entries(inputs.snapshot.closes).map(([s, c]) => [
        s,
        Float64Array.from(c, (x) => x ?? Number.NaN),
      ]),
    ),
    lookbackDays: inputs.snapshot.lookbackDays,
  };
  const balances = Object.fromEntries(Object.entries(inputs.holdings).map(([s, a]) => [s, BigInt(a)]));
  const targets = strategy.targetWeights(snapshot, { balances, monthlySpendUsd: inputs.monthlySpendUsd });
  const pools: Record<string, PoolReserves> = Object.fromEntries(
    Object.entries(inputs.pools).map(([s, p]) => [
      s,
      { reserveToken: BigInt(p.reserveToken), reserveUsdc: BigInt(p.reserveUsdc) },
    ]),
  );
  const plan = planRebalance({
    tokens: inputs.tokens,
    holdings: balances,
    targets,
    prices: inputs.snapshot.prices,
    pools,
    guardrails: inputs.guardrails as Parameters<typeof planRebalance>[0]['guardrails'],
    monthlySpendUsd: inputs.monthlySpendUsd,
  });
  const token = (symbol: string) => inputs.tokens.find((t) => t.symbol === symbol)!;
  const decisionHash = decisionHashOf(inputs, targets, plan);
  const orders: PolicyOrder[] = plan.swaps.map((s) => ({
    tokenIn: token(s.sell).address,
    tokenOut: token(s.buy).address,
    amountIn: s.amountIn,
    policy: {
      feedIn: token(s.sell).feed,
      feedOut: token(s.buy).feed,
      feedDecimals: inputs.policy.feedDecimals,
      maxFeedAge: inputs.policy.maxFeedAgeSeconds,
      slippageBps: s.policy.slippageBps,
      floorPrice: s.policy.floorPrice,
    },
  }));
  const policyDecision: PolicyDecision = {
    decisionHash,
    router: inputs.contracts.router,
    validAfter: BigInt(inputs.validAfter),
    validUntil: BigInt(inputs.deadline),
    orders,
  };
  if (orders.length === 0) return { inputs, targets, plan, decisionHash, policyDecision };
  const tx = buildPolicyBatchTx(
    {
      chainId: inputs.safe.chainId,
      safe: inputs.safe.address,
      multiSendCallOnly: inputs.contracts.multiSendCallOnly,
      swapper: inputs.contracts.swapper,
      decision: policyDecision,
      nonce: BigInt(inputs.safe.nonce),
    },
    Object.fromEntries(inputs.tokens.map((t) => [t.address, t.symbol])),
  );
  return { inputs, targets, plan, decisionHash, policyDecision, tx };
}
