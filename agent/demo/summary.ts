import type { DemoResult } from './runDemo.ts';

/** Largest peak-to-trough fall of a series, as a fraction (0.35 = −35%). */
export function maxDrawdown(values: number[]): number {
  let peak = Number.NEGATIVE_INFINITY;
  let worst = 0;
  for (const v of values) {
    peak = Math.max(peak, v);
    if (peak > 0) worst = Math.max(worst, 1 - v / peak);
  }
  return worst;
}

const usd = (v: number) => `$${Math.round(v).toLocaleString('en-US')}`;
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/** The demo's closing lines: proposals, value and drawdown against holding still, runway. */
export function summaryLines(result: DemoResult): string[] {
  const count = (state: string) => result.proposals.filter((p) => p.state === state).length;
  const passed = result.proposals.filter((p) => p.voteOutcome === 'passed').length;
  const lines = [
    `proposals: ${result.proposals.length} made, ${passed} passed the vote, ${count('executed')} executed, ${count('rejected')} rejected, ${count('expired')} expired (prices or nonce moved), ${count('failed')} failed`,
  ];
  const first = result.weeks[0];
  const last = result.weeks.at(-1);
  if (first && last) {
    lines.push(
      `treasury: ${usd(first.baselineUsd)} → ${usd(last.valueUsd)} (holding still: ${usd(last.baselineUsd)}); agent ${pct(last.valueUsd / last.baselineUsd - 1)} vs holding still`,
      `max drawdown: agent ${pct(maxDrawdown(result.weeks.map((w) => w.valueUsd)))}, holding still ${pct(maxDrawdown(result.weeks.map((w) => w.baselineUsd)))}`,
      `runway: ${first.runwayMonths.toFixed(1)} → ${last.runwayMonths.toFixed(1)} months of spend in stablecoins`,
    );
  }
  lines.push(
    `finished in ${(result.elapsedMs / 1000).toFixed(1)} s${result.aborted ? ' (interrupted)' : ''}`,
  );
  return lines;
}
