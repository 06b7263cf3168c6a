/** Deterministic PRNG (mulberry32) so failures and benchmark inputs reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random positive definite covariance: B Bᵀ / k plus a ridge on the diagonal. With `scaledAssets`, each asset's
 * row of B is scaled by its own factor (assets of different volatility), drawn first from `next`.
 */
export function randomCovariance(
  n: number,
  next: () => number,
  options: { ridge: number; scaledAssets: boolean },
): number[][] {
  const k = n + 3;
  const scale = options.scaledAssets ? Array.from({ length: n }, () => 0.05 + next()) : undefined;
  const b = Array.from({ length: n }, (_, i) =>
    Array.from({ length: k }, () => (next() * 2 - 1) * (scale ? scale[i]! : 1)),
  );
  return b.map((ri, i) =>
    b.map((rj, j) => ri.reduce((s, v, m) => s + v * rj[m]!, 0) / k + (i === j ? options.ridge : 0)),
  );
}
