import { numberTick, percentTick, usdTick } from '../../strategies/backtest/axisLabels.ts';
import { allocationChart, esc, lineChart, PALETTE } from '../../strategies/backtest/report.ts';
import type { DemoResult } from './runDemo.ts';
import { maxDrawdown, summaryLines } from './summary.ts';

function drawdownSeries(values: number[]): number[] {
  let peak = 0;
  return values.map((v) => {
    peak = Math.max(peak, v);
    return peak > 0 ? v / peak - 1 : 0;
  });
}

/** The demo's report: a self-contained page (inline SVG, no scripts) a newcomer can open in any browser. */
export function renderDemoReport(result: DemoResult): string {
  const dates = result.weeks.map((w) => w.date);
  const agent = result.weeks.map((w) => w.valueUsd);
  const hold = result.weeks.map((w) => w.baselineUsd);
  const value = lineChart(
    'Treasury value: the agent against holding still (USD)',
    dates,
    [
      { name: 'agent (on chain)', values: agent, color: PALETTE[0]! },
      { name: 'holding still', values: hold, color: PALETTE[1]! },
    ],
    usdTick,
  );
  const dd = lineChart(
    'Drawdown from peak',
    dates,
    [
      { name: 'agent', values: drawdownSeries(agent), color: PALETTE[0]! },
      { name: 'holding still', values: drawdownSeries(hold), color: PALETTE[1]! },
    ],
    percentTick,
  );
  const runway = lineChart(
    'Runway in stablecoins (months of spending)',
    dates,
    [{ name: 'runway', values: result.weeks.map((w) => w.runwayMonths), color: PALETTE[3]! }],
    numberTick,
  );
  const symbols = Object.keys(result.weeks[0]?.allocationBps ?? {});
  const allocation = Object.fromEntries(
    symbols.map((s) => [s, Float32Array.from(result.weeks, (w) => (w.allocationBps[s] ?? 0) / 10_000)]),
  );
  const alloc = result.weeks.length
    ? allocationChart(dates, allocation, 'Allocation of the treasury over time (on chain)')
    : '';
  const members = result.members
    .map(
      (m) =>
        `<tr><td>${esc(m.name)}</td><td><code>${esc(m.address)}</code></td><td>${m.stake.toLocaleString('en-US')} GOV</td><td>${esc(m.policy)}</td></tr>`,
    )
    .join('');
  const proposals = result.proposals
    .map((p, i) => {
      const votes = p.votes
        .map(
          (v) =>
            `<li><b>${esc(v.member)}</b> ${esc(v.choice)} (${v.vp.toLocaleString('en-US')} GOV)${v.reason ? ` — ${esc(v.reason)}` : ''}</li>`,
        )
        .join('');
      const tx = p.executionTxHash
        ? `executed in transaction <code>${esc(p.executionTxHash)}</code>`
        : 'not executed';
      return `<article class="proposal ${esc(p.state)}" id="proposal-${i + 1}">
<h3>${i + 1}. ${esc(p.title)} <span class="state">${esc(p.state)}</span></h3>
<p class="meta">Snapshot proposal <code>${esc(p.id)}</code> · Safe transaction <code>${esc(p.safeTxHash)}</code> · ${tx}${p.reason ? ` · ${esc(p.reason)}` : ''}</p>
<p><b>${esc(p.summary)}</b></p><p>${esc(p.rationale)}</p><p class="meta">rationale by ${esc(p.writer)}</p>
<details><summary>Votes (${p.votes.length})</summary><ul>${votes || '<li>none recorded</li>'}</ul></details>
</article>`;
    })
    .join('\n');
  const first = result.weeks[0];
  const last = result.weeks.at(-1);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>DAO treasury agent — demo ${esc(first?.date ?? '')} → ${esc(last?.date ?? '')}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;color:#111827;max-width:1000px;margin:2rem auto;padding:0 1rem;background:#fafafa}
h1{font-size:1.6rem;margin-bottom:.2rem}.sub,.meta{color:#4b5563}.meta{font-size:13px;word-break:break-all}
ul.summary{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:.8rem 2rem}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}th,td{padding:.35rem .5rem;border-bottom:1px solid #e5e7eb;text-align:left}
figure{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:1.2rem 0;padding:.6rem}
figcaption{font-weight:600}svg{width:100%;height:auto}svg text{font-size:11px;fill:#6b7280}.grid{stroke:#e5e7eb}
.legend{font-size:12px;color:#374151}.key{margin-right:1rem}.key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
article.proposal{background:#fff;border:1px solid #e5e7eb;border-left:5px solid #9ca3af;border-radius:8px;padding:.2rem 1rem;margin:1rem 0}
article.executed{border-left-color:#10b981}article.rejected{border-left-color:#ef4444}article.expired,article.failed{border-left-color:#f59e0b}
.state{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#374151;background:#f3f4f6;border-radius:4px;padding:.1rem .4rem}
h3{font-size:1.05rem}code{font-size:12px}
</style></head><body>
<h1>DAO treasury agent — real market history, governed on Snapshot, executed through the Safe</h1>
<p class="sub">Local chain (anvil) with Safe v1.4.1, Uniswap V2 and price feeds following the daily closes of ${esc(first?.date ?? '')} → ${esc(last?.date ?? '')}; the project's Snapshot-compatible hub; members voting with snapshot.js. Every executed transaction is the exact Safe transaction whose hash the proposal showed.</p>
<ul class="summary">${summaryLines(result)
    .map((l) => `<li>${esc(l)}</li>`)
    .join('')}</ul>
${value}${dd}${alloc}${runway}
<h2>Members and how they vote</h2>
<table><thead><tr><th>Member</th><th>Address</th><th>Stake</th><th>Policy</th></tr></thead><tbody>${members}</tbody></table>
<h2>Proposals (${result.proposals.length})</h2>
<p class="sub">Max drawdown: agent ${(maxDrawdown(agent) * 100).toFixed(1)}%, holding still ${(maxDrawdown(hold) * 100).toFixed(1)}%. The audit log (<code>${esc(result.auditPath)}</code>) holds every decision with its inputs: <code>treasury audit verify --log ${esc(result.auditPath)}</code>.</p>
${proposals}
</body></html>
`;
}
