import { TreasuryError } from '../shared/errors.ts';

/**
 * Risk-based allocators on a covariance matrix. Pure numerics: fractions that add up to 1 (rounding to basis
 * points happens in the strategies). Cross-checked against the npm package portfolio-allocation in the tests.
 */

/** w_i ∝ 1/σ_i, from the variances (the diagonal of the covariance matrix). */
export function inverseVolatilityWeights(variances: readonly number[]): number[] {
  let total = 0;
  const raw = variances.map((v, i) => {
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new TreasuryError(`inverse volatility: variance of asset ${i} must be above 0, got ${v}`);
    }
    const w = 1 / Math.sqrt(v);
    total += w;
    return w;
  });
  return raw.map((w) => w / total);
}

export type ErcOptions = {
  /** Stop when the criterion changes less than this between two cycles (default 1e-12). */
  tolerance?: number;
  /**
   * What `tolerance` bounds: `weights` (default), the largest relative change of a weight in one cycle; or
   * `objective`, the change of ½·√(yᵀΣy) − Σ b_i ln y_i, the quantity portfolio-allocation's
   * riskBudgetingWeights checks against its `eps` (both iterate toward the same point, where yᵀΣy = 1), so the
   * two can be stopped on the same criterion.
   */
  criterion?: 'weights' | 'objective';
  maxCycles?: number;
};

/**
 * Equal risk contribution (risk parity) weights: each asset contributes the same share of portfolio
 * variance, w_i (Σw)_i = w_j (Σw)_j. Cyclical coordinate descent on ½ yᵀΣy − Σ b_i ln y_i with b_i = 1/n
 * (Griveau-Billion, Richard, Roncalli 2013), then y normalised to sum 1. Needs a positive definite Σ.
 */
export function equalRiskContributionWeights(
  cov: readonly (readonly number[])[],
  options: ErcOptions = {},
): number[] {
  const n = cov.length;
  const tolerance = options.tolerance ?? 1e-12;
  const maxCycles = options.maxCycles ?? 10_000;
  if (n === 0) return [];
  for (let i = 0; i < n; i++) {
    const d = cov[i]?.[i];
    if (d === undefined || !(d > 0) || !Number.isFinite(d)) {
      throw new TreasuryError(`risk parity: variance of asset ${i} must be above 0, got ${d}`);
    }
  }
  if (n === 1) return [1];
  const b = 1 / n;
  // start from inverse volatility, scaled so that yᵀΣy ≈ 1
  const y = inverseVolatilityWeights(cov.map((row, i) => row[i]!));
  const sy = new Float64Array(n); // Σy
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += cov[i]![j]! * y[j]!;
    sy[i] = s;
  }
  const byObjective = options.criterion === 'objective';
  const objective = () => {
    let quad = 0;
    let logs = 0;
    for (let i = 0; i < n; i++) {
      quad += y[i]! * sy[i]!;
      logs += Math.log(y[i]!);
    }
    return 0.5 * Math.sqrt(Math.max(0, quad)) - b * logs;
  };
  let previous = byObjective ? objective() : 0;
  for (let cycle = 0; cycle < maxCycles; cycle++) {
    let moved = 0;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const row = cov[i]!;
      const sii = row[i]!;
      const yi = y[i]!;
      const others = sy[i]! - sii * yi;
      const next = (-others + Math.sqrt(others * others + 4 * sii * b)) / (2 * sii);
      const delta = next - yi;
      if (delta !== 0) {
        for (let j = 0; j < n; j++) sy[j] = sy[j]! + cov[j]![i]! * delta;
        y[i] = next;
      }
      moved = Math.max(moved, Math.abs(delta) / next);
      sum += next;
    }
    if (byObjective) {
      const current = objective();
      if (Math.abs(current - previous) <= tolerance) break;
      previous = current;
    } else if (moved < tolerance) break;
    if (!Number.isFinite(sum))
      throw new TreasuryError('risk parity did not converge (covariance not positive definite?)');
  }
  let total = 0;
  for (const v of y) total += v;
  return y.map((v) => v / total);
}
