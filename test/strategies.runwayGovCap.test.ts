import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/loadConfig.ts';
import { dayOf, loadPriceHistory } from '../strategies/priceHistory.ts';
import { configureStrategy, parseStrategyConfig } from '../strategies/registry.ts';
import { buildSnapshot } from '../strategies/snapshot.ts';
import type { Holdings, MarketSnapshot, TokenInfo } from '../strategies/types.ts';
import { positionOf } from '../strategies/weights.ts';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

/**
 * The demo's decision of 2022-12-28 (audit log of `treasury demo`, devnet.yaml): $8.7M, GOV 35.9% and the rest
 * in USDC/DAI, nothing in WETH/WBTC. 24 months × $250k = $6M = 69% must be in stables; they hold 64%. Before the
 * fix, governance-cap (keepHeld) took the GOV it kept out of the runway floor and the targets were exactly the
 * current weights: the agent stopped proposing from May 2022 to the end of the year.
 */
const RECORD = {
  asOf: '2022-12-28',
  holdings: {
    DAI: 2774907837843300331624432n,
    GOV: 618746279056903381426425n,
    USDC: 2800531851970n,
    WBTC: 0n,
    WETH: 0n,
  },
  prices: { DAI: 1.00058133, GOV: 5.04799276, USDC: 1.00035985, WBTC: 16568.20787, WETH: 1201.543106 },
  targetsBefore: { DAI: 3191, GOV: 3589, USDC: 3220 },
};

describe('runway floor and governance cap (devnet.yaml, demo decision of 2022-12-28)', async () => {
  const config = await loadConfig(root('config/examples/devnet.yaml'));
  const history = await loadPriceHistory(root('data/prices_daily.csv'));
  const tokens: TokenInfo[] = config.tokens.map((t) => ({
    symbol: t.symbol,
    decimals: t.decimals,
    role: t.role,
    priceAsset: t.priceAsset,
  }));
  const strategyConfig = config.strategy!;
  const strategy = configureStrategy(strategyConfig);
  const snapshot: MarketSnapshot = {
    ...buildSnapshot(history, tokens, dayOf(RECORD.asOf), strategy.lookbackDays),
    prices: RECORD.prices,
  };
  const holdings: Holdings = { balances: RECORD.holdings, monthlySpendUsd: config.treasury.monthlySpendUsd };
  const position = positionOf(snapshot, holdings);
  const runway = strategyConfig.overlays.find((o) => o.id === 'runway-floor')!.params as {
    months: number;
    bufferMonths: number;
  };
  // the floor the overlays keep: 24 months and the buffer on top
  const floorMonths = runway.months + runway.bufferMonths;
  const floor = (floorMonths * holdings.monthlySpendUsd) / position.totalUsd;
  const stablesOf = (w: Record<string, number>) => ((w.USDC ?? 0) + (w.DAI ?? 0)) / 10_000;

  it('the record is what the demo saw: below the runway floor, GOV under its cap', () => {
    expect(floor).toBeGreaterThan(0.68);
    expect(position.shares.GOV!).toBeGreaterThan(0.35);
    expect(position.shares.GOV!).toBeLessThan(0.5);
    expect((position.shares.USDC ?? 0) + (position.shares.DAI ?? 0)).toBeLessThan(floor - 0.04);
  });

  it('a GOV kept up to the cap never pushes the stables below an earlier runway floor', () => {
    const capped = configureStrategy({
      ...strategyConfig,
      overlays: strategyConfig.overlays.filter((o) => o.id === 'runway-floor' || o.id === 'governance-cap'),
    }).targetWeights(snapshot, holdings);
    expect(stablesOf(capped)).toBeGreaterThanOrEqual(floor - 1e-4);
    // GOV is kept (not sold) only as far as the floor allows; nothing is left for WETH/WBTC
    expect(capped.GOV! / 10_000).toBeCloseTo(1 - floor, 3);
    expect((capped.WETH ?? 0) + (capped.WBTC ?? 0)).toBe(0);
  });

  it('the configured strategy proposes a move toward the runway floor (not the current weights)', () => {
    const targets = strategy.targetWeights(snapshot, holdings);
    expect(targets).not.toEqual(RECORD.targetsBefore);
    // the floor (with its buffer) is 10.7 points away: the whole 10% step goes from GOV to the stables
    const stablesNow = (position.shares.USDC ?? 0) + (position.shares.DAI ?? 0);
    expect(floor - stablesNow).toBeGreaterThan(0.1);
    expect(stablesOf(targets)).toBeCloseTo(stablesNow + 0.1, 3);
    expect(targets.GOV! / 10_000).toBeCloseTo(position.shares.GOV! - 0.1, 3);
    expect((targets.WETH ?? 0) + (targets.WBTC ?? 0)).toBe(0);
  });

  it('once the floor is met, what GOV does not keep goes to WETH/WBTC by risk parity', () => {
    // same day, twice the USDC: $11.5M, stables ≈ 73% (the floor is 52%), GOV ≈ 27%
    const richer: Holdings = {
      ...holdings,
      balances: { ...holdings.balances, USDC: holdings.balances.USDC! * 2n },
    };
    const p = positionOf(snapshot, richer);
    const f = (floorMonths * richer.monthlySpendUsd) / p.totalUsd;
    const full = configureStrategy({
      ...strategyConfig,
      overlays: strategyConfig.overlays.filter((o) => ['runway-floor', 'governance-cap'].includes(o.id)),
    }).targetWeights(snapshot, richer);
    expect(stablesOf(full)).toBeCloseTo(f, 3);
    expect(full.GOV! / 10_000).toBeCloseTo(p.shares.GOV!, 3);
    expect(full.WBTC!).toBeGreaterThan(full.WETH!);
    expect(full.WETH! + full.WBTC! + full.GOV! + full.USDC! + full.DAI!).toBe(10_000);
    // at most 10% of the treasury per proposal
    const stepped = strategy.targetWeights(snapshot, richer);
    const moved =
      Object.keys({ ...stepped, ...p.shares }).reduce(
        (a, s) => a + Math.abs((stepped[s] ?? 0) / 1e4 - (p.shares[s] ?? 0)),
        0,
      ) / 2;
    expect(moved).toBeLessThan(0.1005);
    expect(stepped.WETH! + stepped.WBTC!).toBeGreaterThan(0);
  });

  it('without a runway floor, keepHeld still keeps GOV out of the stables the strategy chose', () => {
    const stablesOnly = configureStrategy(
      parseStrategyConfig({
        id: 'fixed-weights',
        params: { weights: { USDC: 10_000 } },
        overlays: [{ id: 'governance-cap', params: { maxBps: 5000 } }],
      }),
    ).targetWeights(snapshot, holdings);
    expect(stablesOnly.GOV! / 10_000).toBeCloseTo(position.shares.GOV!, 3);
    expect(stablesOnly.USDC! / 10_000).toBeCloseTo(1 - position.shares.GOV!, 3);
  });
});
