import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../cli/cli.ts';
import { loadConfig, parseConfig } from '../config/loadConfig.ts';
import { runBacktest } from '../strategies/backtest/engine.ts';
import { runwayFloorFigures } from '../strategies/backtest/metrics.ts';
import { esc } from '../strategies/backtest/report.ts';
import { backtestSettingsFromConfig, baselineSettings } from '../strategies/backtest/setup.ts';
import { rankRows, runSweep } from '../strategies/backtest/sweep.ts';
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
    const [strategy, , hold, , equal, , sixtyForty] = [settings, ...baselineSettings(settings)].map((s) =>
      runBacktest(history, s),
    );
    expect([hold, equal, sixtyForty].map((r) => r!.name)).toEqual([
      'hold as-is (delay+costs)',
      '1/N monthly (delay+costs)',
      '60/40 ETH/stables (delay+costs)',
    ]);
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

describe('the example config on the price data (issue 15 targets)', async () => {
  const history = await loadPriceHistory(root('data/prices_daily.csv'));
  const config = await loadConfig(CONFIG);
  const runAll = (from: string, to: string) => {
    const settings = backtestSettingsFromConfig(config, history, { from, to });
    const [strategy, ...baselines] = [settings, ...baselineSettings(settings)].map((s) =>
      runBacktest(history, { ...s, recordAllocation: true }),
    );
    const named = (name: string) => baselines.find((r) => r.name === name)!;
    return { settings, strategy: strategy!, baselines, named };
  };

  for (const [from, to] of [
    ['2021-01-04', '2023-08-27'],
    ['2022-01-01', '2022-12-31'],
  ] as const) {
    it(`${from} → ${to}: reaches the runway floor within 4 weeks and is never below it afterwards`, () => {
      const { strategy } = runAll(from, to);
      const m = strategy.metrics;
      expect(m.runwayFloorMonths).toBe(24);
      expect(m.daysToRunwayFloor).not.toBeNull();
      expect(m.daysToRunwayFloor!).toBeLessThanOrEqual(28);
      expect(m.runwayBreaches).toBe(0);
      // the same from the daily series itself: every day from then on ends at or above 24 months
      expect(Math.min(...strategy.runwayMonths.subarray(m.daysToRunwayFloor!))).toBeGreaterThanOrEqual(24);
      expect(strategy.runwayMonths[m.daysToRunwayFloor! - 1]!).toBeLessThan(24);
      // every proposal executed (the price policy), within the per-proposal cap
      expect(m.failed).toBe(0);
      expect(m.executedUsd).toBeCloseTo(m.votedUsd, 0);
    });

    it(`${from} → ${to}: max drawdown below holding still and below the ideal 1/N`, () => {
      const { strategy, named } = runAll(from, to);
      expect(strategy.metrics.maxDrawdown).toBeLessThan(named('hold as-is (ideal)').metrics.maxDrawdown);
      expect(strategy.metrics.maxDrawdown).toBeLessThan(named('1/N monthly (ideal)').metrics.maxDrawdown);
    });
  }

  it('2021-01-04 → 2023-08-27: Sharpe at or above the ideal 1/N (not met in 2022 alone, see strategies/README.md)', () => {
    const { strategy, named } = runAll('2021-01-04', '2023-08-27');
    expect(strategy.metrics.sharpe).toBeGreaterThanOrEqual(named('1/N monthly (ideal)').metrics.sharpe);
  });

  it("each baseline runs ideal (no delay, no costs, exactly on target) and with the agent's delay and costs", () => {
    const { settings, baselines, named } = runAll('2022-01-01', '2022-12-31');
    expect(baselines.map((r) => r.name)).toEqual([
      'hold as-is (ideal)',
      'hold as-is (delay+costs)',
      '1/N monthly (ideal)',
      '1/N monthly (delay+costs)',
      '60/40 ETH/stables (ideal)',
      '60/40 ETH/stables (delay+costs)',
    ]);
    for (const r of baselines.filter((b) => b.execution === 'ideal')) {
      expect(r.delayDays).toBe(0);
      expect(r.metrics.feesUsd).toBe(0);
      expect(r.metrics.priceImpactUsd).toBe(0);
      expect(r.metrics.proposals).toBe(0);
    }
    for (const r of baselines.filter((b) => b.execution === 'governed')) {
      expect(r.delayDays).toBe(settings.delayDays);
      expect(r.delayDays).toBe(3);
    }
    // the ideal 1/N is on target at the close of day 0 and of every rebalance (each 30 days)
    const ideal = named('1/N monthly (ideal)');
    for (const d of [0, 30, 60, 330]) {
      for (const s of ['GOV', 'WETH', 'WBTC', 'USDC', 'DAI'])
        expect(ideal.allocation![s]![d]!).toBeCloseTo(0.2, 4);
    }
    // the governed one trades through the pools after the 3-day vote, paying fees and impact
    const governed = named('1/N monthly (delay+costs)');
    expect(governed.metrics.feesUsd).toBeGreaterThan(0);
    expect(governed.metrics.priceImpactUsd).toBeGreaterThan(0);
    expect(governed.proposals[0]!.decidedOn).toBe('2022-01-01');
    expect(governed.proposals[0]!.executeOn).toBe('2022-01-04');
    expect(governed.allocation!.GOV![2]!).toBeGreaterThan(0.85); // nothing moved during the vote
    // ideal and governed hold differ only by what selling GOV for the spending costs in the pool
    expect(named('hold as-is (ideal)').metrics.endValueUsd).toBeGreaterThan(
      named('hold as-is (delay+costs)').metrics.endValueUsd,
    );
  });
});

describe('runway floor figures', () => {
  it('counts the days to reach the floor and the days below it afterwards', () => {
    const runway = Float64Array.from([8, 12, 20, 24, 25, 23.9, 24, 26, 23, 24]);
    expect(runwayFloorFigures(runway, 24)).toEqual({ daysToRunwayFloor: 3, runwayBreaches: 2 });
    expect(runwayFloorFigures(runway, 30)).toEqual({ daysToRunwayFloor: null, runwayBreaches: 10 });
    expect(runwayFloorFigures(runway, 5)).toEqual({ daysToRunwayFloor: 0, runwayBreaches: 0 });
    expect(runwayFloorFigures(runway, null)).toEqual({ daysToRunwayFloor: null, runwayBreaches: 0 });
  });

  it('a sweep ranks by runway breaches (fewest first, ties by Sharpe) or by final value', () => {
    const row = (runwayBreaches: number, sharpe: number, endValueUsd: number) =>
      ({
        params: { k: `${runwayBreaches}/${sharpe}` },
        metrics: { runwayBreaches, sharpe, endValueUsd },
      }) as never;
    const rows = [row(5, 1, 3), row(0, 0.5, 1), row(0, 0.9, 2), row(200, 2, 9)];
    const key = (r: { params: Record<string, unknown> }) => r.params.k;
    expect(rankRows(rows, 'runwayBreaches').map(key)).toEqual(['0/0.9', '0/0.5', '5/1', '200/2']);
    expect(rankRows(rows, 'endValueUsd').map(key)).toEqual(['200/2', '5/1', '0/0.9', '0/0.5']);
    expect(rankRows(rows, 'sharpe').map(key)).toEqual(['200/2', '5/1', '0/0.9', '0/0.5']);
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
      'hold as-is (ideal)',
      'hold as-is (delay+costs)',
      '1/N monthly (ideal)',
      '1/N monthly (delay+costs)',
      '60/40 ETH/stables (ideal)',
      '60/40 ETH/stables (delay+costs)',
      'CAGR',
      'Sharpe',
      'MaxDD',
      'Min runway',
      'Floor reached (day)',
      'Days below floor after',
    ]) {
      expect(out).toContain(name);
    }
    expect(out).toMatch(/strategy: runway floor 24 months: reached on day \d+, then 0 days below it/);
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
      'hold as-is (ideal)',
      'hold as-is (delay+costs)',
      '1/N monthly (ideal)',
      '1/N monthly (delay+costs)',
      '60/40 ETH/stables (ideal)',
      '60/40 ETH/stables (delay+costs)',
    ]);
    expect(report.runs.map((r: { execution: string }) => r.execution)).toEqual([
      'governed',
      'ideal',
      'governed',
      'ideal',
      'governed',
      'ideal',
      'governed',
    ]);
    // every run carries its daily series: one entry per day, in order, weights adding up to 1
    for (const run of report.runs) {
      expect(run.series).toHaveLength(184); // 2022-03-01 … 2022-08-31
      expect(run.series[0].date).toBe('2022-03-01');
      expect(run.series[183].date).toBe('2022-08-31');
      for (let d = 1; d < run.series.length; d++) {
        expect(Date.parse(run.series[d].date) - Date.parse(run.series[d - 1].date)).toBe(86_400_000);
      }
      for (const point of run.series) {
        expect(Object.keys(point).sort()).toEqual(['date', 'runwayMonths', 'value', 'weights']);
        expect(Object.keys(point.weights).sort()).toEqual(['DAI', 'GOV', 'USDC', 'WBTC', 'WETH']);
        const sum = Object.values(point.weights as Record<string, number>).reduce((a, b) => a + b, 0);
        expect(sum).toBeCloseTo(1, 4);
        expect(point.value).toBeGreaterThan(0);
        expect(typeof point.runwayMonths).toBe('number');
      }
      expect(run.series[183].value).toBeCloseTo(run.metrics.endValueUsd, 1);
      expect(typeof run.metrics.runwayBreaches).toBe('number');
    }
    expect(report.runs[0].metrics.runwayFloorMonths).toBe(24);
    expect(report.runs[0].metrics.daysToRunwayFloor).toBeLessThanOrEqual(28);
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
    expect(page.match(/<path d="M/g)!.length).toBeGreaterThanOrEqual(21); // value, growth, drawdown × 7 runs
    expect(page).toContain('<polygon'); // allocation over time
    for (const text of [
      'Floor reached (day)',
      'Days below floor after',
      '1/N monthly (ideal)',
      '1/N monthly (delay+costs)',
      'runway floor (24 months)',
    ]) {
      expect(page).toContain(esc(text));
    }
    expect(page).toMatch(/strategy: runway floor 24 months: reached on day \d+, then 0 days below it/);
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
    // --rank-by overrides the file: fewest runway breaches first
    const byBreaches = await cli(
      'backtest',
      '--config',
      CONFIG,
      '--from',
      '2022-01-01',
      '--to',
      '2022-06-30',
      '--sweep',
      file,
      '--rank-by',
      'runwayBreaches',
      '--json',
    );
    expect(byBreaches.code).toBe(0);
    const ranked = JSON.parse(byBreaches.out);
    expect(ranked.rankBy).toBe('runwayBreaches');
    const breaches = ranked.top.map((r: { metrics: { runwayBreaches: number } }) => r.metrics.runwayBreaches);
    expect([...breaches].sort((a, b) => a - b)).toEqual(breaches);
    const text = await cli(
      'backtest',
      '--config',
      CONFIG,
      '--from',
      '2022-01-01',
      '--to',
      '2022-03-31',
      '--sweep',
      file,
      '--rank-by',
      'endValueUsd',
    );
    expect(text.out).toMatch(/ranked by endValueUsd:\n {2}1\. endValueUsd=\d+\.\d{3} {2}Sharpe /);
    const badRank = await cli('backtest', '--config', CONFIG, '--sweep', file, '--rank-by', 'luck');
    expect(badRank.code).toBe(2); // a usage error
    expect(badRank.err).toMatch(/--rank-by luck is not an objective[\s\S]*runwayBreaches/);
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
    expect(stdout).toContain('60/40 ETH/stables (delay+costs)');
  });
});
