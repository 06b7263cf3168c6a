import { draftPlaceholders, fillDraft } from './placeholders.ts';
import type { Draft, DraftFacts, DraftResult, RationaleWriter } from './types.ts';

/** "{trade1}, then {trade2} and {trade3}". */
function inOrder(items: string[]): string {
  const [first, ...rest] = items;
  if (first === undefined) return '';
  if (!rest.length) return first;
  const last = rest.pop()!;
  return `${first}, then ${rest.length ? `${rest.join(', ')} and ${last}` : last}`;
}

/**
 * The offline writer's template: the same kind of text a model writes, words with placeholders, so it goes
 * through the same words check and the same filling. Uses only placeholders these facts have.
 */
export function deterministicTemplate(facts: DraftFacts): Draft {
  const names = new Set(draftPlaceholders(facts).map((p) => p.name));
  const biggestGap = [...facts.allocation].sort(
    (a, b) => Math.abs(b.targetBps - b.beforeBps) - Math.abs(a.targetBps - a.beforeBps),
  )[0];
  const trades = facts.trades.map((_, i) => `{trade${i + 1}}`);

  const summary = `Rebalance {movedUsd} ({movedPct} of a {treasuryUsd} treasury)${trades.length ? `: ${inOrder(trades)}` : ''}.`;

  const lines: string[] = [];
  lines.push('The configured strategy is {strategy}; market data as of {asOf}.');
  if (biggestGap) lines.push(`The largest gap: this proposal takes {weight.${biggestGap.symbol}}.`);
  const vols = Object.keys(facts.volatility).filter((s) => names.has(`vol.${s}`));
  if (vols.length) {
    lines.push(`Realised volatility over the lookback: ${vols.map((s) => `{vol.${s}}`).join(', ')}.`);
  }
  if (names.has('runwayBefore')) {
    lines.push(
      'Runway in stablecoins at {monthlySpendUsd} a month goes from {runwayBefore} to {runwayAfter}.',
    );
  }
  lines.push(
    'The move is limited by the guardrails ({guardrails}); further steps follow in later proposals if the gap persists.',
  );

  const risks = [
    'Prices move during the vote: each swap runs only at the oracle price of that moment less its tolerance, never below its floor, and otherwise nothing executes.',
    // The largest impacts, at most four: the schema allows six risks.
    ...facts.trades
      .map((t, i) => ({ impact: t.priceImpactBps, n: i + 1 }))
      .filter((t) => t.impact >= 50)
      .sort((a, b) => b.impact - a.impact)
      .slice(0, 4)
      .map((t) => `The swap moves its pool's price by {trade${t.n}.impact}.`),
    'Selling the governance token adds supply to its pool; the step per proposal is capped to limit this.',
  ];
  return { summary, rationale: lines.join(' '), risks, recommendation: 'propose' };
}

/** The offline writer: builds the rationale from the plan and the market data alone, with no network. */
export function writeDeterministicDraft(facts: DraftFacts): Draft {
  return fillDraft(deterministicTemplate(facts), draftPlaceholders(facts));
}

export const deterministicWriter: RationaleWriter = {
  name: 'deterministic',
  async write(facts: DraftFacts): Promise<DraftResult> {
    return { draft: writeDeterministicDraft(facts), writer: 'deterministic' };
  },
};
