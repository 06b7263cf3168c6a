import { formatUnits as units } from 'viem';
import { TreasuryError } from '../shared/errors.ts';
import type { Guardrails } from './guardrails.ts';
import {
  amountAtPrice,
  type FeedReading,
  feedAnswerOf,
  floorPriceOf,
  oraclePriceOf,
  type PolicyRefusalKind,
  type PricePolicy,
  quotePolicy,
} from './pricePolicy.ts';
import type { TokenInfo, WeightsBps } from './types.ts';
import { getAmountOut, maxAmountInForImpact, type PoolReserves, priceImpactBps } from './uniswap.ts';
import { baseUnitsOf, TOTAL_BPS, toBasisPoints, unitsOf } from './weights.ts';

/** Every pool pairs a token with USDC: sells go token → USDC, buys USDC → token. */
export const HUB = 'USDC';

/** The Uniswap V2 pool fee, in bps: part of every swap's allowed distance from the oracle price. */
export const POOL_FEE_BPS = 30;

export type PlannedSwap = {
  sell: string;
  buy: string;
  amountIn: bigint;
  /**
   * The least the swap can return if it executes: amountIn at the policy's floor price (the contract requires
   * max(oracle out − slippage, floor out)). Buys are sized from the sells' minimum outs, so a batch never
   * fails because a sell returned less than planned.
   */
  minAmountOut: bigint;
  /** getAmountOut on the reserves the plan was made with. */
  expectedAmountOut: bigint;
  /** Price impact in bps, fee excluded. */
  priceImpactBps: number;
  /** The oracle price when planned: whole `buy` per whole `sell` × 1e18, from the two USD feeds. */
  oraclePrice: bigint;
  /** What voters approve instead of a fixed minimum out (strategies/pricePolicy.ts). */
  policy: PricePolicy;
};

export type SkippedTrade = { symbol: string; side: 'sell' | 'buy'; usd: number; reason: string };

export type PlanInput = {
  tokens: readonly TokenInfo[];
  /** Base units by symbol. */
  holdings: Readonly<Record<string, bigint>>;
  targets: WeightsBps;
  /** USD per token, finite and above 0, for every symbol held or targeted. */
  prices: Readonly<Record<string, number>>;
  /** token/USDC reserves by token symbol. */
  pools: Readonly<Record<string, PoolReserves>>;
  guardrails: Guardrails;
  /** For the runway-floor guardrail (0 or absent: no floor). */
  monthlySpendUsd?: number;
  /** false: leave beforeBps and expectedAfterBps empty (backtests, which do not show them). Default true. */
  weightsSummary?: boolean;
};

export type Plan = {
  swaps: PlannedSwap[];
  skipped: SkippedTrade[];
  /** Treasury value (priced holdings) when planned. */
  valueUsd: number;
  /** The larger of USD sold and USD bought: the one-way value the proposal moves. */
  movedUsd: number;
  beforeBps: WeightsBps;
  /** Weights if every swap returns its expected amount. */
  expectedAfterBps: WeightsBps;
};

/** A planned swap with its price policy: slippage = pool fee + planned impact + tolerance; floor below the oracle. */
function policySwap(params: {
  sell: TokenInfo;
  buy: TokenInfo;
  amountIn: bigint;
  reserveIn: bigint;
  reserveOut: bigint;
  prices: Readonly<Record<string, number>>;
  guardrails: Guardrails;
}): PlannedSwap {
  const { sell, buy, amountIn, guardrails: g } = params;
  const impact = priceImpactBps(amountIn, params.reserveIn);
  const oraclePrice = oraclePriceOf(
    feedAnswerOf(params.prices[sell.symbol]!),
    feedAnswerOf(params.prices[buy.symbol]!),
  );
  const floorPrice = floorPriceOf(oraclePrice, g.priceFloorBps);
  return {
    sell: sell.symbol,
    buy: buy.symbol,
    amountIn,
    minAmountOut: amountAtPrice(amountIn, floorPrice, sell.decimals, buy.decimals),
    expectedAmountOut: getAmountOut(amountIn, params.reserveIn, params.reserveOut),
    priceImpactBps: impact,
    oraclePrice,
    policy: {
      slippageBps: Math.min(MAX_SLIPPAGE_BPS, POOL_FEE_BPS + impact + 1 + g.maxSlippageBps),
      floorPrice,
    },
  };
}

/** Whether the pool, as planned, returns what the policy requires at the drafting oracle price. */
function meetsPolicyWhenPlanned(swap: PlannedSwap, sell: TokenInfo, buy: TokenInfo): boolean {
  const oracleOut = amountAtPrice(swap.amountIn, swap.oraclePrice, sell.decimals, buy.decimals);
  const minOut = (oracleOut * BigInt(10_000 - swap.policy.slippageBps)) / 10_000n;
  return swap.expectedAmountOut >= minOut && swap.expectedAmountOut >= swap.minAmountOut;
}

/** The widest slippage a plan ever asks voters for. */
const MAX_SLIPPAGE_BPS = 9_000;

function isStableToken(tokens: Readonly<Record<string, TokenInfo>>, symbol: string): boolean {
  return tokens[symbol]?.role === 'stable';
}

function sharesBps(values: Record<string, number>): WeightsBps {
  return Object.values(values).some((v) => v > 0) ? toBasisPoints(values) : {};
}

/**
 * The smallest list of swaps that moves the holdings toward the targets within the guardrails: one swap per
 * asset (each pool is used once), sells first (token → USDC), then buys (USDC → token) funded by the USDC
 * balance plus the minimum outputs of the sells. Trades below minTradeUsd are skipped; nothing is sold
 * beyond the balance; the per-proposal and per-asset caps, the price-impact cap and the runway floor hold.
 * Pure: the same input gives the same plan.
 */
export function planRebalance(input: PlanInput): Plan {
  const { guardrails: g, holdings, prices, pools, targets } = input;
  const tokens: Record<string, TokenInfo> = {};
  for (const t of input.tokens) tokens[t.symbol] = t;
  const usdc = tokens[HUB];
  if (!usdc) throw new TreasuryError(`the planner needs ${HUB} among the tokens: every pool pairs with it`);
  const usdcPrice = prices[HUB];
  if (usdcPrice === undefined || !(usdcPrice > 0)) {
    throw new TreasuryError(`no ${HUB} price: cannot plan swaps through the ${HUB} pools`);
  }
  let targetTotal = 0;
  for (const symbol in targets) targetTotal += targets[symbol]!;
  if (targetTotal !== TOTAL_BPS) {
    throw new TreasuryError(`targets add up to ${targetTotal} basis points instead of 10000`);
  }

  const values: Record<string, number> = {};
  let valueUsd = 0;
  for (const symbol in holdings) {
    const amount = holdings[symbol]!;
    const token = tokens[symbol];
    const price = prices[symbol];
    if (!token || price === undefined || amount <= 0n) continue;
    if (!(price > 0) || !Number.isFinite(price))
      throw new TreasuryError(`price of ${symbol} must be above 0`);
    values[symbol] = unitsOf(amount, token.decimals) * price;
    valueUsd += values[symbol];
  }
  const summary = input.weightsSummary !== false;
  const beforeBps = summary ? sharesBps(values) : {};
  const empty: Plan = {
    swaps: [],
    skipped: [],
    valueUsd,
    movedUsd: 0,
    beforeBps,
    expectedAfterBps: beforeBps,
  };
  if (valueUsd <= 0) return empty;

  const skipped: SkippedTrade[] = [];
  const allow = g.allowlist ? new Set(g.allowlist) : undefined;
  const sells: Array<{ symbol: string; usd: number }> = [];
  const buys: Array<{ symbol: string; usd: number }> = [];
  const symbols = Object.keys(targets);
  for (const symbol in values) if (!(symbol in targets)) symbols.push(symbol);
  symbols.sort();
  for (const symbol of symbols) {
    if (symbol === HUB) continue;
    const delta = ((targets[symbol] ?? 0) / TOTAL_BPS) * valueUsd - (values[symbol] ?? 0);
    if (delta === 0) continue;
    const side = delta < 0 ? 'sell' : 'buy';
    let usd = Math.abs(delta);
    const reason = !tokens[symbol]
      ? 'not a configured token'
      : prices[symbol] === undefined
        ? 'no price'
        : !pools[symbol]
          ? `no ${symbol}/${HUB} pool`
          : allow && (!allow.has(symbol) || !allow.has(HUB))
            ? 'not on the allowlist'
            : undefined;
    if (reason) {
      if (usd >= g.minTradeUsd) skipped.push({ symbol, side, usd, reason });
      continue;
    }
    const cap = g.maxTradeBpsPerAsset[symbol];
    if (cap !== undefined) usd = Math.min(usd, (cap / TOTAL_BPS) * valueUsd);
    (side === 'sell' ? sells : buys).push({ symbol, usd });
  }

  // per-proposal cap, applied to each side; on the sell side, sells of risky assets (which fill the stables) come
  // before sells of stablecoins (which do not), so the runway is filled first
  const capUsd = (g.maxMovedPerProposalBps / TOTAL_BPS) * valueUsd;
  const capSide = (side: Array<{ symbol: string; usd: number }>, cap: number) => {
    const total = side.reduce((a, t) => a + t.usd, 0);
    if (total > cap) for (const t of side) t.usd *= cap / total;
    return Math.min(total, cap);
  };
  const riskySold = capSide(
    sells.filter((t) => !isStableToken(tokens, t.symbol)),
    capUsd,
  );
  capSide(
    sells.filter((t) => isStableToken(tokens, t.symbol)),
    capUsd - riskySold,
  );
  capSide(buys, capUsd);

  const swaps: PlannedSwap[] = [];
  const after = { ...values };
  let proceedsMinUsdc = 0n;
  let proceedsExpectedUsdc = 0n;
  let soldUsd = 0;
  sells.sort((a, b) => b.usd - a.usd || (a.symbol < b.symbol ? -1 : 1));
  for (const t of sells) {
    if (t.usd < g.minTradeUsd) continue; // too small whatever the caps: no need for the pool math
    const token = tokens[t.symbol]!;
    const pool = pools[t.symbol]!;
    const price = prices[t.symbol]!;
    const balance = holdings[t.symbol] ?? 0n;
    let amountIn =
      t.usd >= (values[t.symbol] ?? 0) * (1 - 1e-9) ? balance : baseUnitsOf(t.usd / price, token.decimals);
    const impactMax = maxAmountInForImpact(pool.reserveToken, g.maxPriceImpactBps);
    if (amountIn > impactMax) amountIn = impactMax;
    if (amountIn > balance) amountIn = balance;
    const usd = unitsOf(amountIn, token.decimals) * price;
    if (amountIn <= 0n || usd < g.minTradeUsd) {
      if (t.usd >= g.minTradeUsd)
        skipped.push({ symbol: t.symbol, side: 'sell', usd: t.usd, reason: 'below minTradeUsd after caps' });
      continue;
    }
    const swap = policySwap({
      sell: token,
      buy: usdc,
      amountIn,
      reserveIn: pool.reserveToken,
      reserveOut: pool.reserveUsdc,
      prices,
      guardrails: g,
    });
    if (swap.minAmountOut <= 0n || swap.expectedAmountOut <= 0n) {
      skipped.push({ symbol: t.symbol, side: 'sell', usd, reason: 'the pool would return nothing' });
      continue;
    }
    if (!meetsPolicyWhenPlanned(swap, token, usdc)) {
      skipped.push({
        symbol: t.symbol,
        side: 'sell',
        usd,
        reason: 'the pool is further from the oracle price than the slippage allows',
      });
      continue;
    }
    swaps.push(swap);
    proceedsMinUsdc += swap.minAmountOut;
    proceedsExpectedUsdc += swap.expectedAmountOut;
    soldUsd += usd;
    after[t.symbol] = (after[t.symbol] ?? 0) - usd;
    after[HUB] = (after[HUB] ?? 0) + unitsOf(swap.expectedAmountOut, usdc.decimals) * usdcPrice;
  }

  // buys: funded by USDC (balance + minimum outs of the sells). Buys of risky assets never take the stables
  // below the runway floor (even if every sell returns only its minimum out), nor below the stablecoins' share
  // in the targets (with the sells' expected outs): when the caps or the price impact cut the sells, the
  // stables the targets ask for are filled before anything is bought.
  let usdcBudget = (holdings[HUB] ?? 0n) + proceedsMinUsdc;
  let stablesNowUsd = 0;
  let stablesTargetUsd = 0;
  for (const s in values) if (isStableToken(tokens, s)) stablesNowUsd += values[s]!;
  for (const s in targets)
    if (isStableToken(tokens, s)) stablesTargetUsd += (targets[s]! / TOTAL_BPS) * valueUsd;
  const floorUsd = g.runwayFloorMonths * (input.monthlySpendUsd ?? 0);
  let riskBudgetUsd = Math.max(
    0,
    Math.min(
      stablesNowUsd + unitsOf(proceedsMinUsdc, usdc.decimals) * usdcPrice - floorUsd,
      stablesNowUsd + unitsOf(proceedsExpectedUsdc, usdc.decimals) * usdcPrice - stablesTargetUsd,
    ),
  );
  buys.sort((a, b) => b.usd - a.usd || (a.symbol < b.symbol ? -1 : 1));
  const wanted = buys.reduce((a, t) => a + t.usd, 0);
  const budgetUsd = unitsOf(usdcBudget, usdc.decimals) * usdcPrice;
  const riskWanted = buys.reduce((a, t) => a + (isStableToken(tokens, t.symbol) ? 0 : t.usd), 0);
  const scaleAll = wanted > budgetUsd ? budgetUsd / wanted : 1;
  const scaleRisk = riskWanted * scaleAll > riskBudgetUsd ? riskBudgetUsd / (riskWanted * scaleAll) : 1;
  let boughtUsd = 0;
  for (const t of buys) {
    if (t.usd < g.minTradeUsd) continue; // too small before any scaling
    const token = tokens[t.symbol]!;
    const pool = pools[t.symbol]!;
    let usd = t.usd * scaleAll * (isStableToken(tokens, t.symbol) ? 1 : scaleRisk);
    if (!isStableToken(tokens, t.symbol)) usd = Math.min(usd, riskBudgetUsd);
    let amountIn = baseUnitsOf(usd / usdcPrice, usdc.decimals);
    const impactMax = maxAmountInForImpact(pool.reserveUsdc, g.maxPriceImpactBps);
    if (amountIn > impactMax) amountIn = impactMax;
    if (amountIn > usdcBudget) amountIn = usdcBudget;
    usd = unitsOf(amountIn, usdc.decimals) * usdcPrice;
    if (amountIn <= 0n || usd < g.minTradeUsd) {
      if (t.usd >= g.minTradeUsd) {
        skipped.push({
          symbol: t.symbol,
          side: 'buy',
          usd: t.usd,
          reason: 'below minTradeUsd after caps, budget or runway floor',
        });
      }
      continue;
    }
    const swap = policySwap({
      sell: usdc,
      buy: token,
      amountIn,
      reserveIn: pool.reserveUsdc,
      reserveOut: pool.reserveToken,
      prices,
      guardrails: g,
    });
    if (swap.minAmountOut <= 0n || swap.expectedAmountOut <= 0n) {
      skipped.push({ symbol: t.symbol, side: 'buy', usd, reason: 'the pool would return nothing' });
      continue;
    }
    if (!meetsPolicyWhenPlanned(swap, usdc, token)) {
      skipped.push({
        symbol: t.symbol,
        side: 'buy',
        usd,
        reason: 'the pool is further from the oracle price than the slippage allows',
      });
      continue;
    }
    swaps.push(swap);
    usdcBudget -= amountIn;
    if (!isStableToken(tokens, t.symbol)) riskBudgetUsd -= usd;
    boughtUsd += usd;
    after[HUB] = (after[HUB] ?? 0) - usd;
    after[t.symbol] =
      (after[t.symbol] ?? 0) + unitsOf(swap.expectedAmountOut, token.decimals) * prices[t.symbol]!;
  }
  if (swaps.length === 0) return { ...empty, skipped };
  return {
    swaps,
    skipped,
    valueUsd,
    movedUsd: Math.max(soldUsd, boughtUsd),
    beforeBps,
    expectedAfterBps: summary ? sharesBps(after) : {},
  };
}

export type SwapOutcome =
  | {
      ok: true;
      balances: Record<string, bigint>;
      pools: Record<string, PoolReserves>;
      amountsOut: bigint[];
      /** The oracle price and minimum out the policy required of each swap. */
      required: { oraclePrice: bigint; requiredOut: bigint }[];
    }
  | { ok: false; index: number; kind: ExecutionFailureKind; reason: string };

export type ExecutionFailureKind =
  | 'not-yet-valid'
  | 'validity-ended'
  | 'balance'
  | 'no-pool'
  | 'insufficient-output'
  | PolicyRefusalKind;

/** The market when a voted batch runs: pools, the feeds as read then, and the block time. */
export type ExecutionMarket = {
  pools: Readonly<Record<string, PoolReserves>>;
  feeds: Readonly<Record<string, FeedReading>>;
  now: number;
  maxFeedAgeSeconds: number;
  /** The decision's validity window (unix seconds); absent: always valid. */
  validAfter?: number;
  validUntil?: number;
};

/**
 * Runs a voted batch against the pools exactly as PolicySwapper.execute does on chain, all or nothing: the
 * window, then per swap the feeds (decimals, positive, not from the future, fresh), the floor, the minimum out
 * against the oracle price, the balance and the pool's output. Pure: the backtest's model of execution.
 */
export function executePolicySwaps(
  tokens: readonly TokenInfo[],
  balances: Readonly<Record<string, bigint>>,
  market: ExecutionMarket,
  swaps: readonly PlannedSwap[],
): SwapOutcome {
  const { now } = market;
  if (market.validAfter !== undefined && now < market.validAfter) {
    return { ok: false, index: 0, kind: 'not-yet-valid', reason: `not valid before ${market.validAfter}` };
  }
  if (market.validUntil !== undefined && now > market.validUntil) {
    return {
      ok: false,
      index: 0,
      kind: 'validity-ended',
      reason: `the voted validity window ended at ${market.validUntil}`,
    };
  }
  const decimals: Record<string, number> = {};
  for (const t of tokens) decimals[t.symbol] = t.decimals;
  const b: Record<string, bigint> = { ...balances };
  const p: Record<string, PoolReserves> = { ...market.pools };
  const amountsOut: bigint[] = [];
  const required: { oraclePrice: bigint; requiredOut: bigint }[] = [];
  for (let i = 0; i < swaps.length; i++) {
    const swap = swaps[i]!;
    const tokenSide = swap.sell === HUB ? swap.buy : swap.sell;
    const pool = p[tokenSide];
    if (!pool) return { ok: false, index: i, kind: 'no-pool', reason: `no ${tokenSide}/${HUB} pool` };
    const feedIn = market.feeds[swap.sell];
    const feedOut = market.feeds[swap.buy];
    if (!feedIn || !feedOut) {
      return {
        ok: false,
        index: i,
        kind: 'stale-feed',
        reason: `no feed answer for ${swap.sell} or ${swap.buy}`,
      };
    }
    const quoted = quotePolicy({
      amountIn: swap.amountIn,
      decimalsIn: decimals[swap.sell]!,
      decimalsOut: decimals[swap.buy]!,
      feedIn,
      feedOut,
      policy: swap.policy,
      maxFeedAgeSeconds: market.maxFeedAgeSeconds,
      now,
      symbolIn: swap.sell,
      symbolOut: swap.buy,
    });
    if (!quoted.ok) return { ok: false, index: i, kind: quoted.refusal.kind, reason: quoted.refusal.reason };
    if ((b[swap.sell] ?? 0n) < swap.amountIn) {
      const held = units(b[swap.sell] ?? 0n, decimals[swap.sell]!);
      return {
        ok: false,
        index: i,
        kind: 'balance',
        reason: `sells ${units(swap.amountIn, decimals[swap.sell]!)} ${swap.sell} but holds only ${held} ${swap.sell}`,
      };
    }
    const selling = swap.sell !== HUB;
    const out = selling
      ? getAmountOut(swap.amountIn, pool.reserveToken, pool.reserveUsdc)
      : getAmountOut(swap.amountIn, pool.reserveUsdc, pool.reserveToken);
    if (out < quoted.quote.requiredOut) {
      return {
        ok: false,
        index: i,
        kind: 'insufficient-output',
        reason: `${swap.sell} → ${swap.buy}: the pool would return ${units(out, decimals[swap.buy]!)} ${swap.buy}, below the ${units(quoted.quote.requiredOut, decimals[swap.buy]!)} ${swap.buy} the oracle price allows`,
      };
    }
    p[tokenSide] = selling
      ? { reserveToken: pool.reserveToken + swap.amountIn, reserveUsdc: pool.reserveUsdc - out }
      : { reserveToken: pool.reserveToken - out, reserveUsdc: pool.reserveUsdc + swap.amountIn };
    b[swap.sell] = (b[swap.sell] ?? 0n) - swap.amountIn;
    b[swap.buy] = (b[swap.buy] ?? 0n) + out;
    amountsOut.push(out);
    required.push({ oraclePrice: quoted.quote.oraclePrice, requiredOut: quoted.quote.requiredOut });
  }
  return { ok: true, balances: b, pools: p, amountsOut, required };
}
