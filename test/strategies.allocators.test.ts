import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { equalRiskContributionWeights, inverseVolatilityWeights } from '../strategies/allocators.ts';
import { randomCovariance, rng } from './support/random.ts';

// portfolio-allocation ships no types: the two functions used here, as documented in its README
const pa = createRequire(import.meta.url)('portfolio-allocation') as {
  equalRiskContributionWeights: (cov: number[][], opt?: object) => number[];
  inverseVolatilityWeights: (variances: number[]) => number[];
};

const diag = (vols: number[]) => vols.map((v, i) => vols.map((_, j) => (i === j ? v * v : 0)));

describe('equal risk contribution', () => {
  it('gives the published 48/24/16/12 for uncorrelated assets with volatilities 10/20/30/40%', () => {
    const w = equalRiskContributionWeights(diag([0.1, 0.2, 0.3, 0.4]));
    expect(w.map((x) => Math.round(x * 100))).toEqual([48, 24, 16, 12]);
    [0.48, 0.24, 0.16, 0.12].forEach((x, i) => {
      expect(w[i]).toBeCloseTo(x, 10);
    });
  });

  it('equalises risk contributions on a correlated matrix', () => {
    const cov = randomCovariance(5, rng(7), { ridge: 1e-4, scaledAssets: true });
    const w = equalRiskContributionWeights(cov);
    const contributions = w.map((wi, i) => wi * cov[i]!.reduce((s, c, j) => s + c * w[j]!, 0));
    for (const c of contributions) expect(c).toBeCloseTo(contributions[0]!, 12);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('agrees with portfolio-allocation to 1e-6 on random covariance matrices', () => {
    const next = rng(2024);
    for (let trial = 0; trial < 40; trial++) {
      const n = 2 + (trial % 9);
      const cov = randomCovariance(n, next, { ridge: 1e-4, scaledAssets: true });
      const ours = equalRiskContributionWeights(cov);
      const theirs = pa.equalRiskContributionWeights(cov, { eps: 1e-12 });
      ours.forEach((w, i) => {
        expect(Math.abs(w - theirs[i]!)).toBeLessThan(1e-6);
      });
    }
  });

  it("stopped on portfolio-allocation's criterion (the objective's change, same eps), both agree to 1e-9", () => {
    const next = rng(31);
    for (let trial = 0; trial < 40; trial++) {
      const cov = randomCovariance(2 + (trial % 9), next, { ridge: 1e-3, scaledAssets: false });
      const ours = equalRiskContributionWeights(cov, { criterion: 'objective', tolerance: 1e-12 });
      const theirs = pa.equalRiskContributionWeights(cov, { eps: 1e-12 });
      const exact = equalRiskContributionWeights(cov, { tolerance: 1e-15, maxCycles: 100_000 });
      ours.forEach((w, i) => {
        expect(Math.abs(w - theirs[i]!)).toBeLessThan(1e-9);
        expect(Math.abs(w - exact[i]!)).toBeLessThan(1e-9);
      });
    }
  });

  it('refuses a zero variance', () => {
    expect(() => equalRiskContributionWeights(diag([0.1, 0]))).toThrow(/variance of asset 1/);
  });
});

describe('inverse volatility', () => {
  it('weights 1/σ: volatilities 10/20/30/40% give 48/24/16/12 (uncorrelated ERC equals inverse vol)', () => {
    const w = inverseVolatilityWeights([0.01, 0.04, 0.09, 0.16]);
    [0.48, 0.24, 0.16, 0.12].forEach((x, i) => {
      expect(w[i]).toBeCloseTo(x, 12);
    });
  });

  it('agrees with portfolio-allocation to 1e-6 on random covariance matrices', () => {
    const next = rng(99);
    for (let trial = 0; trial < 40; trial++) {
      const cov = randomCovariance(2 + (trial % 9), next, { ridge: 1e-4, scaledAssets: true });
      const variances = cov.map((row, i) => row[i]!);
      const ours = inverseVolatilityWeights(variances);
      const theirs = pa.inverseVolatilityWeights(variances);
      ours.forEach((w, i) => {
        expect(Math.abs(w - theirs[i]!)).toBeLessThan(1e-6);
      });
    }
  });
});
