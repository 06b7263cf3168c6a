import { z } from 'zod';
import { covarianceMatrix, dailyReturns } from './stats.ts';
import { StrategySymbolSchema } from './symbols.ts';
import type { Floor, Holdings, MarketSnapshot, Overlay, Position, Shares, TokenInfo } from './types.ts';
import { positionOf, pricedStables, TOTAL_BPS } from './weights.ts';

function isStableIn(tokens: Readonly<Record<string, TokenInfo>>, symbol: string): boolean {
  return tokens[symbol]?.role === 'stable';
}

/** A mutable copy of the shares. */
function fractions(shares: Shares): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s in shares) if (shares[s]! > 0) out[s] = shares[s]!;
  return out;
}

/** Adds `share` to the stables: pro rata to their weights in `into` if any, else equally. */
function addToStables(into: Record<string, number>, stables: string[], share: number): void {
  if (share <= 0) return;
  const present = stables.reduce((a, s) => a + (into[s] ?? 0), 0);
  for (const s of stables) {
    into[s] = (into[s] ?? 0) + (present > 0 ? ((into[s] ?? 0) / present) * share : share / stables.length);
  }
}

export const RunwayFloorParamsSchema = z.strictObject({
  /** Months of the DAO's monthly spend that must sit in stablecoins. */
  months: z.number().min(0).max(240).default(24),
  /** Stablecoins that count (default: every token with role stable). */
  stables: z.array(StrategySymbolSchema).min(1).optional(),
});
export type RunwayFloorParams = z.infer<typeof RunwayFloorParamsSchema>;

/** The share of the treasury the runway floor keeps in which stablecoins (undefined: no floor applies). */
function runwayFloorOf(
  snapshot: MarketSnapshot,
  holdings: Holdings,
  params: RunwayFloorParams,
  position: Position,
): Floor | undefined {
  const stables = pricedStables(snapshot, params.stables);
  const total = position.totalUsd;
  if (stables.length === 0 || total <= 0 || holdings.monthlySpendUsd <= 0 || params.months <= 0)
    return undefined;
  return {
    by: 'runway-floor',
    symbols: stables,
    share: Math.min(1, (params.months * holdings.monthlySpendUsd) / total),
  };
}

/** At least `months` × monthly spend in stablecoins, taken pro rata from everything else. */
export const runwayFloor: Overlay<RunwayFloorParams> = {
  id: 'runway-floor',
  version: '1',
  summary: 'keep N months of spending in stablecoins',
  paramsSchema: RunwayFloorParamsSchema,
  lookbackDays: () => 0,
  floor: runwayFloorOf,
  adjust(weights, snapshot, holdings, params, position = positionOf(snapshot, holdings)) {
    const runway = runwayFloorOf(snapshot, holdings, params, position);
    if (!runway) return weights;
    const stables = runway.symbols as string[];
    const floor = runway.share;
    const w = fractions(weights);
    const inStables = stables.reduce((a, s) => a + (w[s] ?? 0), 0);
    if (inStables >= floor) return weights;
    const others = 1 - inStables;
    const keep = others > 0 ? (1 - floor) / others : 0;
    for (const s of Object.keys(w)) if (!stables.includes(s)) w[s] = (w[s] ?? 0) * keep;
    addToStables(w, stables, floor - inStables);
    return w;
  },
};

export const GovernanceCapParamsSchema = z.strictObject({
  /** The most the DAO's own token may weigh, in basis points. */
  maxBps: z.number().int().min(0).max(10_000).default(5_000),
  /**
   * true (default): keep holding the governance token up to the cap (the strategy's other weights share the
   * rest); false: only cap what the strategy gave it.
   */
  keepHeld: z.boolean().default(true),
});
export type GovernanceCapParams = z.infer<typeof GovernanceCapParamsSchema>;

/**
 * How much can be taken pro rata from `group` (whose weights add up to `total`) while `floor` still holds:
 * its symbols in the group shrink with it, the others (except `skip`) stay as they are.
 */
function roomAbove(
  out: Readonly<Record<string, number>>,
  group: readonly string[],
  total: number,
  floor: Floor,
  skip: string,
): number {
  let inGroup = 0;
  let outside = 0;
  for (const s of floor.symbols) {
    if (s === skip) continue;
    if (group.includes(s)) inGroup += out[s] ?? 0;
    else outside += out[s] ?? 0;
  }
  if (inGroup <= 0) return Number.POSITIVE_INFINITY;
  return Math.max(0, total * (1 - (floor.share - outside) / inGroup));
}

/**
 * The DAO's own token at most maxBps; the rest goes to the other weights pro rata. With keepHeld, the token is
 * kept up to the cap out of the other weights, but never out of a floor set before (the runway comes first).
 */
export const governanceCap: Overlay<GovernanceCapParams> = {
  id: 'governance-cap',
  version: '2',
  summary: "cap the DAO's own token",
  paramsSchema: GovernanceCapParamsSchema,
  lookbackDays: () => 0,
  adjust(weights, snapshot, holdings, params, position = positionOf(snapshot, holdings), floors = []) {
    const gov = Object.keys(snapshot.tokens).find((s) => snapshot.tokens[s]?.role === 'governance');
    if (!gov || snapshot.prices[gov] === undefined) return weights;
    const w = fractions(weights);
    const current = position.shares[gov] ?? 0;
    const wanted = params.keepHeld ? Math.max(w[gov] ?? 0, current) : (w[gov] ?? 0);
    const govShare = Math.min(wanted, params.maxBps / TOTAL_BPS);
    const rest = 1 - (w[gov] ?? 0);
    if (rest <= 0) {
      // the strategy put everything in the governance token: the excess goes to stables
      const out: Record<string, number> = { [gov]: govShare };
      const stables = pricedStables(snapshot);
      if (stables.length === 0) return weights;
      addToStables(out, stables, 1 - govShare);
      return out;
    }
    const out: Record<string, number> = {};
    for (const [s, v] of Object.entries(w)) if (s !== gov) out[s] = v;
    out[gov] = govShare;
    const need = govShare - (w[gov] ?? 0);
    if (need <= 0) {
      // capped down: the excess goes to the other weights pro rata
      for (const s of Object.keys(out)) if (s !== gov) out[s] = (out[s] ?? 0) * ((1 - govShare) / rest);
      return out;
    }
    // kept up to the cap: taken from the other risky assets first, then from stables but never below a floor
    // set before this (a runway floor); what cannot be kept is sold
    const risky = Object.keys(out).filter((s) => s !== gov && !isStableIn(snapshot.tokens, s));
    const stable = Object.keys(out).filter((s) => isStableIn(snapshot.tokens, s));
    let left = need;
    for (const group of [risky, stable]) {
      const total = group.reduce((a, s) => a + (out[s] ?? 0), 0);
      if (total <= 0 || left <= 0) continue;
      let take = Math.min(left, total);
      for (const floor of floors) take = Math.min(take, roomAbove(out, group, total, floor, gov));
      if (take <= 0) continue;
      for (const s of group) out[s] = (out[s] ?? 0) * (1 - take / total);
      left -= take;
    }
    if (left > 0) out[gov] = govShare - left;
    return out;
  },
};

export const MaxStepParamsSchema = z.strictObject({
  /** The most of the treasury one proposal moves toward the target, in basis points (one-way). */
  maxStepBps: z.number().int().min(1).max(10_000).default(1_000),
});
export type MaxStepParams = z.infer<typeof MaxStepParamsSchema>;

/** Moves from the current allocation toward the target by at most maxStepBps of the treasury. */
export const maxStep: Overlay<MaxStepParams> = {
  id: 'max-step',
  version: '1',
  summary: 'move at most a share of the treasury per proposal',
  paramsSchema: MaxStepParamsSchema,
  lookbackDays: () => 0,
  adjust(weights, snapshot, holdings, params, position = positionOf(snapshot, holdings)) {
    const current = position.shares;
    if (position.totalUsd <= 0) return weights;
    const target = fractions(weights);
    const symbols = new Set([...Object.keys(current), ...Object.keys(target)]);
    let moved = 0;
    for (const s of symbols) moved += Math.abs((target[s] ?? 0) - (current[s] ?? 0));
    moved /= 2;
    const limit = params.maxStepBps / TOTAL_BPS;
    if (moved <= limit) return weights;
    const k = limit / moved;
    const out: Record<string, number> = {};
    for (const s of symbols) {
      const c = current[s] ?? 0;
      out[s] = Math.max(0, c + ((target[s] ?? 0) - c) * k);
    }
    return out;
  },
};

export const DriftBandParamsSchema = z.strictObject({
  /** Keep the current allocation while every asset is within ±bandBps of its target. */
  bandBps: z.number().int().min(1).max(5_000).default(500),
});
export type DriftBandParams = z.infer<typeof DriftBandParamsSchema>;

/** No rebalance while every asset is within its band around the target. */
export const driftBand: Overlay<DriftBandParams> = {
  id: 'drift-band',
  version: '1',
  summary: 'rebalance only when an asset leaves its band',
  paramsSchema: DriftBandParamsSchema,
  lookbackDays: () => 0,
  adjust(weights, snapshot, holdings, params, position = positionOf(snapshot, holdings)) {
    const current = position.shares;
    if (position.totalUsd <= 0) return weights;
    for (const s in current)
      if (Math.abs(current[s]! - (weights[s] ?? 0)) * TOTAL_BPS > params.bandBps) return weights;
    for (const s in weights)
      if (Math.abs((current[s] ?? 0) - weights[s]!) * TOTAL_BPS > params.bandBps) return weights;
    return current;
  },
};

export const VolTargetParamsSchema = z.strictObject({
  /** Annualised volatility the risky sleeve should not exceed, e.g. 0.5 = 50%. */
  targetVolatility: z.number().min(0.01).max(5).default(0.5),
  lookbackDays: z.number().int().min(10).max(365).default(30),
  /** Which roles are scaled down (default: risk only; add governance to include the DAO's token). */
  roles: z
    .array(z.enum(['risk', 'governance']))
    .min(1)
    .default(['risk']),
});
export type VolTargetParams = z.infer<typeof VolTargetParamsSchema>;

/** Realised annualised volatility of a weighted basket over the last `lookbackDays` of the snapshot. */
export function basketVolatility(
  snapshot: MarketSnapshot,
  shares: Record<string, number>,
  lookbackDays: number,
) {
  const symbols = Object.keys(shares).filter((s) => (snapshot.closes[s]?.length ?? 0) >= lookbackDays + 1);
  if (symbols.length === 0) return undefined;
  const total = symbols.reduce((a, s) => a + (shares[s] ?? 0), 0);
  if (total <= 0) return undefined;
  const returns = symbols.map((s) => {
    const closes = snapshot.closes[s]!;
    return dailyReturns(closes.subarray(closes.length - lookbackDays - 1));
  });
  const cov = covarianceMatrix(returns);
  let variance = 0;
  for (let i = 0; i < symbols.length; i++) {
    for (let j = 0; j < symbols.length; j++) {
      variance += ((shares[symbols[i]!]! / total) * (shares[symbols[j]!]! / total) * cov[i]![j]!) as number;
    }
  }
  return Math.sqrt(Math.max(0, variance));
}

/** Scales the risky assets down by target/realised volatility; the rest goes to stablecoins. */
export const volTarget: Overlay<VolTargetParams> = {
  id: 'vol-target',
  version: '1',
  summary: 'scale risky assets down as realised volatility rises',
  paramsSchema: VolTargetParamsSchema,
  lookbackDays: (params) => params.lookbackDays,
  adjust(weights, snapshot, _holdings, params) {
    const w = fractions(weights);
    const risky: Record<string, number> = {};
    for (const [s, v] of Object.entries(w)) {
      const role = snapshot.tokens[s]?.role;
      if (role && role !== 'stable' && (params.roles as string[]).includes(role)) risky[s] = v;
    }
    const vol = basketVolatility(snapshot, risky, params.lookbackDays);
    const stables = pricedStables(snapshot);
    if (vol === undefined || vol <= params.targetVolatility || stables.length === 0) return weights;
    const scale = params.targetVolatility / vol;
    let freed = 0;
    for (const s of Object.keys(risky)) {
      freed += (w[s] ?? 0) * (1 - scale);
      w[s] = (w[s] ?? 0) * scale;
    }
    addToStables(w, stables, freed);
    return w;
  },
};
