import type { z } from 'zod';

/** A token as strategies see it (from the config's `tokens`). */
export type TokenInfo = {
  symbol: string;
  decimals: number;
  role: 'governance' | 'stable' | 'risk';
  /** Asset name in the price history, e.g. WETH → ETH. */
  priceAsset: string;
};

/**
 * Market data as of one day, and nothing after it. Every price and close in it is finite and above zero;
 * a token without a valid price is simply absent from `prices` (and cannot receive a weight).
 */
export type MarketSnapshot = {
  /** ISO date (UTC) of the snapshot; the last close in every series is dated asOf (or carried ≤ a few days). */
  asOf: string;
  /** Days since 1970-01-01 of asOf. */
  day: number;
  /** Every configured token, by symbol. */
  tokens: Readonly<Record<string, TokenInfo>>;
  /** USD price at asOf, by symbol. */
  prices: Readonly<Record<string, number>>;
  /** The last `lookbackDays + 1` daily closes (oldest first) for symbols with a full, valid window. */
  closes: Readonly<Record<string, Float64Array>>;
  lookbackDays: number;
};

/** What the treasury holds (base units) and what it spends, as strategies see it. */
export type Holdings = {
  balances: Readonly<Record<string, bigint>>;
  /** USD paid out per month from stablecoins. */
  monthlySpendUsd: number;
};

/** Target weights in basis points by symbol: integers ≥ 0 that add up to exactly 10,000. */
export type WeightsBps = Record<string, number>;

/** A pure allocation rule: no I/O, no clock, no randomness. */
export type Strategy<P = unknown> = {
  id: string;
  /** Bumped whenever the same inputs could give different weights. */
  version: string;
  summary: string;
  /** Bounds and defaults of the params. */
  paramsSchema: z.ZodType<P>;
  /** Days of history (before asOf) the strategy reads, given its params. */
  lookbackDays: (params: P) => number;
  targetWeights: (snapshot: MarketSnapshot, holdings: Holdings, params: P) => WeightsBps;
  /** True when the weights depend only on the snapshot (not on holdings): sweeps may then share them. */
  holdingsIndependent?: (params: P) => boolean;
};

/** Fractions ≥ 0 by symbol adding up to 1 (overlays work on these; weights are rounded to bps once, at the end). */
export type Shares = Readonly<Record<string, number>>;

/** The priced holdings as shares of the treasury (computed once per decision and shared by overlays). */
export type Position = { shares: Readonly<Record<string, number>>; totalUsd: number };

/**
 * A minimum an overlay guarantees (e.g. the runway floor: at least `share` of the treasury in these stablecoins
 * combined). Later overlays that move weight between assets on their own account (the governance cap keeping the
 * DAO's token) must not take those symbols below it.
 */
export type Floor = { by: string; symbols: readonly string[]; share: number };

/** A rule applied on top of a strategy's weights (runway floor, caps, max step, volatility target, bands). */
export type Overlay<P = unknown> = {
  id: string;
  version: string;
  summary: string;
  paramsSchema: z.ZodType<P>;
  lookbackDays: (params: P) => number;
  /**
   * Takes and returns shares (fractions adding up to 1). `position` is positionOf(snapshot, holdings), passed
   * in so overlays need not recompute it; `floors` are the minimums set by the overlays applied before this one.
   */
  adjust: (
    weights: Shares,
    snapshot: MarketSnapshot,
    holdings: Holdings,
    params: P,
    position?: Position,
    floors?: readonly Floor[],
  ) => Shares;
  /** The minimum this overlay guarantees (its output meets it), which the overlays after it must keep. */
  floor?: (snapshot: MarketSnapshot, holdings: Holdings, params: P, position: Position) => Floor | undefined;
};

/** A strategy with its params bound (and overlays applied): what the agent and the backtest call. */
export type ConfiguredStrategy = {
  id: string;
  version: string;
  lookbackDays: number;
  /** One line for people, e.g. "risk-parity(WETH,WBTC) → runway-floor(24m) → …". */
  description: string;
  targetWeights: (snapshot: MarketSnapshot, holdings: Holdings) => WeightsBps;
};
