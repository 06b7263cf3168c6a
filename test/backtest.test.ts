import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../agent/cli.ts';
import { parseConfig } from '../config/loadConfig.ts';
import { runBacktest } from '../strategies/backtest/engine.ts';
import { backtestSettingsFromConfig, baselineSettings } from '../strategies/backtest/setup.ts';
import { runSweep } from '../strategies/backtest/sweep.ts';
import { GuardrailsSchema } from '../strategies/guardrails.ts';
import { dayOf, loadPriceHistory, priceHistoryFromSeries } from '../strategies/priceHistory.ts';
import { configureStrategy } from '../strategies/registry.ts';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const CONFIG = root('config/examples/devnet.yaml');

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    signal: new AbortController().signal,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A fixed copy of the devnet example (that file may change; these figures should not). */
const FIXED_CONFIG = `
chain: { id: 31337, rpcUrl: "http://127.0.0.1:8545" }
safe:
  agent: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
  owners: ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"]
  threshold: 2
tokens:
  - { symbol: GOV, decimals: 18, role: governance, priceAsset: UNI }
  - { symbol: WETH, decimals: 18, role: risk, priceAsset: ETH }
  - { symbol: WBTC, decimals: 8, role: risk, priceAsset: WBTC }
  - { symbol: USDC, decimals: 6, role: stable, priceAsset: USDC }
  - { symbol: DAI, decimals: 18, role: stable, priceAsset: DAI }
treasury: { monthlySpendUsd: 250000 }
governance:
  { hubUrl: "http://127.0.0.1:3000", space: t.eth, proposalCadenceDays: 7, votingDelaySeconds: 0,
    votingPeriodSeconds: 259200, executionDelaySeconds: 86400, quorum: 1 }
devnet: { priceDate: "2022-01-03", treasuryUsd: 20000000, treasuryMixBps: { GOV: 9000, USDC: 1000 }, poolDepthUsd: 50000000 }
strategy:
  id: risk-parity
  params: { assets: [WETH, WBTC], lookbackDays: 90 }
  overlays:
    - { id: runway-floor, params: { months: 24, stables: [USDC, DAI] } }
    - { id: governance-cap, params: { maxBps: 5000 } }
    - { id: drift-band, params: { bandBps: 200 } }
    - { id: max-step, params: { maxStepBps: 1000 } }
guardrails: { maxMovedPerProposalBps: 1000, maxTradeBpsPerAsset: { GOV: 1000 }, maxSlippageBps: 300, minTradeUsd: 5000, runwayFloorMonths: 24 }
`;

describe('backtest on real prices', async () => {
  const history = await loadPriceHistory(root('data/prices_daily.csv'));
  const config = parseConfig(FIXED_CONFIG, 'fixed config');

  it('gives sane figures for 2022 and pays the spending', () => {
    const settings = backtestSettingsFromConfig(config, history, { from: '2022-01-01', to: '2022-12-31' });
    expect(settings.delayDays).toBe(4); // 0 + 3 days of voting + 1 day before execution
    const [strategy, hold, equal, sixtyForty] = [settings, ...baselineSettings(settings)].map((s) =>
      runBacktest(history, s),
    );
    for (const r of [strategy!, hold!, equal!, sixtyForty!]) {
      expect(r.values.length).toBe(365);
      expect(r.values[0]).toBeCloseTo(20_000_000, -2);
      expect(r.values.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      expect(r.metrics.spentUsd).toBeCloseTo(11 * 250_000, 0); // Feb 1 … Dec 1
      expect(r.metrics.maxDrawdown).toBeGreaterThan(0);
      expect(r.metrics.maxDrawdown).toBeLessThan(1);
    }
    // 2022: UNI fell ~70%; holding 90% GOV lost most of it, and the diversifying strategy lost less
    expect(hold!.metrics.cagr).toBeLessThan(-0.4);
    expect(hold!.metrics.proposals).toBe(0);
    expect(strategy!.metrics.maxDrawdown).toBeLessThan(hold!.metrics.maxDrawdown);
    expect(strategy!.metrics.proposals).toBeGreaterThan(10);
    expect(strategy!.metrics.executed).toBeGreaterThan(0);
    expect(strategy!.metrics.feesUsd).toBeGreaterThan(0);
    // hold runs out of stablecoins (USDC 10% = 8 months) and sells GOV for the spending
    expect(hold!.metrics.minRunwayMonths).toBe(0);
    expect(hold!.metrics.turnover).toBeGreaterThan(0);
    // every executed proposal kept within the per-proposal cap (10% of the value when decided)
    for (const p of strategy!.proposals) expect(p.movedUsd).toBeLessThanOrEqual(0.1 * 40_000_000);
  });

  it('handles assets that start inside the window (WBTC from 2019-01, DAI from 2019-11)', async () => {
    const noGov = { ...config, devnet: { ...config.devnet!, treasuryMixBps: { WETH: 7000, USDC: 3000 } } };
    const s = backtestSettingsFromConfig(noGov, history, { from: '2018-11-01', to: '2020-06-30' });
    const r = runBacktest(history, s);
    const firstWbtc = r.proposals.find((p) => (p.targets.WBTC ?? 0) > 0);
    expect(firstWbtc).toBeDefined();
    expect(firstWbtc!.decidedOn >= '2019-01-01').toBe(true); // not before it had 90 days of prices
    expect(
      r.proposals.filter((p) => p.decidedOn < '2019-11-18').every((p) => (p.targets.DAI ?? 0) === 0),
    ).toBe(true);
  });

  it('a sweep gives the same figures as separate runs (shared base weights change nothing)', () => {
    const window = { from: '2022-01-01', to: '2022-04-30' };
    const rows = runSweep(
      config,
      history,
      {
        grid: {
          'strategy.params.lookbackDays': [30, 60],
          'strategy.overlays.3.params.maxStepBps': [500, 2000],
        },
        rankBy: 'cagr',
        top: 4,
      },
      window,
    );
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      const c = structuredClone(config);
      c.strategy!.params.lookbackDays = row.params['strategy.params.lookbackDays'];
      c.strategy!.overlays[3]!.params.maxStepBps = row.params['strategy.overlays.3.params.maxStepBps'];
      expect(runBacktest(history, backtestSettingsFromConfig(c, history, window)).metrics).toEqual(
        row.metrics,
      );
    }
    expect(new Set(rows.map((r) => r.metrics.endValueUsd)).size).toBeGreaterThan(1);
  });

  it('rejects a window outside the data, a held asset without prices, and an unknown price asset', async () => {
    expect(() => backtestSettingsFromConfig(config, history, { from: '2010-01-01' })).toThrow(
      /--from 2010-01-01 is outside the price data/,
    );
    expect(() =>
      backtestSettingsFromConfig(config, history, { from: '2019-06-01', to: '2020-12-31' }),
    ).toThrow(/--from 2019-06-01: GOV \(UNI\) is held at the start but has prices only from 2020-09-16/);
    expect(() =>
      backtestSettingsFromConfig(config, history, { from: '2022-01-01', to: '2023-12-01' }),
    ).toThrow(/--to 2023-12-01: USDC has prices only until 2023-08-27/);
    const bad = {
      ...config,
      tokens: config.tokens.map((t) => (t.symbol === 'WBTC' ? { ...t, priceAsset: 'NOPE' } : t)),
    };
    expect(() => backtestSettingsFromConfig(bad, history, {})).toThrow(
      /tokens\.2\.priceAsset: asset NOPE \(for WBTC\) has no prices/,
    );
    expect(() => backtestSettingsFromConfig(config, history, { from: '2022-02-30' })).toThrow(
      /--from "2022-02-30" is not a date/,
    );
  });
});

describe('backtest on synthetic prices', () => {
  it('values an asset that stops at its last close, stops trading it, and bridges missing days', () => {
    const from = dayOf('2021-01-01');
    const days = Array.from({ length: 200 }, (_, k) => from - 100 + k);
    const gap = (d: number) => d !== from + 20 && d !== from + 21; // two missing days for everyone
    const series = (price: (d: number) => number, until = Number.POSITIVE_INFINITY) => {
      const ds = days.filter((d) => gap(d) && d <= until);
      return { days: ds, closes: ds.map(price) };
    };
    const history = priceHistoryFromSeries({
      GOVX: series((d) => 10 * (1 + 0.01 * Math.sin(d))),
      ETHX: series((d) => 2000 * (1 + 0.02 * Math.sin(d / 3))),
      OLD: series(() => 50, from + 40), // stops trading on day 40
      USDCX: series(() => 1),
    });
    const tokens = [
      { symbol: 'GOV', decimals: 18, role: 'governance' as const, priceAsset: 'GOVX' },
      { symbol: 'WETH', decimals: 18, role: 'risk' as const, priceAsset: 'ETHX' },
      { symbol: 'OLD', decimals: 18, role: 'risk' as const, priceAsset: 'OLD' },
      { symbol: 'USDC', decimals: 6, role: 'stable' as const, priceAsset: 'USDCX' },
    ];
    const result = runBacktest(history, {
      name: 'synthetic',
      tokens,
      strategy: configureStrategy({
        id: 'equal-weight',
        params: { assets: ['WETH', 'OLD', 'USDC'] },
        overlays: [],
      }),
      guardrails: GuardrailsSchema.parse({
        maxMovedPerProposalBps: 10_000,
        maxSlippageBps: 2000,
        maxPriceImpactBps: 5000,
      }),
      monthlySpendUsd: 0,
      cadenceDays: 7,
      delayDays: 2,
      poolDepthUsd: 1e9,
      initialUsd: 1_000_000,
      initialMixBps: { GOV: 5000, OLD: 2000, USDC: 3000 },
      fromDay: from,
      toDay: from + 90,
    });
    expect(result.values.every((v) => v > 0 && Number.isFinite(v))).toBe(true);
    expect(result.warnings.join('\n')).toMatch(
      /OLD has no price from 2021-02-14: valued at its last close and not traded/,
    );
    // after OLD stops, no proposal targets or trades it
    for (const p of result.proposals.filter((p) => p.decidedOn >= '2021-02-14')) {
      expect(p.targets.OLD ?? 0).toBe(0);
      expect(p.swaps.some((s) => s.sell === 'OLD' || s.buy === 'OLD')).toBe(false);
    }
    // before, it was traded toward a third of the treasury
    expect(result.proposals.some((p) => p.decidedOn < '2021-02-10' && (p.targets.OLD ?? 0) > 3000)).toBe(
      true,
    );
    expect(result.metrics.executed).toBeGreaterThan(0);
  });
});

describe('treasury backtest (CLI)', () => {
  it('prints a table for the strategy and the baselines', async () => {
    const { code, out, err } = await cli(
      'backtest',
      '--config',
      CONFIG,
      '--from',
      '2022-01-01',
      '--to',
      '2022-12-31',
    );
    expect(err).toBe('');
    expect(code).toBe(0);
    for (const name of [
      'strategy',
      'hold as-is',
      '1/N monthly',
      '60/40 ETH/stables',
      'CAGR',
      'Sharpe',
      'MaxDD',
      'Min runway',
    ]) {
      expect(out).toContain(name);
    }
  });

  it('--json gives metrics and proposals with amounts as strings; --html writes a report with charts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bt-'));
    const html = join(dir, 'sub', 'x.html');
    const { code, out } = await cli(
      'backtest',
      '--config',
      CONFIG,
      '--from',
      '2022-03-01',
      '--to',
      '2022-08-31',
      '--json',
      '--html',
      html,
    );
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.from).toBe('2022-03-01');
    expect(report.runs.map((r: { name: string }) => r.name)).toEqual([
      'strategy',
      'hold as-is',
      '1/N monthly',
      '60/40 ETH/stables',
    ]);
    const m = report.runs[0].metrics;
    for (const key of [
      'cagr',
      'volatility',
      'sharpe',
      'sortino',
      'maxDrawdown',
      'turnover',
      'feesUsd',
      'minRunwayMonths',
      'proposals',
    ]) {
      expect(typeof m[key]).toBe('number');
    }
    const swap = report.runs[0].proposals[0].swaps[0];
    expect(swap.amountIn).toMatch(/^\d+$/);
    const page = await readFile(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page.match(/<path d="M/g)!.length).toBeGreaterThanOrEqual(12); // value, growth, drawdown × 4 runs
    expect(page).toContain('<polygon'); // allocation over time
  });

  it('--sweep runs a grid and ranks it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sweep-'));
    const file = join(dir, 'sweep.yaml');
    await writeFile(
      file,
      'grid:\n  strategy.params.lookbackDays: [30, 90]\n  guardrails.maxSlippageBps: [100, 500]\nrankBy: maxDrawdown\ntop: 4\n',
    );
    const { code, out } = await cli(
      'backtest',
      '--config',
      CONFIG,
      '--from',
      '2022-01-01',
      '--to',
      '2022-06-30',
      '--sweep',
      file,
      '--json',
    );
    expect(code).toBe(0);
    const result = JSON.parse(out);
    expect(result.runs).toBe(4);
    const dd = result.top.map((r: { metrics: { maxDrawdown: number } }) => r.metrics.maxDrawdown);
    expect([...dd].sort((a, b) => a - b)).toEqual(dd);
    await writeFile(file, 'grid:\n  strategy.params.lookbackDays: [3]\n');
    const bad = await cli('backtest', '--config', CONFIG, '--sweep', file);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(
      /strategy\.params\.lookbackDays=3 is invalid[\s\S]*→ at strategy\.params\.lookbackDays/,
    );
  });

  it('names the flag when the window is outside the data', async () => {
    const { code, err } = await cli('backtest', '--config', CONFIG, '--from', '2030-01-01');
    expect(code).toBe(1);
    expect(err).toMatch(/--from 2030-01-01 is outside the price data \(2013-04-28 … 2023-12-31\)/);
  });

  it('runs through bin/treasury.js', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [root('bin/treasury.js'), 'backtest', '--config', CONFIG, '--from', '2022-01-01', '--to', '2022-12-31'],
      { cwd: tmpdir() },
    );
    expect(stdout).toContain('60/40 ETH/stables');
  });
});
