import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/loadConfig.ts';
import { runBacktest } from '../strategies/backtest/engine.ts';
import { backtestSettingsFromConfig } from '../strategies/backtest/setup.ts';
import { planRebalance } from '../strategies/planner.ts';
import {
  dayOf,
  loadPriceHistory,
  type PriceHistory,
  priceHistoryFromSeries,
} from '../strategies/priceHistory.ts';
import { configureStrategy } from '../strategies/registry.ts';
import { buildSnapshot } from '../strategies/snapshot.ts';
import { poolAtPrice } from '../strategies/uniswap.ts';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

/** A copy of the history where every value after `cutDay` is replaced by poison(value, day). */
function poisoned(
  history: PriceHistory,
  cutDay: number,
  poison: (v: number, day: number) => number,
): PriceHistory {
  const series: Record<string, { days: number[]; closes: number[] }> = {};
  for (const [asset, s] of Object.entries(history.assets)) {
    const days: number[] = [];
    const closes: number[] = [];
    s.closes.forEach((v, k) => {
      if (Number.isNaN(v)) return;
      const day = s.firstDay + k;
      days.push(day);
      closes.push(day > cutDay ? poison(v, day) : v);
    });
    series[asset] = { days, closes };
  }
  return priceHistoryFromSeries(series, 'poisoned', { maxStaleDays: history.maxStaleDays });
}

describe('no look-ahead', async () => {
  const history = await loadPriceHistory(root('data/prices_daily.csv'));
  const config = await loadConfig(root('config/examples/devnet.yaml'));
  const settings = backtestSettingsFromConfig(config, history, { from: '2022-01-01', to: '2022-09-30' });

  it('strategy and planner decisions ignore everything after asOf (NaN, 0, huge or negative values)', () => {
    const strategy = configureStrategy({
      id: 'risk-parity',
      params: { assets: ['WETH', 'WBTC', 'GOV'], lookbackDays: 60 },
      overlays: [
        { id: 'vol-target', params: { targetVolatility: 0.4, lookbackDays: 30, roles: ['risk'] } },
        { id: 'runway-floor', params: { months: 24 } },
        { id: 'governance-cap', params: { maxBps: 5000, keepHeld: true } },
        { id: 'max-step', params: { maxStepBps: 1500 } },
      ],
    });
    const balances = {
      GOV: 10n ** 24n,
      WETH: 2n * 10n ** 21n,
      WBTC: 5n * 10n ** 9n,
      USDC: 10n ** 12n,
      DAI: 10n ** 23n,
    };
    const holdings = { balances, monthlySpendUsd: 250_000 };
    const poisons = [() => Number.NaN, () => 0, (v: number) => v * 1e9, () => -1];
    for (const date of ['2021-03-01', '2022-05-10', '2022-11-09', '2023-03-11']) {
      const day = dayOf(date);
      const decide = (h: PriceHistory) => {
        const snap = buildSnapshot(h, settings.tokens, day, strategy.lookbackDays);
        const targets = strategy.targetWeights(snap, holdings);
        const pools = Object.fromEntries(
          settings.tokens
            .filter((t) => t.symbol !== 'USDC' && snap.prices[t.symbol] !== undefined)
            .map((t) => [t.symbol, poolAtPrice(snap.prices[t.symbol]!, 5e7, t.decimals)]),
        );
        const plan = planRebalance({
          tokens: settings.tokens,
          holdings: balances,
          targets,
          prices: snap.prices,
          pools,
          guardrails: config.guardrails,
          monthlySpendUsd: 250_000,
        });
        return { snap, targets, plan };
      };
      const clean = decide(history);
      expect(clean.plan.swaps.length).toBeGreaterThan(0);
      for (const poison of poisons) {
        const dirty = decide(poisoned(history, day, poison));
        expect(dirty.targets).toEqual(clean.targets);
        expect(dirty.plan).toEqual(clean.plan);
        expect(dirty.snap.prices).toEqual(clean.snap.prices);
      }
    }
  });

  it('a backtest decides the same things up to day T when every price after T is replaced by huge values', () => {
    const cut = dayOf('2022-06-15');
    const clean = runBacktest(history, settings);
    const dirty = runBacktest(
      poisoned(history, cut, (v, day) => v * (1 + ((day * 7919) % 1000))),
      settings,
    );
    const decidedBy = (r: typeof clean) => r.proposals.filter((p) => dayOf(p.decidedOn) <= cut);
    expect(decidedBy(clean).length).toBeGreaterThan(5);
    expect(decidedBy(dirty).map((p) => ({ ...p, status: undefined, reason: undefined }))).toEqual(
      decidedBy(clean).map((p) => ({ ...p, status: undefined, reason: undefined })),
    );
    // values up to T are identical too; after T they differ (so the poison did reach the simulation)
    const t = cut - settings.fromDay;
    expect(Array.from(dirty.values.subarray(0, t + 1))).toEqual(Array.from(clean.values.subarray(0, t + 1)));
    expect(dirty.values[t + 10]).not.toBe(clean.values[t + 10]);
  });
});
