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

/** Of the proposals that passed: how many executed, the share of their voted USD, and why the rest did not. */
export function executionLines(result: Pick<DemoResult, 'proposals'>): string[] {
  const passed = result.proposals.filter((p) => p.voteOutcome === 'passed');
  if (passed.length === 0) return [];
  const executed = passed.filter((p) => p.state === 'executed');
  const voted = passed.reduce((a, p) => a + p.movedUsd, 0);
  const done = executed.reduce((a, p) => a + p.movedUsd, 0);
  const reasons = new Map<string, number>();
  for (const p of passed) {
    if (p.state === 'executed') continue;
    const why = `${p.state}: ${p.reason ?? (p.state === 'passed' ? 'waiting to execute' : 'no reason recorded')}`;
    reasons.set(why, (reasons.get(why) ?? 0) + 1);
  }
  return [
    `passed proposals executed: ${executed.length} of ${passed.length} (${pct(executed.length / passed.length)}); voted USD executed: ${usd(done)} of ${usd(voted)} (${voted > 0 ? pct(done / voted) : 'n/a'})`,
    ...[...reasons].map(([why, n]) => `  not executed (${n}): ${why}`),
  ];
}

/** The demo's closing lines: proposals, value and drawdown against holding still, runway. */
export function summaryLines(result: DemoResult): string[] {
  const count = (state: string) => result.proposals.filter((p) => p.state === state).length;
  const passed = result.proposals.filter((p) => p.voteOutcome === 'passed').length;
  const lines = [
    `proposals: ${result.proposals.length} made, ${passed} passed the vote, ${count('executed')} executed, ${count('rejected')} rejected, ${count('expired')} expired, ${count('failed')} failed`,
    ...executionLines(result),
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
