import { DAYS_PER_YEAR } from '../stats.ts';

export type BacktestMetrics = {
  startValueUsd: number;
  endValueUsd: number;
  /** Total paid out for the DAO's spending over the window. */
  spentUsd: number;
  /** Compound annual growth of the time-weighted index (spending added back, so it measures the allocation). */
  cagr: number;
  /** Annualised standard deviation of daily time-weighted returns. */
  volatility: number;
  /** Annualised mean daily return / volatility (risk-free rate 0). */
  sharpe: number;
  /** Annualised mean daily return / annualised downside deviation. */
  sortino: number;
  /** Largest fall of the time-weighted index from a previous peak (0.35 = −35%). */
  maxDrawdown: number;
  /** One-way value traded per year / average treasury value. */
  turnover: number;
  /** Swap fees (0.3% of every input) in USD. */
  feesUsd: number;
  /** Cost of price impact (value lost beyond the fee) in USD. */
  priceImpactUsd: number;
  /** Lowest stablecoin holdings over the window, in months of spending (null when spending is 0). */
  minRunwayMonths: number | null;
  /** The runway floor the two figures below measure against, in months (null: no floor or no spending). */
  runwayFloorMonths: number | null;
  /**
   * Days from the start to the first day that ends with the runway at or above the floor (0: it started there);
   * null when it never gets there, or without a floor.
   */
  daysToRunwayFloor: number | null;
  /**
   * Runway breaches: days that end below the floor after it was first reached (every day of the window when it
   * never was; 0 without a floor).
   */
  runwayBreaches: number;
  proposals: number;
  executed: number;
  failed: number;
  /** USD moved by the proposals that reached execution (planned, one-way). */
  votedUsd: number;
  /** The part of votedUsd whose batches executed. */
  executedUsd: number;
  /** Why the other batches reverted, by the contract's refusal (below-floor, insufficient-output, …). */
  failures: Partial<Record<string, number>>;
  days: number;
};

export type MetricsInput = {
  values: Float64Array;
  /** USD paid out on each day (added back for time-weighted returns). */
  outflows: Float64Array;
  tradedUsd: number;
  feesUsd: number;
  priceImpactUsd: number;
  minRunwayMonths: number | null;
  /** Stablecoins in months of spending at the end of each day (for the runway floor figures). */
  runwayMonths?: Float64Array;
  runwayFloorMonths?: number | null;
  proposals: number;
  executed: number;
  failed: number;
  votedUsd: number;
  executedUsd: number;
  failures: Partial<Record<string, number>>;
};

/** Days to reach the floor and days below it afterwards (see BacktestMetrics). */
export function runwayFloorFigures(
  runwayMonths: ArrayLike<number> | undefined,
  floorMonths: number | null | undefined,
): { daysToRunwayFloor: number | null; runwayBreaches: number } {
  if (!runwayMonths || floorMonths === null || floorMonths === undefined || !(floorMonths > 0))
    return { daysToRunwayFloor: null, runwayBreaches: 0 };
  // a hair of tolerance, so that a runway exactly at the floor is not a breach by rounding
  const floor = floorMonths * (1 - 1e-9);
  let reached = -1;
  let breaches = 0;
  for (let d = 0; d < runwayMonths.length; d++) {
    const r = runwayMonths[d]!;
    if (reached < 0) {
      if (r >= floor) reached = d;
    } else if (!(r >= floor)) breaches++;
  }
  return reached < 0
    ? { daysToRunwayFloor: null, runwayBreaches: runwayMonths.length }
    : { daysToRunwayFloor: reached, runwayBreaches: breaches };
}

/** The time-weighted index (1 on the first day) of a value series with outflows. */
export function timeWeightedIndex(values: Float64Array, outflows: Float64Array): Float64Array {
  const index = new Float64Array(values.length);
  if (values.length === 0) return index;
  index[0] = 1;
  for (let t = 1; t < values.length; t++) {
    const prev = values[t - 1]!;
    const r = prev > 0 ? (values[t]! + outflows[t]!) / prev - 1 : 0;
    index[t] = index[t - 1]! * (1 + r);
  }
  return index;
}

/** Drawdown of an index from its running peak, per day (0 at a peak, 0.2 = 20% below it). */
export function drawdowns(index: Float64Array): Float64Array {
  const out = new Float64Array(index.length);
  let peak = 0;
  for (let t = 0; t < index.length; t++) {
    peak = Math.max(peak, index[t]!);
    out[t] = peak > 0 ? 1 - index[t]! / peak : 0;
  }
  return out;
}

export function computeMetrics(input: MetricsInput): BacktestMetrics {
  const { values, outflows } = input;
  const n = values.length;
  const index = timeWeightedIndex(values, outflows);
  let sum = 0;
  let sumSq = 0;
  let downSq = 0;
  for (let t = 1; t < n; t++) {
    const r = index[t]! / index[t - 1]! - 1;
    sum += r;
    sumSq += r * r;
    if (r < 0) downSq += r * r;
  }
  const count = Math.max(1, n - 1);
  const mean = sum / count;
  const variance = n > 2 ? (sumSq - count * mean * mean) / (count - 1) : 0;
  const volatility = Math.sqrt(Math.max(0, variance) * DAYS_PER_YEAR);
  const downside = Math.sqrt((downSq / count) * DAYS_PER_YEAR);
  const years = count / DAYS_PER_YEAR;
  const end = index[n - 1] ?? 1;
  const cagr = n > 1 && end > 0 ? end ** (1 / years) - 1 : end > 0 ? 0 : -1;
  let maxDrawdown = 0;
  for (const d of drawdowns(index)) maxDrawdown = Math.max(maxDrawdown, d);
  let avg = 0;
  for (const v of values) avg += v;
  avg /= Math.max(1, n);
  let spent = 0;
  for (const f of outflows) spent += f;
  return {
    startValueUsd: values[0] ?? 0,
    endValueUsd: values[n - 1] ?? 0,
    spentUsd: spent,
    cagr,
    volatility,
    sharpe: volatility > 0 ? (mean * DAYS_PER_YEAR) / volatility : 0,
    sortino: downside > 0 ? (mean * DAYS_PER_YEAR) / downside : 0,
    maxDrawdown,
    turnover: avg > 0 && years > 0 ? input.tradedUsd / 2 / avg / years : 0,
    feesUsd: input.feesUsd,
    priceImpactUsd: input.priceImpactUsd,
    minRunwayMonths: input.minRunwayMonths,
    runwayFloorMonths: input.runwayFloorMonths ?? null,
    ...runwayFloorFigures(input.runwayMonths, input.runwayFloorMonths),
    proposals: input.proposals,
    executed: input.executed,
    failed: input.failed,
    votedUsd: input.votedUsd,
    executedUsd: input.executedUsd,
    failures: input.failures,
    days: n,
  };
}
