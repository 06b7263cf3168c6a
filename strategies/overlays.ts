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
  /**
   * Months kept on top of the floor, so that the spending paid between two proposals (and a stablecoin a little
   * under $1) does not take the runway below `months` before the next proposal tops it up. The default, one
   * month, covers one monthly payment.
   */
  bufferMonths: z.number().min(0).max(24).default(1),
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
    share: Math.min(1, ((params.months + params.bufferMonths) * holdings.monthlySpendUsd) / total),
  };
}

/**
 * At least (`months` + `bufferMonths`) × monthly spend in stablecoins, taken pro rata from everything else.
 * That minimum is a floor the overlays after it keep (governance-cap, drift-band, max-step).
 */
export const runwayFloor: Overlay<RunwayFloorParams> = {
  id: 'runway-floor',
  version: '2',
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

/**
 * Moves `start` so that every floor holds (each floor's symbols together at least its share, but never more
 * than the target gives them), moving at most `limit` of the treasury (one-way). The share comes first from
 * the assets the target holds less of than `start` (pro rata to the excess), then from the other assets outside
 * the floor (pro rata to their shares); it goes to the floor's symbols the target holds more of than `start`
 * (pro rata to the gap), else pro rata to their target weights. Returns the shares and how much moved.
 */
export function fillFloors(
  start: Readonly<Record<string, number>>,
  target: Readonly<Record<string, number>>,
  floors: readonly Floor[],
  limit = Number.POSITIVE_INFINITY,
): { shares: Record<string, number>; moved: number } {
  const out: Record<string, number> = { ...start };
  let moved = 0;
  for (const floor of floors) {
    const inFloor = (s: string) => floor.symbols.includes(s);
    const have = floor.symbols.reduce((a, s) => a + (out[s] ?? 0), 0);
    const wanted = Math.min(
      floor.share,
      floor.symbols.reduce((a, s) => a + (target[s] ?? 0), 0),
    );
    const others = Object.keys(out).filter((s) => !inFloor(s) && (out[s] ?? 0) > 0);
    const available = others.reduce((a, s) => a + (out[s] ?? 0), 0);
    const fill = Math.min(wanted - have, limit - moved, available);
    if (!(fill > 1e-12)) continue;
    // from: first what the target sells, then the rest pro rata
    const excess = others.map((s) => Math.max(0, (out[s] ?? 0) - (target[s] ?? 0)));
    const excessTotal = excess.reduce((a, b) => a + b, 0);
    const fromExcess = Math.min(fill, excessTotal);
    others.forEach((s, i) => {
      if (excessTotal > 0) out[s] = (out[s] ?? 0) - (fromExcess * excess[i]!) / excessTotal;
    });
    const rest = fill - fromExcess;
    if (rest > 0) {
      const left = others.reduce((a, s) => a + (out[s] ?? 0), 0);
      for (const s of others) out[s] = Math.max(0, (out[s] ?? 0) * (1 - rest / left));
    }
    // to: the floor's symbols below their target, else by target weight, else equally
    const gaps = floor.symbols.map((s) => Math.max(0, (target[s] ?? 0) - (out[s] ?? 0)));
    const gapTotal = gaps.reduce((a, b) => a + b, 0);
    const weights = floor.symbols.map((s) => target[s] ?? 0);
    const weightTotal = weights.reduce((a, b) => a + b, 0);
    floor.symbols.forEach((s, i) => {
      const part =
        gapTotal > 0
          ? gaps[i]! / gapTotal
          : weightTotal > 0
            ? weights[i]! / weightTotal
            : 1 / floor.symbols.length;
      out[s] = (out[s] ?? 0) + fill * part;
    });
    moved += fill;
  }
  return { shares: out, moved };
}

/**
 * Moves from the current allocation toward the target by at most maxStepBps of the treasury. Floors set before
 * it (the runway floor) come first: the step fills them before anything else moves, and the rest of the step
 * then moves every asset toward the target together, so no buy takes a floor's symbols below it.
 */
export const maxStep: Overlay<MaxStepParams> = {
  id: 'max-step',
  version: '2',
  summary: 'move at most a share of the treasury per proposal, filling floors first',
  paramsSchema: MaxStepParamsSchema,
  lookbackDays: () => 0,
  adjust(weights, snapshot, holdings, params, position = positionOf(snapshot, holdings), floors = []) {
    if (position.totalUsd <= 0) return weights;
    const target = fractions(weights);
    const limit = params.maxStepBps / TOTAL_BPS;
    if (distance(position.shares, target) <= limit) return weights;
    const filled = fillFloors(position.shares, target, floors, limit);
    const start = filled.shares;
    const left = limit - filled.moved;
    if (left <= 1e-12) return start;
    const moved = distance(start, target);
    if (moved <= left) return weights;
    const k = left / moved;
    const out: Record<string, number> = {};
    for (const s of new Set([...Object.keys(start), ...Object.keys(target)])) {
      const c = start[s] ?? 0;
      out[s] = Math.max(0, c + ((target[s] ?? 0) - c) * k);
    }
    return out;
  },
};

/** Half the L1 distance between two allocations: the one-way share of the treasury that moves. */
function distance(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): number {
  let moved = 0;
  for (const s of new Set([...Object.keys(a), ...Object.keys(b)]))
    moved += Math.abs((b[s] ?? 0) - (a[s] ?? 0));
  return moved / 2;
}

export const DriftBandParamsSchema = z.strictObject({
  /** Keep the current allocation while every asset is within ±bandBps of its target. */
  bandBps: z.number().int().min(1).max(5_000).default(500),
});
export type DriftBandParams = z.infer<typeof DriftBandParamsSchema>;

/**
 * No rebalance while every asset is within its band around the target, except that floors set before it (the
 * runway floor) are always filled: then only the floor's shortfall moves.
 */
export const driftBand: Overlay<DriftBandParams> = {
  id: 'drift-band',
  version: '2',
  summary: 'rebalance only when an asset leaves its band (floors are always filled)',
  paramsSchema: DriftBandParamsSchema,
  lookbackDays: () => 0,
  adjust(weights, snapshot, holdings, params, position = positionOf(snapshot, holdings), floors = []) {
    const current = position.shares;
    if (position.totalUsd <= 0) return weights;
    for (const s in current)
      if (Math.abs(current[s]! - (weights[s] ?? 0)) * TOTAL_BPS > params.bandBps) return weights;
    for (const s in weights)
      if (Math.abs((current[s] ?? 0) - weights[s]!) * TOTAL_BPS > params.bandBps) return weights;
    return floors.length > 0 ? fillFloors(current, weights, floors).shares : current;
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
