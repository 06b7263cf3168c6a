import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/loadConfig.ts';
import { type BacktestResult, buildPriceTape, runBacktest } from '../strategies/backtest/engine.ts';
import {
  formatTable,
  renderHtmlReport,
  runwayFloorLine,
  toJsonReport,
} from '../strategies/backtest/report.ts';
import { backtestSettingsFromConfig, baselineSettings } from '../strategies/backtest/setup.ts';
import { loadSweepSpec, RANKABLE, type Rankable, runSweep } from '../strategies/backtest/sweep.ts';
import { loadPriceHistory } from '../strategies/priceHistory.ts';
import { type Command, stringOption, UsageError } from './command.ts';

/** The price file shipped with the project (data/prices_daily.csv), wherever the command is run from. */
export const DEFAULT_PRICES = fileURLToPath(new URL('../data/prices_daily.csv', import.meta.url));

/** A progress bar on stderr when it is a terminal (nothing otherwise). */
function progressBar(label: string): ((done: number, total: number) => void) & { end: () => void } {
  const tty = process.stderr.isTTY;
  let last = -1;
  const update = (done: number, total: number) => {
    if (!tty) return;
    const pctDone = Math.floor((done / total) * 100);
    if (pctDone === last) return;
    last = pctDone;
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stderr.write(`\r${label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${pctDone}%`);
  };
  return Object.assign(update, {
    end: () => {
      if (tty && last >= 0) process.stderr.write('\r\x1b[K');
    },
  });
}

export const backtestCommand: Command = {
  name: ['backtest'],
  summary: 'replay the price history with the configured strategy, governance delay, fees and spending',
  options: {
    config: {
      type: 'string',
      valueName: 'FILE',
      description: 'config file (YAML or JSON) with a strategy section',
    },
    prices: {
      type: 'string',
      valueName: 'FILE',
      description: 'daily prices CSV (default: data/prices_daily.csv)',
    },
    from: {
      type: 'string',
      valueName: 'DATE',
      description: 'first day, YYYY-MM-DD (default: first day USDC and the starting holdings have prices)',
    },
    to: {
      type: 'string',
      valueName: 'DATE',
      description: 'last day, YYYY-MM-DD (default: last day they all have prices)',
    },
    json: { type: 'boolean', description: 'print the results as JSON' },
    html: { type: 'string', valueName: 'FILE', description: 'also write an HTML report with charts' },
    sweep: { type: 'string', valueName: 'FILE', description: 'YAML grid of params to run and rank' },
    'rank-by': {
      type: 'string',
      valueName: 'OBJECTIVE',
      description: `with --sweep: rank by ${RANKABLE.join(', ')} (default: the file's rankBy, else sharpe)`,
    },
  },
  help: [
    'examples:',
    '  treasury backtest --config config/examples/devnet.yaml --from 2022-01-01 --to 2022-12-31',
    '  treasury backtest --config config/examples/devnet.yaml --html out/backtest.html',
    '  treasury backtest --config config/examples/devnet.yaml --sweep sweep.yaml --json',
    '',
    'Baselines on the same window: hold as-is, 1/N rebalanced monthly, 60/40 ETH/stables monthly, each ideal',
    "(at the close, no delay or costs) and with the strategy's governance delay and costs.",
    "--json carries every run's daily series (date, value, runway months, weights).",
    'Starting treasury: devnet.treasuryUsd and devnet.treasuryMixBps (else $10M, 90% governance token, 10% USDC).',
    'Each proposal executes after voting delay + voting period + execution delay; a swap below its minimum out',
    'reverts the whole batch, as the Safe would.',
    'A sweep file: grid: { strategy.params.lookbackDays: [30, 90], guardrails.maxSlippageBps: [100, 300] }',
    `  rankBy: one of ${RANKABLE.join(', ')} (or --rank-by); runwayBreaches counts the days`,
    '  below the runway floor after it was reached (every day when it never was).',
  ],
  async run(args, io) {
    const configPath = stringOption(args, 'config');
    if (!configPath)
      throw new UsageError('--config FILE is required', { hint: 'run: treasury backtest --help' });
    const config = await loadConfig(configPath);
    const history = await loadPriceHistory(stringOption(args, 'prices') ?? DEFAULT_PRICES);
    const window = { from: stringOption(args, 'from'), to: stringOption(args, 'to') };
    const json = args.values.json === true;

    const sweepPath = stringOption(args, 'sweep');
    if (sweepPath) {
      const spec = await loadSweepSpec(sweepPath);
      const rankBy = stringOption(args, 'rank-by');
      if (rankBy !== undefined) {
        if (!(RANKABLE as readonly string[]).includes(rankBy)) {
          throw new UsageError(`--rank-by ${rankBy} is not an objective`, {
            hint: `use one of: ${RANKABLE.join(', ')}`,
          });
        }
        spec.rankBy = rankBy as Rankable;
      }
      const bar = progressBar('sweep');
      const started = performance.now();
      const rows = runSweep(config, history, spec, window, bar);
      bar.end();
      const seconds = (performance.now() - started) / 1000;
      const top = rows.slice(0, spec.top);
      if (json) {
        io.out(JSON.stringify({ rankBy: spec.rankBy, runs: rows.length, seconds, top }, null, 2));
      } else {
        io.out(`${rows.length} runs in ${seconds.toFixed(1)} s, ranked by ${spec.rankBy}:`);
        top.forEach((row, i) => {
          const m = row.metrics;
          io.out(
            `${String(i + 1).padStart(3)}. ${spec.rankBy}=${Number.isInteger(m[spec.rankBy]) ? m[spec.rankBy] : m[spec.rankBy].toFixed(3)}  Sharpe ${m.sharpe.toFixed(2)}  CAGR ${(m.cagr * 100).toFixed(1)}%  MaxDD ${(m.maxDrawdown * 100).toFixed(1)}%  ${m.runwayFloorMonths === null ? '' : `runway floor ${m.daysToRunwayFloor === null ? 'never reached' : `day ${m.daysToRunwayFloor}, ${m.runwayBreaches} days below after`}  `}proposals ${m.proposals} (${m.failed} failed)  ${JSON.stringify(row.params)}`,
          );
        });
      }
      return 0;
    }

    const settings = backtestSettingsFromConfig(config, history, window);
    const tape = buildPriceTape(history, settings.tokens, settings.fromDay, settings.toDay);
    const strategyRun = { ...settings, recordAllocation: true };
    const runs = [strategyRun, ...baselineSettings(strategyRun)];
    const bar = progressBar('backtest');
    const total = runs.length * (settings.toDay - settings.fromDay + 1);
    const results: BacktestResult[] = runs.map((run, k) =>
      runBacktest(history, {
        ...run,
        tape,
        onProgress: (done) => bar(k * (settings.toDay - settings.fromDay + 1) + done, total),
      }),
    );
    bar.end();
    const htmlPath = stringOption(args, 'html');
    if (htmlPath) {
      await mkdir(dirname(htmlPath), { recursive: true });
      await writeFile(htmlPath, renderHtmlReport(results));
    }
    if (json) {
      io.out(JSON.stringify(toJsonReport(results), null, 2));
    } else {
      const first = results[0]!;
      io.out(
        `backtest ${first.from} → ${first.to}  (${first.values.length} days, delay ${settings.delayDays} d, every ${settings.cadenceDays} d)`,
      );
      io.out(`strategy: ${first.strategy}`);
      io.out('');
      io.out(formatTable(results));
      const floorLine = runwayFloorLine(first);
      if (floorLine) io.out(`\n${floorLine}`);
      for (const r of results) for (const w of r.warnings) io.out(`! ${r.name}: ${w}`);
      if (htmlPath) io.out(`\nreport: ${htmlPath}`);
    }
    return 0;
  },
};
