import { z } from 'zod';
import { MarketDataError } from '../shared/errors.ts';
import { equalRiskContributionWeights, inverseVolatilityWeights } from './allocators.ts';
import { covarianceMatrix, dailyReturns } from './stats.ts';
import { BpsSchema, StrategySymbolSchema } from './symbols.ts';
import type { Holdings, MarketSnapshot, Strategy, WeightsBps } from './types.ts';
import { currentShares, pricedStables, TOTAL_BPS, toBasisPoints } from './weights.ts';

/** Every weight within ±bandBps of its target (symbols missing on one side count as 0). */
export function withinDriftBands(
  current: Readonly<Record<string, number>>,
  targetBps: WeightsBps,
  bandBps: number,
): boolean {
  const symbols = new Set([...Object.keys(current), ...Object.keys(targetBps)]);
  for (const symbol of symbols) {
    const now = (current[symbol] ?? 0) * TOTAL_BPS;
    if (Math.abs(now - (targetBps[symbol] ?? 0)) > bandBps) return false;
  }
  return true;
}

/** The current allocation in basis points (to keep things as they are); falls back to `otherwise`. */
export function currentWeightsBps(
  snapshot: MarketSnapshot,
  holdings: Holdings,
  otherwise: WeightsBps,
): WeightsBps {
  const shares = currentShares(snapshot, holdings);
  return Object.keys(shares).length > 0 ? toBasisPoints(shares) : otherwise;
}

/** Everything into the priced stablecoins, equally; the last resort when nothing else has a price. */
export function allInStables(snapshot: MarketSnapshot, who: string): WeightsBps {
  const stables = pricedStables(snapshot);
  if (stables.length === 0) {
    throw new MarketDataError(`${who}: no asset and no stablecoin has a price on ${snapshot.asOf}`);
  }
  return toBasisPoints(Object.fromEntries(stables.map((s) => [s, 1])));
}

/** Spreads weights of unpriced symbols pro rata over the priced ones. */
function dropUnpriced(snapshot: MarketSnapshot, shares: Record<string, number>, who: string): WeightsBps {
  const priced: Record<string, number> = {};
  for (const [symbol, share] of Object.entries(shares)) {
    if (snapshot.prices[symbol] !== undefined && share > 0) priced[symbol] = share;
  }
  return Object.keys(priced).length > 0 ? toBasisPoints(priced) : allInStables(snapshot, who);
}

const WeightsRecordSchema = z.record(StrategySymbolSchema, BpsSchema).superRefine((weights, ctx) => {
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  if (total !== TOTAL_BPS) {
    ctx.addIssue({ code: 'custom', message: `weights must add up to 10000 basis points, got ${total}` });
  }
});

export const FixedWeightsParamsSchema = z.strictObject({
  /** Target share per symbol in basis points, adding up to 10,000. */
  weights: WeightsRecordSchema,
  /** Rebalance only when some asset is more than this many basis points away from its target (0 = always). */
  driftBandBps: z.number().int().min(0).max(5_000).default(0),
});
export type FixedWeightsParams = z.infer<typeof FixedWeightsParamsSchema>;

/** Fixed target weights with drift bands, e.g. 60% WETH / 40% stables. Unpriced symbols' weight is spread. */
export const fixedWeights: Strategy<FixedWeightsParams> = {
  id: 'fixed-weights',
  version: '1',
  summary: 'fixed target weights, rebalanced when an asset leaves its drift band',
  paramsSchema: FixedWeightsParamsSchema,
  lookbackDays: () => 0,
  holdingsIndependent: (params) => params.driftBandBps === 0,
  targetWeights(snapshot, holdings, params) {
    const target = dropUnpriced(snapshot, params.weights, 'fixed-weights');
    if (params.driftBandBps > 0) {
      const current = currentShares(snapshot, holdings);
      if (Object.keys(current).length > 0 && withinDriftBands(current, target, params.driftBandBps)) {
        return toBasisPoints(current);
      }
    }
    return target;
  },
};

export const EqualWeightParamsSchema = z.strictObject({
  /** Symbols to split equally (default: every token with a price). */
  assets: z.array(StrategySymbolSchema).min(1).optional(),
});
export type EqualWeightParams = z.infer<typeof EqualWeightParamsSchema>;

/** 1/N over the priced assets. */
export const equalWeight: Strategy<EqualWeightParams> = {
  id: 'equal-weight',
  version: '1',
  summary: '1/N over the listed (or all) priced tokens',
  paramsSchema: EqualWeightParamsSchema,
  lookbackDays: () => 0,
  holdingsIndependent: () => true,
  targetWeights(snapshot, _holdings, params) {
    const symbols = params.assets ?? Object.keys(snapshot.tokens);
    return dropUnpriced(snapshot, Object.fromEntries(symbols.map((s) => [s, 1])), 'equal-weight');
  },
};

export const HoldParamsSchema = z.strictObject({});
/** Keep the current allocation (never trades); the "hold as-is" baseline. */
export const hold: Strategy<Record<string, never>> = {
  id: 'hold',
  version: '1',
  summary: 'keep the current allocation',
  paramsSchema: HoldParamsSchema as z.ZodType<Record<string, never>>,
  lookbackDays: () => 0,
  targetWeights(snapshot, holdings) {
    return currentWeightsBps(snapshot, holdings, allInStables(snapshot, 'hold'));
  },
};

export const RiskAllocationParamsSchema = z.strictObject({
  /** The risky assets to allocate over, e.g. [WETH, WBTC]. */
  assets: z.array(StrategySymbolSchema).min(1).max(20),
  /** Days of daily returns for the covariance. */
  lookbackDays: z.number().int().min(10).max(730).default(90),
});
export type RiskAllocationParams = z.infer<typeof RiskAllocationParamsSchema>;

function riskAllocation(
  snapshot: MarketSnapshot,
  params: RiskAllocationParams,
  who: string,
  allocate: (cov: number[][]) => number[],
): WeightsBps {
  // assets with a full window of closes; assets that started recently are left out until they have one
  const need = params.lookbackDays + 1;
  const symbols: string[] = [];
  for (const s of params.assets) {
    if ((snapshot.closes[s]?.length ?? 0) >= need && !symbols.includes(s)) symbols.push(s);
  }
  symbols.sort();
  if (symbols.length === 0) {
    const priced = params.assets.filter((s) => snapshot.prices[s] !== undefined);
    return priced.length > 0
      ? toBasisPoints(Object.fromEntries(priced.map((s) => [s, 1])))
      : allInStables(snapshot, who);
  }
  const returns: Float64Array[] = [];
  for (const s of symbols) {
    const closes = snapshot.closes[s]!;
    returns.push(dailyReturns(closes.subarray(closes.length - need)));
  }
  const cov = covarianceMatrix(returns);
  // a flat series (zero variance) cannot be weighted by risk: give it a small variance
  let smallest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < cov.length; i++) if (cov[i]![i]! > 0) smallest = Math.min(smallest, cov[i]![i]!);
  const shares: Record<string, number> = {};
  if (smallest === Number.POSITIVE_INFINITY) {
    for (const s of symbols) shares[s] = 1;
    return toBasisPoints(shares);
  }
  for (let i = 0; i < cov.length; i++) if (!(cov[i]![i]! > 0)) cov[i]![i] = smallest * 1e-3;
  const w = allocate(cov);
  for (let i = 0; i < symbols.length; i++) shares[symbols[i]!] = w[i]!;
  return toBasisPoints(shares);
}

/** Inverse volatility over a lookback window: w_i ∝ 1/σ_i. */
export const inverseVolatility: Strategy<RiskAllocationParams> = {
  id: 'inverse-volatility',
  version: '1',
  summary: 'weights proportional to 1/volatility over the lookback window',
  paramsSchema: RiskAllocationParamsSchema,
  lookbackDays: (params) => params.lookbackDays,
  holdingsIndependent: () => true,
  targetWeights: (snapshot, _holdings, params) =>
    riskAllocation(snapshot, params, 'inverse-volatility', (cov) =>
      inverseVolatilityWeights(cov.map((row, i) => row[i]!)),
    ),
};

/** Equal risk contribution (risk parity) over a lookback window. */
export const riskParity: Strategy<RiskAllocationParams> = {
  id: 'risk-parity',
  version: '1',
  summary: 'equal risk contribution over the lookback window',
  paramsSchema: RiskAllocationParamsSchema,
  lookbackDays: (params) => params.lookbackDays,
  holdingsIndependent: () => true,
  targetWeights: (snapshot, _holdings, params) =>
    riskAllocation(snapshot, params, 'risk-parity', (cov) => equalRiskContributionWeights(cov)),
};
