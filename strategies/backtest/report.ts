import { isoDateOf } from '../priceHistory.ts';
import type { BacktestResult } from './engine.ts';
import type { BacktestMetrics } from './metrics.ts';
import { drawdowns, timeWeightedIndex } from './metrics.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const usd = (x: number) =>
  Math.abs(x) >= 1e6
    ? `$${(x / 1e6).toFixed(2)}M`
    : Math.abs(x) >= 1e3
      ? `$${(x / 1e3).toFixed(1)}k`
      : `$${x.toFixed(0)}`;
const months = (x: number | null) => (x === null ? 'n/a' : !Number.isFinite(x) ? '∞' : x.toFixed(1));

const floorMonths = (m: BacktestMetrics) => m.runwayFloorMonths;

/** The metrics every backtest table shows, with their formatting (the CLI table, the HTML report, the console). */
export const METRIC_COLUMNS: Array<[string, (r: BacktestResult) => string]> = [
  ['CAGR', (r) => pct(r.metrics.cagr)],
  ['Vol', (r) => pct(r.metrics.volatility)],
  ['Sharpe', (r) => r.metrics.sharpe.toFixed(2)],
  ['Sortino', (r) => r.metrics.sortino.toFixed(2)],
  ['MaxDD', (r) => pct(r.metrics.maxDrawdown)],
  ['Turnover/y', (r) => pct(r.metrics.turnover)],
  ['Fees', (r) => usd(r.metrics.feesUsd)],
  ['Impact', (r) => usd(r.metrics.priceImpactUsd)],
  ['Min runway (mo)', (r) => months(r.metrics.minRunwayMonths)],
  [
    'Floor reached (day)',
    (r) =>
      floorMonths(r.metrics) === null
        ? 'n/a'
        : r.metrics.daysToRunwayFloor === null
          ? 'never'
          : String(r.metrics.daysToRunwayFloor),
  ],
  [
    'Days below floor after',
    (r) =>
      floorMonths(r.metrics) === null || r.metrics.daysToRunwayFloor === null
        ? 'n/a'
        : String(r.metrics.runwayBreaches),
  ],
  [
    'Proposals (ok/failed)',
    (r) =>
      r.execution === 'ideal'
        ? 'ideal'
        : `${r.metrics.proposals} (${r.metrics.executed}/${r.metrics.failed})`,
  ],
  [
    'Voted USD executed',
    (r) => (r.metrics.votedUsd > 0 ? pct(r.metrics.executedUsd / r.metrics.votedUsd) : 'n/a'),
  ],
  ['End value', (r) => usd(r.metrics.endValueUsd)],
];

/** A plain-text table: one row per run. */
export function formatTable(results: readonly BacktestResult[]): string {
  const header = ['', ...METRIC_COLUMNS.map(([h]) => h)];
  const rows = results.map((r) => [r.name, ...METRIC_COLUMNS.map(([, f]) => f(r))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** One line on the runway floor of the first run, for people (empty without a floor). */
export function runwayFloorLine(result: BacktestResult): string {
  const m = result.metrics;
  if (m.runwayFloorMonths === null) return '';
  const floor = `runway floor ${m.runwayFloorMonths} months`;
  if (m.daysToRunwayFloor === null) return `${result.name}: ${floor}: never reached in ${m.days} days`;
  return `${result.name}: ${floor}: reached on day ${m.daysToRunwayFloor}, then ${m.runwayBreaches} day${m.runwayBreaches === 1 ? '' : 's'} below it (of ${m.days - 1 - m.daysToRunwayFloor})`;
}

function finite(x: number | null): number | null {
  return x === null || !Number.isFinite(x) ? null : x;
}

const round = (x: number, digits: number) => {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
};

/** One entry per day: date, value (USD), runway (months, null when nothing is spent), weights by symbol. */
export type DailyPoint = {
  date: string;
  value: number;
  runwayMonths: number | null;
  weights: Record<string, number>;
};

/** The daily series of a run (weights only when the run recorded its allocation). */
export function dailySeries(r: BacktestResult): DailyPoint[] {
  const fromDay = Math.round(Date.parse(`${r.from}T00:00:00Z`) / 86_400_000);
  const symbols = r.allocation ? Object.keys(r.allocation) : [];
  return Array.from(r.values, (value, d) => {
    const weights: Record<string, number> = {};
    for (const s of symbols) weights[s] = round(r.allocation![s]![d]!, 6);
    const runway = r.runwayMonths[d]!;
    return {
      date: isoDateOf(fromDay + d),
      value: round(value, 2),
      runwayMonths: Number.isFinite(runway) ? round(runway, 4) : null,
      weights,
    };
  });
}

/**
 * JSON-ready summary: for every run its metrics, how it executed (ideal or governed, and the delay), its daily
 * series (date, value, runway months, weights) and its proposals (amounts as decimal strings).
 */
export function toJsonReport(results: readonly BacktestResult[]) {
  return {
    from: results[0]?.from,
    to: results[0]?.to,
    runs: results.map((r) => ({
      name: r.name,
      strategy: r.strategy,
      execution: r.execution,
      delayDays: r.delayDays,
      metrics: { ...r.metrics, minRunwayMonths: finite(r.metrics.minRunwayMonths) },
      warnings: r.warnings,
      series: dailySeries(r),
      proposals: r.proposals.map((p) => ({
        decidedOn: p.decidedOn,
        executeOn: p.executeOn,
        status: p.status,
        ...(p.reason ? { reason: p.reason } : {}),
        ...(p.failure ? { failure: p.failure } : {}),
        targets: p.targets,
        movedUsd: Math.round(p.movedUsd),
        swaps: p.swaps.map((s) => ({
          sell: s.sell,
          buy: s.buy,
          amountIn: s.amountIn.toString(),
          minAmountOut: s.minAmountOut.toString(),
          expectedAmountOut: s.expectedAmountOut.toString(),
          priceImpactBps: s.priceImpactBps,
          oraclePrice: s.oraclePrice.toString(),
          policy: { slippageBps: s.policy.slippageBps, floorPrice: s.policy.floorPrice.toString() },
        })),
      })),
    })),
  };
}

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export const PALETTE = [
  '#2563eb',
  '#9ca3af',
  '#f59e0b',
  '#10b981',
  '#ef4444',
  '#8b5cf6',
  '#14b8a6',
  '#ec4899',
];

export type Series = { name: string; values: ArrayLike<number>; color: string };

/** Evenly spaced indexes, at most `max` of them, always including the last. */
function sampleIdx(n: number, max = 600): number[] {
  const step = Math.max(1, Math.ceil(n / max));
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  if (out[out.length - 1] !== n - 1 && n > 0) out.push(n - 1);
  return out;
}

/** An inline SVG line chart (no scripts), one path per series, sampled to at most 600 points. */
export function lineChart(
  title: string,
  dates: string[],
  series: Series[],
  format: (v: number) => string,
  options: { invert?: boolean } = {},
) {
  const W = 900;
  const H = 280;
  const m = { l: 92, r: 16, t: 28, b: 28 };
  const n = dates.length;
  const idx = sampleIdx(n);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    for (const i of idx) {
      const v = s.values[i]!;
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (!Number.isFinite(lo)) {
    lo = 0;
    hi = 1;
  }
  if (options.invert) lo = Math.min(lo, 0);
  if (hi === lo) hi = lo + 1;
  const x = (i: number) => m.l + (i / Math.max(1, n - 1)) * (W - m.l - m.r);
  const y = (v: number) =>
    options.invert
      ? m.t + ((v - lo) / (hi - lo)) * (H - m.t - m.b)
      : H - m.b - ((v - lo) / (hi - lo)) * (H - m.t - m.b);
  const grid: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    grid.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`,
      `<text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(format(v))}</text>`,
    );
  }
  for (let k = 0; k <= 5; k++) {
    const i = Math.round(((n - 1) * k) / 5);
    grid.push(
      `<text x="${x(i).toFixed(1)}" y="${H - 8}" text-anchor="${k === 0 ? 'start' : k === 5 ? 'end' : 'middle'}">${esc(dates[i] ?? '')}</text>`,
    );
  }
  const paths = series.map((s) => {
    const d = idx
      .filter((i) => Number.isFinite(s.values[i]!))
      .map((i, k) => `${k === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(s.values[i]!).toFixed(1)}`)
      .join('');
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.name === series[0]?.name ? 2.2 : 1.4}"><title>${esc(s.name)}</title></path>`;
  });
  const legend = series
    .map((s) => `<span class="key"><i style="background:${s.color}"></i>${esc(s.name)}</span>`)
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption><div class="legend">${legend}</div><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${grid.join('')}${paths.join('')}</svg></figure>`;
}

/** An inline SVG stacked-area chart of shares (fractions summing to 1 per date). */
export function allocationChart(
  dates: string[],
  allocation: Record<string, ArrayLike<number> & { some: (f: (v: number) => boolean) => boolean }>,
  caption = 'Strategy allocation over time',
) {
  const W = 900;
  const H = 280;
  const m = { l: 92, r: 16, t: 28, b: 28 };
  const n = dates.length;
  const idx = sampleIdx(n, 400);
  const symbols = Object.keys(allocation).filter((s) => allocation[s]!.some((v) => v > 0));
  const x = (i: number) => m.l + (i / Math.max(1, n - 1)) * (W - m.l - m.r);
  const y = (v: number) => H - m.b - v * (H - m.t - m.b);
  const base = new Float64Array(idx.length);
  const layers = symbols.map((s, k) => {
    const top = idx.map((i, j) => base[j]! + allocation[s]![i]!);
    const upper = idx.map((i, j) => `${x(i).toFixed(1)},${y(top[j]!).toFixed(1)}`);
    const lower = idx.map((i, j) => `${x(i).toFixed(1)},${y(base[j]!).toFixed(1)}`).reverse();
    top.forEach((v, j) => {
      base[j] = v;
    });
    return `<polygon points="${[...upper, ...lower].join(' ')}" fill="${PALETTE[k % PALETTE.length]}" opacity="0.85"><title>${esc(s)}</title></polygon>`;
  });
  const grid: string[] = [];
  for (let k = 0; k <= 4; k++) {
    grid.push(`<text x="${m.l - 6}" y="${(y(k / 4) + 4).toFixed(1)}" text-anchor="end">${k * 25}%</text>`);
  }
  for (let k = 0; k <= 5; k++) {
    const i = Math.round(((n - 1) * k) / 5);
    grid.push(
      `<text x="${x(i).toFixed(1)}" y="${H - 8}" text-anchor="${k === 0 ? 'start' : k === 5 ? 'end' : 'middle'}">${esc(dates[i] ?? '')}</text>`,
    );
  }
  const legend = symbols
    .map(
      (s, k) => `<span class="key"><i style="background:${PALETTE[k % PALETTE.length]}"></i>${esc(s)}</span>`,
    )
    .join('');
  return `<figure><figcaption>${esc(caption)}</figcaption><div class="legend">${legend}</div><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="allocation over time">${layers.join('')}${grid.join('')}</svg></figure>`;
}

/** A self-contained HTML report (inline SVG charts, no scripts or external files). */
export function renderHtmlReport(results: readonly BacktestResult[], title = 'Treasury backtest'): string {
  const first = results[0];
  if (!first) return '<!doctype html><title>empty</title>';
  const fromDay = Math.round(Date.parse(`${first.from}T00:00:00Z`) / 86_400_000);
  const dates = Array.from({ length: first.values.length }, (_, i) => isoDateOf(fromDay + i));
  const colored = results.map((r, i) => ({ r, color: PALETTE[i % PALETTE.length]! }));
  const value = lineChart(
    'Treasury value (USD, after spending)',
    dates,
    colored.map(({ r, color }) => ({ name: r.name, values: r.values, color })),
    usd,
  );
  const growth = lineChart(
    'Growth of $1 (time-weighted, spending added back)',
    dates,
    colored.map(({ r, color }) => ({ name: r.name, values: timeWeightedIndex(r.values, r.outflows), color })),
    (v) => v.toFixed(2),
  );
  const dd = lineChart(
    'Drawdown from peak',
    dates,
    colored.map(({ r, color }) => ({
      name: r.name,
      values: Array.from(drawdowns(timeWeightedIndex(r.values, r.outflows)), (v) => -v),
      color,
    })),
    pct,
  );
  const floor = first.metrics.runwayFloorMonths;
  const runway = lineChart(
    floor === null
      ? 'Runway in stablecoins (months of spending)'
      : `Runway in stablecoins (months of spending; the floor, ${floor} months, in black)`,
    dates,
    [
      ...colored
        .filter(({ r }) => r.metrics.minRunwayMonths !== null)
        .map(({ r, color }) => ({ name: r.name, values: r.runwayMonths, color })),
      ...(floor === null
        ? []
        : [{ name: `runway floor (${floor} months)`, values: dates.map(() => floor), color: '#111827' }]),
    ],
    (v) => v.toFixed(0),
  );
  const floorNote = results
    .map(runwayFloorLine)
    .filter((l) => l)
    .map((l) => `<li>${esc(l)}</li>`)
    .join('');
  const alloc = first.allocation ? allocationChart(dates, first.allocation) : '';
  const table = `<table><thead><tr><th></th>${METRIC_COLUMNS.map(([h]) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${results
    .map(
      (r) =>
        `<tr><th>${esc(r.name)}</th>${METRIC_COLUMNS.map(([, f]) => `<td>${esc(f(r))}</td>`).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
  const proposals = first.proposals
    .slice(0, 200)
    .map(
      (p) =>
        `<tr class="${p.status}"><td>${p.decidedOn}</td><td>${p.executeOn}</td><td>${p.status}${p.reason ? ` — ${esc(p.reason)}` : ''}</td><td>${esc(
          p.swaps.map((s) => `${s.sell}→${s.buy}`).join(', '),
        )}</td><td>${usd(p.movedUsd)}</td></tr>`,
    )
    .join('');
  const warnings = results
    .flatMap((r) => r.warnings.map((w) => `<li>${esc(r.name)}: ${esc(w)}</li>`))
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} ${first.from} → ${first.to}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;color:#111827;max-width:1000px;margin:2rem auto;padding:0 1rem;background:#fafafa}
h1{font-size:1.5rem;margin-bottom:.2rem}.sub{color:#4b5563;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}th,td{padding:.35rem .5rem;border-bottom:1px solid #e5e7eb;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f3f4f6}
figure{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:1.2rem 0;padding:.6rem}
figcaption{font-weight:600}svg{width:100%;height:auto}svg text{font-size:11px;fill:#6b7280}.grid{stroke:#e5e7eb}
.legend{font-size:12px;color:#374151}.key{margin-right:1rem}.key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
tr.failed td{color:#b91c1c}details{margin:1rem 0}code{font-size:12px}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="sub">${first.from} → ${first.to} · strategy <code>${esc(first.strategy)}</code></p>
${table}
<p class="sub">CAGR, volatility, Sharpe (risk-free 0), Sortino and drawdown use time-weighted daily returns (spending added back). Fees are the pools' 0.3%; impact is the price impact beyond it. A proposal fails when any swap returns less than its minimum out at execution (the whole batch reverts). Each baseline runs twice: <em>ideal</em> (its targets reached exactly at the decision day's close: no delay, fees or impact) and <em>delay+costs</em> (the strategy's governance delay, pools, fees, price impact, price policy and limits on execution, without the strategy's own caps). "Floor reached" is the first day that ends with the runway at or above the floor; "days below floor after" counts the days that end below it afterwards.</p>
${floorNote ? `<ul>${floorNote}</ul>` : ''}
${value}${growth}${dd}${runway}${alloc}
${warnings ? `<h2>Warnings</h2><ul>${warnings}</ul>` : ''}
<details><summary>Strategy proposals (${first.proposals.length})</summary>
<table><thead><tr><th>Decided</th><th>Executes</th><th>Status</th><th>Swaps</th><th>Moved</th></tr></thead><tbody>${proposals}</tbody></table></details>
</body></html>
`;
}
