import type { Draft, DraftFacts, DraftResult, RationaleWriter } from './types.ts';

const pct = (bps: number) => `${(bps / 100).toFixed(2)}%`;
const usd = (value: number) => `$${Math.round(value).toLocaleString('en-US')}`;

/** The offline writer: builds the rationale from the plan and the market data alone, with no network. */
export function writeDeterministicDraft(facts: DraftFacts): Draft {
  const sells = facts.trades.filter((t) => t.buy === 'USDC');
  const buys = facts.trades.filter((t) => t.sell === 'USDC' && t.buy !== 'USDC');
  const biggestGap = [...facts.allocation].sort(
    (a, b) => Math.abs(b.targetBps - b.beforeBps) - Math.abs(a.targetBps - a.beforeBps),
  )[0];
  const movedBps = facts.treasuryUsd > 0 ? Math.round((facts.movedUsd / facts.treasuryUsd) * 10_000) : 0;
  const tradeWords = [
    sells.length ? `sell ${sells.map((t) => `${t.amountIn} ${t.sell}`).join(' and ')}` : '',
    buys.length ? `buy ${buys.map((t) => `${t.buy} with ${t.amountIn} USDC`).join(' and ')}` : '',
  ].filter(Boolean);

  const summary = `Rebalance ${usd(facts.movedUsd)} (${pct(movedBps)} of a ${usd(facts.treasuryUsd)} treasury): ${tradeWords.join(', then ')}.`;

  const lines: string[] = [];
  lines.push(`The configured strategy is ${facts.strategy}; market data as of ${facts.asOf}.`);
  if (biggestGap) {
    lines.push(
      `The largest gap is ${biggestGap.symbol}: ${pct(biggestGap.beforeBps)} of the treasury against a target of ${pct(biggestGap.targetBps)}; after this proposal it would be ${pct(biggestGap.afterBps)}.`,
    );
  }
  const vols = Object.entries(facts.volatility).filter(([, v]) => Number.isFinite(v));
  if (vols.length) {
    lines.push(
      `Realised volatility over the lookback: ${vols.map(([s, v]) => `${s} ${(v * 100).toFixed(1)}%`).join(', ')}.`,
    );
  }
  if (facts.monthlySpendUsd > 0) {
    lines.push(
      `Runway in stablecoins at ${usd(facts.monthlySpendUsd)} a month goes from ${facts.runwayMonthsBefore.toFixed(1)} to ${facts.runwayMonthsAfter.toFixed(1)} months.`,
    );
  }
  lines.push(
    `The move is limited by the guardrails (${facts.guardrails.map((g) => g.name).join(', ')}); further steps follow in later proposals if the gap persists.`,
  );

  const risks = [
    'Prices move during the vote: each swap runs only at the oracle price of that moment less its tolerance, never below its floor, and otherwise nothing executes.',
    ...facts.trades
      .filter((t) => t.priceImpactBps >= 50)
      .map((t) => `${t.sell} → ${t.buy} moves its pool's price by ${pct(t.priceImpactBps)}.`),
    'Selling the governance token adds supply to its pool; the step per proposal is capped to limit this.',
  ];
  return { summary, rationale: lines.join(' '), risks, recommendation: 'propose' };
}

export const deterministicWriter: RationaleWriter = {
  name: 'deterministic',
  async write(facts: DraftFacts): Promise<DraftResult> {
    return { draft: writeDeterministicDraft(facts), writer: 'deterministic' };
  },
};
