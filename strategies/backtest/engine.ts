import { MarketDataError, TreasuryError } from '../../shared/errors.ts';
import type { Guardrails } from '../guardrails.ts';
import {
  type ExecutionFailureKind,
  executePolicySwaps,
  HUB,
  type PlannedSwap,
  planRebalance,
} from '../planner.ts';
import { dayOfMonth, isoDateOf, type PriceHistory, priceAsOf } from '../priceHistory.ts';
import { FEED_DECIMALS, type FeedReading, feedAnswerOf } from '../pricePolicy.ts';
import { buildSnapshot } from '../snapshot.ts';
import type { ConfiguredStrategy, TokenInfo, WeightsBps } from '../types.ts';
import { getAmountIn, getAmountOut, type PoolReserves, poolAtPrice } from '../uniswap.ts';
import { baseUnitsOf, unitsOf } from '../weights.ts';
import { type BacktestMetrics, computeMetrics } from './metrics.ts';

export type BacktestSettings = {
  /** Shown in reports, e.g. "strategy" or "60/40 ETH/stables". */
  name: string;
  tokens: readonly TokenInfo[];
  strategy: ConfiguredStrategy;
  guardrails: Guardrails;
  monthlySpendUsd: number;
  /** Days between two decisions (a proposal is only made when the plan has swaps); Infinity: never trade. */
  cadenceDays: number;
  /**
   * When a proposal could not reach its targets (caps, price impact: more than 1% of the treasury, one-way,
   * left to move), the next decision comes after this many days instead of cadenceDays (the governed baselines
   * keep going toward their monthly targets at the agent's pace). Absent: always cadenceDays.
   */
  followUpDays?: number;
  /** Days from proposal to execution (voting delay + voting period + execution delay), prices moving. */
  delayDays: number;
  /**
   * `governed` (default): proposals execute `delayDays` later through the pools (fees, price impact) under the
   * price policy, as the agent's do. `ideal`: the targets are reached exactly at the decision day's close, with
   * no delay, fees, price impact or guardrails (spending too is paid at the close); a reference, not a plan.
   */
  execution?: BacktestExecution;
  /**
   * The runway floor reports measure against, in months of spending (the strategy's runway-floor `months`, else
   * guardrails.runwayFloorMonths); absent or 0: no floor.
   */
  runwayFloorMonths?: number;
  /** USD on each side of every token/USDC pool; pools are re-priced to the market every day. */
  poolDepthUsd: number;
  initialUsd: number;
  /** Starting allocation in bps by symbol (must be priced on the first day). */
  initialMixBps: Readonly<Record<string, number>>;
  fromDay: number;
  toDay: number;
  /** Keep the daily allocation (for charts). */
  recordAllocation?: boolean;
  /** Called now and then with (days done, days in total). */
  onProgress?: (done: number, total: number) => void;
  /** Prices for the window, from buildPriceTape; pass one to share it between runs (sweeps). */
  tape?: PriceTape;
};

export type BacktestExecution = 'governed' | 'ideal';

/** Daily prices of the tokens over a window (NaN where a token has no price), shared between runs. */
export type PriceTape = {
  fromDay: number;
  toDay: number;
  symbols: string[];
  prices: Float64Array[];
  /** 1 on the first day of a month. */
  monthStart: Uint8Array;
};

/** The tokens' daily prices from fromDay to toDay, each as of its day (carried over short gaps only). */
export function buildPriceTape(
  history: PriceHistory,
  tokens: readonly TokenInfo[],
  fromDay: number,
  toDay: number,
): PriceTape {
  const n = toDay - fromDay + 1;
  const prices = tokens.map((t) => {
    const tape = new Float64Array(n);
    for (let d = 0; d < n; d++) tape[d] = priceAsOf(history, t.priceAsset, fromDay + d) ?? Number.NaN;
    return tape;
  });
  const monthStart = new Uint8Array(n);
  for (let d = 0; d < n; d++) monthStart[d] = dayOfMonth(fromDay + d) === 1 ? 1 : 0;
  return { fromDay, toDay, symbols: tokens.map((t) => t.symbol), prices, monthStart };
}

export type ProposalRecord = {
  decidedOn: string;
  executeOn: string;
  status: 'executed' | 'failed' | 'pending';
  reason?: string;
  /** Why the batch reverted (the contract's refusal), when it failed. */
  failure?: ExecutionFailureKind;
  targets: WeightsBps;
  swaps: PlannedSwap[];
  movedUsd: number;
};

export type BacktestResult = {
  name: string;
  strategy: string;
  execution: BacktestExecution;
  /** Days from decision to execution (0 when ideal). */
  delayDays: number;
  from: string;
  to: string;
  /** One value per day from `from` to `to` (USD, end of day). */
  values: Float64Array;
  /** USD paid for spending on each day. */
  outflows: Float64Array;
  /** Stablecoin holdings in months of spending, per day (Infinity when spending is 0). */
  runwayMonths: Float64Array;
  /** Symbols and, per symbol, the share of value per day (when recordAllocation). */
  allocation?: Record<string, Float32Array>;
  proposals: ProposalRecord[];
  metrics: BacktestMetrics;
  warnings: string[];
};

const NO_PRICES: Record<string, number> = Object.freeze({}) as Record<string, number>;
const NO_POOLS: Record<string, PoolReserves> = Object.freeze({}) as Record<string, PoolReserves>;

/** Pools at the day's prices (the market re-arbitrages them between proposals). */
function poolsAt(
  tokens: readonly TokenInfo[],
  prices: Record<string, number>,
  depthUsd: number,
  usdcDecimals: number,
) {
  const pools: Record<string, PoolReserves> = {};
  const usdcUsd = prices[HUB];
  if (usdcUsd === undefined) return pools;
  for (const t of tokens) {
    const price = prices[t.symbol];
    if (t.symbol === HUB || price === undefined) continue;
    pools[t.symbol] = poolAtPrice(price, depthUsd, t.decimals, usdcDecimals, usdcUsd);
  }
  return pools;
}

/** The pool of `symbol` at today's prices, created on first use (undefined without prices). */
function poolFor(
  pools: Record<string, PoolReserves>,
  prices: Record<string, number>,
  tokens: readonly TokenInfo[],
  symbol: string,
  depthUsd: number,
): PoolReserves | undefined {
  let pool = pools[symbol];
  const price = prices[symbol];
  const usdcUsd = prices[HUB];
  if (!pool && price !== undefined && usdcUsd !== undefined && symbol !== HUB) {
    const token = tokens.find((t) => t.symbol === symbol);
    const usdc = tokens.find((t) => t.symbol === HUB);
    if (!token || !usdc) return undefined;
    pool = poolAtPrice(price, depthUsd, token.decimals, usdc.decimals, usdcUsd);
    pools[symbol] = pool;
  }
  return pool;
}

/**
 * Replays the daily price history: every `cadenceDays` the strategy sees a snapshot as of that day (nothing
 * later), the planner turns its weights into swaps priced on that day's pools, and the batch executes
 * `delayDays` later on that day's pools, all or nothing (a swap below its minimum out reverts the batch).
 * The monthly spend is paid on the first of each month from stablecoins, then by selling other assets.
 * With `execution: 'ideal'` the holdings are set to the targets at the decision day's close instead, and the
 * spending is sold at the close: no delay, fees, impact or guardrails.
 */
export function runBacktest(history: PriceHistory, settings: BacktestSettings): BacktestResult {
  const { tokens, strategy, guardrails, fromDay, toDay } = settings;
  if (toDay < fromDay) throw new TreasuryError('the backtest window is empty (to is before from)');
  const n = toDay - fromDay + 1;
  const symbols = tokens.map((t) => t.symbol);
  const usdc = tokens.find((t) => t.symbol === HUB);
  if (!usdc) throw new TreasuryError(`${HUB} is required: every pool pairs with it`);
  const warnings: string[] = [];
  const ideal = settings.execution === 'ideal';

  // daily prices for the window, carried over short gaps; lastPrice keeps the last known one for valuation
  let tape = settings.tape;
  if (!tape || tape.fromDay !== fromDay || tape.toDay !== toDay || tape.symbols.join() !== symbols.join()) {
    tape = buildPriceTape(history, tokens, fromDay, toDay);
  }
  const priceTape = tape.prices;
  const monthStart = tape.monthStart;
  const lastPrice = new Float64Array(tokens.length).fill(Number.NaN);
  const balances: Record<string, bigint> = {};
  const units = new Float64Array(tokens.length);
  const setBalance = (i: number, amount: bigint) => {
    const t = tokens[i]!;
    balances[t.symbol] = amount;
    units[i] = unitsOf(amount, t.decimals);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const bps = settings.initialMixBps[t.symbol] ?? 0;
    const price = priceTape[i]![0]!;
    if (bps > 0 && !(price > 0)) {
      throw new MarketDataError(
        `${t.symbol} (${t.priceAsset}) has no price on ${isoDateOf(fromDay)} but starts at ${bps} bps`,
      );
    }
    setBalance(i, bps > 0 ? baseUnitsOf((settings.initialUsd * bps) / 10_000 / price, t.decimals) : 0n);
  }
  const isStable = Uint8Array.from(tokens, (t) => (t.role === 'stable' ? 1 : 0));
  const stableIdx = tokens.map((t, i) => (t.role === 'stable' ? i : -1)).filter((i) => i >= 0);
  stableIdx.sort((a, b) => (tokens[a]!.symbol === HUB ? -1 : tokens[b]!.symbol === HUB ? 1 : a - b));
  const sellOrder = tokens
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => t.role !== 'stable')
    .sort((a, b) => (a.t.role === b.t.role ? a.i - b.i : a.t.role === 'risk' ? -1 : 1))
    .map(({ i }) => i);

  /** Ideal execution: the priced holdings become exactly the targets at `prices`; returns the USD traded. */
  const rebalanceAtClose = (targets: WeightsBps, prices: Readonly<Record<string, number>>): number => {
    let total = 0;
    for (let i = 0; i < tokens.length; i++) {
      const price = prices[tokens[i]!.symbol];
      if (price !== undefined && units[i]! > 0) total += units[i]! * price;
    }
    if (!(total > 0)) return 0;
    let traded = 0;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      const price = prices[t.symbol];
      if (price === undefined) continue; // unpriced: kept as it is, not traded
      const usd = (total * (targets[t.symbol] ?? 0)) / 10_000;
      traded += Math.abs(usd - units[i]! * price);
      setBalance(i, baseUnitsOf(usd / price, t.decimals));
    }
    return traded;
  };

  const values = new Float64Array(n);
  const outflows = new Float64Array(n);
  const runwayMonths = new Float64Array(n);
  const allocation = settings.recordAllocation
    ? Object.fromEntries(symbols.map((s) => [s, new Float32Array(n)]))
    : undefined;
  const proposals: ProposalRecord[] = [];
  let pending: { record: ProposalRecord; execDay: number } | undefined;
  let lastDecision = Number.NEGATIVE_INFINITY;
  let nextGap = settings.cadenceDays;
  let tradedUsd = 0;
  let feesUsd = 0;
  let impactUsd = 0;
  let executed = 0;
  let failed = 0;
  let executedUsd = 0;
  const failures: Partial<Record<ExecutionFailureKind, number>> = {};
  let depletedWarned = false;
  const frozenWarned = new Set<string>();
  const progressEvery = Math.max(1, Math.floor(n / 100));

  for (let d = 0; d < n; d++) {
    const day = fromDay + d;
    for (let i = 0; i < tokens.length; i++) {
      const p = priceTape[i]![d]!;
      if (p > 0) {
        lastPrice[i] = p;
      } else if (units[i]! > 0 && lastPrice[i]! > 0 && !frozenWarned.has(tokens[i]!.symbol)) {
        frozenWarned.add(tokens[i]!.symbol);
        warnings.push(
          `${tokens[i]!.symbol} has no price from ${isoDateOf(day)}: valued at its last close and not traded`,
        );
      }
    }
    const spendDay = d > 0 && settings.monthlySpendUsd > 0 && monthStart[d] === 1;
    const execDay = pending !== undefined && pending.execDay === day;
    const decisionDay =
      Number.isFinite(settings.cadenceDays) && (!pending || execDay) && day - lastDecision >= nextGap;
    const eventDay = spendDay || execDay || decisionDay;
    let prices: Record<string, number> = NO_PRICES;
    let pools: Record<string, PoolReserves> = NO_POOLS;
    if (eventDay) {
      prices = {};
      for (let i = 0; i < tokens.length; i++) {
        const p = priceTape[i]![d]!;
        if (p > 0) prices[tokens[i]!.symbol] = p;
      }
      // pools at today's prices (the market re-arbitrages them between proposals); all of them when the
      // planner runs, else only the ones a swap touches
      pools = decisionDay && !ideal ? poolsAt(tokens, prices, settings.poolDepthUsd, usdc.decimals) : {};
    }

    // 1. execute the batch voted on, at today's prices
    if (pending && execDay) {
      for (const swap of pending.record.swaps) {
        poolFor(pools, prices, tokens, swap.sell === HUB ? swap.buy : swap.sell, settings.poolDepthUsd);
      }
      // the feeds post the day's closes at noon; the batch runs then, as PolicySwapper.execute would
      const now = day * 86_400 + 43_200;
      const feeds: Record<string, FeedReading> = {};
      for (const symbol in prices) {
        feeds[symbol] = { answer: feedAnswerOf(prices[symbol]!), updatedAt: now, decimals: FEED_DECIMALS };
      }
      const outcome = executePolicySwaps(
        tokens,
        balances,
        { pools, feeds, now, maxFeedAgeSeconds: 86_400 },
        pending.record.swaps,
      );
      if (outcome.ok) {
        pending.record.status = 'executed';
        executed++;
        executedUsd += pending.record.movedUsd;
        pending.record.swaps.forEach((swap, k) => {
          const inToken = tokens[symbols.indexOf(swap.sell)]!;
          const outToken = tokens[symbols.indexOf(swap.buy)]!;
          const inUsd = unitsOf(swap.amountIn, inToken.decimals) * (prices[swap.sell] ?? 0);
          const outUsd = unitsOf(outcome.amountsOut[k]!, outToken.decimals) * (prices[swap.buy] ?? 0);
          tradedUsd += inUsd;
          feesUsd += inUsd * 0.003;
          impactUsd += Math.max(0, inUsd - outUsd - inUsd * 0.003);
        });
        for (let i = 0; i < tokens.length; i++) {
          const s = tokens[i]!.symbol;
          if (outcome.balances[s] !== undefined && outcome.balances[s] !== balances[s])
            setBalance(i, outcome.balances[s]);
        }
      } else {
        pending.record.status = 'failed';
        pending.record.reason = outcome.reason;
        pending.record.failure = outcome.kind;
        failures[outcome.kind] = (failures[outcome.kind] ?? 0) + 1;
        failed++;
      }
      pending = undefined;
    }

    // 2. pay the month's spending on the first of each month
    if (spendDay) {
      let due = settings.monthlySpendUsd;
      for (const i of stableIdx) {
        const price = prices[tokens[i]!.symbol];
        if (!(price && price > 0) || due <= 0) continue;
        const usd = Math.min(due, units[i]! * price);
        const amount = baseUnitsOf(usd / price, tokens[i]!.decimals);
        const bal = balances[tokens[i]!.symbol] ?? 0n;
        setBalance(i, bal > amount ? bal - amount : 0n);
        due -= usd;
      }
      for (const i of sellOrder) {
        if (due <= 1e-6) break;
        const t = tokens[i]!;
        if (ideal) {
          // sold at the close, no fee or impact
          const price = prices[t.symbol];
          if (!(price && price > 0) || !(units[i]! > 0)) continue;
          const usd = Math.min(due, units[i]! * price);
          const amount = baseUnitsOf(usd / price, t.decimals);
          const bal = balances[t.symbol] ?? 0n;
          setBalance(i, bal > amount ? bal - amount : 0n);
          tradedUsd += usd;
          due -= usd;
          continue;
        }
        const pool = poolFor(pools, prices, tokens, t.symbol, settings.poolDepthUsd);
        const bal = balances[t.symbol] ?? 0n;
        if (!pool || bal <= 0n || !prices[HUB]) continue;
        const wantUsdc = baseUnitsOf(due / prices[HUB], usdc.decimals);
        let amountIn = getAmountIn(wantUsdc, pool.reserveToken, pool.reserveUsdc);
        if (amountIn === undefined || amountIn > bal) amountIn = bal;
        const out = getAmountOut(amountIn, pool.reserveToken, pool.reserveUsdc);
        const inUsd = unitsOf(amountIn, t.decimals) * prices[t.symbol]!;
        const outUsd = unitsOf(out, usdc.decimals) * prices[HUB];
        pools[t.symbol] = {
          reserveToken: pool.reserveToken + amountIn,
          reserveUsdc: pool.reserveUsdc - out,
        };
        setBalance(i, bal - amountIn);
        tradedUsd += inUsd;
        feesUsd += inUsd * 0.003;
        impactUsd += Math.max(0, inUsd - outUsd - inUsd * 0.003);
        due -= Math.min(due, outUsd);
      }
      outflows[d] = settings.monthlySpendUsd - Math.max(0, due);
      if (due > 1e-6 && !depletedWarned) {
        depletedWarned = true;
        warnings.push(
          `the treasury could not pay the full spending on ${isoDateOf(day)}: it ran out of assets`,
        );
      }
    }

    // 3. decide (only with data up to today) and propose
    if (!pending && decisionDay && prices[HUB] !== undefined) {
      lastDecision = day;
      const snapshot = buildSnapshot(history, tokens, day, strategy.lookbackDays);
      const holdings = { balances, monthlySpendUsd: settings.monthlySpendUsd };
      const targets = strategy.targetWeights(snapshot, holdings);
      if (ideal) {
        tradedUsd += rebalanceAtClose(targets, prices);
      } else {
        const plan = planRebalance({
          tokens,
          holdings: balances,
          targets,
          prices: snapshot.prices,
          pools: pools,
          guardrails,
          monthlySpendUsd: settings.monthlySpendUsd,
          weightsSummary: false,
        });
        if (settings.followUpDays !== undefined) {
          // one-way USD between the holdings and the targets, against what the plan moves
          let away = 0;
          for (const t of tokens) {
            const price = snapshot.prices[t.symbol];
            if (price === undefined) continue;
            const held = unitsOf(balances[t.symbol] ?? 0n, t.decimals) * price;
            away += Math.abs(((targets[t.symbol] ?? 0) / 10_000) * plan.valueUsd - held);
          }
          const short = away / 2 - plan.movedUsd > Math.max(guardrails.minTradeUsd, 0.01 * plan.valueUsd);
          nextGap = short ? Math.min(settings.followUpDays, settings.cadenceDays) : settings.cadenceDays;
        }
        if (plan.swaps.length > 0) {
          const record: ProposalRecord = {
            decidedOn: snapshot.asOf,
            executeOn: isoDateOf(day + settings.delayDays),
            status: 'pending',
            targets,
            swaps: plan.swaps,
            movedUsd: plan.movedUsd,
          };
          proposals.push(record);
          pending = { record, execDay: day + settings.delayDays };
        }
      }
    }

    // 4. end-of-day value (unpriced holdings at their last close)
    let value = 0;
    let stables = 0;
    for (let i = 0; i < tokens.length; i++) {
      const p = lastPrice[i]!;
      if (!(units[i]! > 0) || !(p > 0)) continue;
      const v = units[i]! * p;
      value += v;
      if (isStable[i] === 1) stables += v;
    }
    values[d] = value;
    runwayMonths[d] =
      settings.monthlySpendUsd > 0 ? stables / settings.monthlySpendUsd : Number.POSITIVE_INFINITY;
    if (allocation) {
      for (let i = 0; i < tokens.length; i++) {
        const p = lastPrice[i]!;
        allocation[symbols[i]!]![d] = value > 0 && p > 0 ? (units[i]! * p) / value : 0;
      }
    }
    if (settings.onProgress && (d % progressEvery === 0 || d === n - 1)) settings.onProgress(d + 1, n);
  }

  const votedUsd = proposals.reduce((a, p) => a + (p.status === 'pending' ? 0 : p.movedUsd), 0);
  if (proposals.length >= 5 && failed / proposals.length > 0.05) {
    warnings.push(
      `${failed} of ${proposals.length} proposals reverted at execution (${Object.entries(failures)
        .map(([kind, count]) => `${kind} ${count}`)
        .join(
          ', ',
        )}): prices moved past the voted policy during the ${settings.delayDays}-day vote; a lower floor (guardrails.priceFloorBps) or a shorter vote executes more`,
    );
  }
  const pendingAtEnd = proposals.filter((p) => p.status === 'pending').length;
  if (pendingAtEnd > 0)
    warnings.push(`${pendingAtEnd} proposal still in its vote at the end of the window (not executed)`);
  let minRunway = Number.POSITIVE_INFINITY;
  for (const r of runwayMonths) minRunway = Math.min(minRunway, r);
  return {
    name: settings.name,
    strategy: strategy.description,
    execution: ideal ? 'ideal' : 'governed',
    delayDays: ideal ? 0 : settings.delayDays,
    from: isoDateOf(fromDay),
    to: isoDateOf(toDay),
    values,
    outflows,
    runwayMonths,
    ...(allocation ? { allocation } : {}),
    proposals,
    metrics: computeMetrics({
      values,
      outflows,
      tradedUsd,
      feesUsd,
      priceImpactUsd: impactUsd,
      minRunwayMonths: settings.monthlySpendUsd > 0 ? minRunway : null,
      runwayMonths,
      runwayFloorMonths:
        settings.monthlySpendUsd > 0 && (settings.runwayFloorMonths ?? 0) > 0
          ? settings.runwayFloorMonths!
          : null,
      proposals: proposals.length,
      executed,
      failed,
      votedUsd,
      executedUsd,
      failures,
    }),
    warnings,
  };
}
