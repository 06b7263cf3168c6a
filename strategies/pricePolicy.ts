/**
 * The price policy voters approve instead of a fixed minimum out (../shared/EXECUTION.md), as pure bigint math.
 * contracts/solidity/PolicySwapper.sol enforces exactly these formulas on chain when the voted batch runs; the
 * backtest and the planner use them here, so there is one model of execution (a differential test compares the
 * two on the devnet).
 *
 * Prices are "whole tokenOut per whole tokenIn, scaled by 1e18", read from two USD feeds of equal decimals:
 *   oraclePrice = answerIn × 1e18 / answerOut
 *   oracleOut   = amountIn × oraclePrice × 10^decimalsOut / (1e18 × 10^decimalsIn)
 *   minOut      = oracleOut × (10,000 − slippageBps) / 10,000
 *   floorOut    = amountIn × floorPrice × 10^decimalsOut / (1e18 × 10^decimalsIn)
 *   requiredOut = max(minOut, floorOut); the trade is refused when oraclePrice < floorPrice
 * and the swap must return at least requiredOut.
 */

export const PRICE_SCALE = 10n ** 18n;
export const MAX_BPS = 10_000;
/** USD feeds report 8 decimals, like Chainlink's. */
export const FEED_DECIMALS = 8;

/** What voters approve for one swap, besides the tokens and the amount in. */
export type PricePolicy = {
  /** The minimum out at execution is the oracle's amount out less this (pool fee, price impact, tolerance). */
  slippageBps: number;
  /** The worst price voters accept, whole tokenOut per whole tokenIn × 1e18, fixed when drafting. */
  floorPrice: bigint;
};

/** One feed answer as read on chain (latestRoundData + decimals). */
export type FeedReading = { answer: bigint; updatedAt: number; decimals: number };

export type PolicyQuote = {
  oraclePrice: bigint;
  oracleOut: bigint;
  minOut: bigint;
  floorOut: bigint;
  /** max(minOut, floorOut): what the swap must return. */
  requiredOut: bigint;
};

export type PolicyRefusalKind =
  | 'feed-decimals'
  | 'non-positive-answer'
  | 'feed-from-future'
  | 'stale-feed'
  | 'below-floor'
  | 'bad-policy';

export type PolicyRefusal = { kind: PolicyRefusalKind; reason: string };

const POW10: bigint[] = Array.from({ length: 78 }, (_, k) => 10n ** BigInt(k));

/** A USD price as a feed answer with `decimals` decimals (the same rounding as the devnet's feeds). */
export function feedAnswerOf(usd: number, decimals = FEED_DECIMALS): bigint {
  if (!(usd > 0) || !Number.isFinite(usd)) throw new RangeError(`a feed price must be above 0, got ${usd}`);
  const [whole, fraction = ''] = usd.toFixed(decimals).split('.');
  return BigInt(`${whole}${fraction}`);
}

/** Whole tokenOut per whole tokenIn × 1e18, from two USD answers of equal decimals. */
export function oraclePriceOf(answerIn: bigint, answerOut: bigint): bigint {
  return (answerIn * PRICE_SCALE) / answerOut;
}

/** Base units of tokenOut that `amountIn` base units of tokenIn buy at `price` (× 1e18), rounded down. */
export function amountAtPrice(
  amountIn: bigint,
  price: bigint,
  decimalsIn: number,
  decimalsOut: number,
): bigint {
  return (amountIn * price * POW10[decimalsOut]!) / (PRICE_SCALE * POW10[decimalsIn]!);
}

/** The floor voters accept: the drafting oracle price less `floorBps`. */
export function floorPriceOf(oraclePrice: bigint, floorBps: number): bigint {
  return (oraclePrice * BigInt(MAX_BPS - floorBps)) / BigInt(MAX_BPS);
}

/** A price × 1e18 as a number (for people and for floats in reports). */
export function priceToNumber(price: bigint): number {
  return Number(price) / 1e18;
}

/** The feed checks of the contract: expected decimals, a positive answer, not from the future, fresh enough. */
export function checkFeed(
  feed: FeedReading,
  what: string,
  expectedDecimals: number,
  maxFeedAgeSeconds: number,
  now: number,
): PolicyRefusal | undefined {
  if (feed.decimals !== expectedDecimals) {
    return {
      kind: 'feed-decimals',
      reason: `${what} feed reports ${feed.decimals} decimals, the policy expects ${expectedDecimals}`,
    };
  }
  if (feed.answer <= 0n)
    return { kind: 'non-positive-answer', reason: `${what} feed answer ${feed.answer} is not above 0` };
  if (feed.updatedAt > now) {
    return {
      kind: 'feed-from-future',
      reason: `${what} feed was updated at ${feed.updatedAt}, after the block time ${now}`,
    };
  }
  if (now - feed.updatedAt > maxFeedAgeSeconds) {
    return {
      kind: 'stale-feed',
      reason: `${what} feed is ${now - feed.updatedAt} s old, more than the ${maxFeedAgeSeconds} s allowed`,
    };
  }
  return undefined;
}

/**
 * What the policy requires of one swap now: the contract's quote. Refuses (like the contract reverts) on a bad
 * feed or when the oracle price is below the floor.
 */
export function quotePolicy(params: {
  amountIn: bigint;
  decimalsIn: number;
  decimalsOut: number;
  feedIn: FeedReading;
  feedOut: FeedReading;
  policy: PricePolicy;
  feedDecimals?: number;
  maxFeedAgeSeconds: number;
  now: number;
  /** Names for reasons, e.g. GOV and USDC. */
  symbolIn?: string;
  symbolOut?: string;
}): { ok: true; quote: PolicyQuote } | { ok: false; refusal: PolicyRefusal } {
  const { amountIn, decimalsIn, decimalsOut, policy } = params;
  const symbolIn = params.symbolIn ?? 'tokenIn';
  const symbolOut = params.symbolOut ?? 'tokenOut';
  if (policy.slippageBps < 0 || policy.slippageBps >= MAX_BPS || !Number.isInteger(policy.slippageBps)) {
    return { ok: false, refusal: { kind: 'bad-policy', reason: `slippage ${policy.slippageBps} bps` } };
  }
  const expected = params.feedDecimals ?? FEED_DECIMALS;
  const refusal =
    checkFeed(params.feedIn, symbolIn, expected, params.maxFeedAgeSeconds, params.now) ??
    checkFeed(params.feedOut, symbolOut, expected, params.maxFeedAgeSeconds, params.now);
  if (refusal) return { ok: false, refusal };
  const oraclePrice = oraclePriceOf(params.feedIn.answer, params.feedOut.answer);
  if (oraclePrice < policy.floorPrice) {
    return {
      ok: false,
      refusal: {
        kind: 'below-floor',
        reason: `the oracle price ${priceToNumber(oraclePrice).toPrecision(6)} ${symbolOut} per ${symbolIn} is below the voted floor ${priceToNumber(policy.floorPrice).toPrecision(6)}`,
      },
    };
  }
  const oracleOut = amountAtPrice(amountIn, oraclePrice, decimalsIn, decimalsOut);
  const minOut = (oracleOut * BigInt(MAX_BPS - policy.slippageBps)) / BigInt(MAX_BPS);
  const floorOut = amountAtPrice(amountIn, policy.floorPrice, decimalsIn, decimalsOut);
  return {
    ok: true,
    quote: { oraclePrice, oracleOut, minOut, floorOut, requiredOut: minOut > floorOut ? minOut : floorOut },
  };
}
