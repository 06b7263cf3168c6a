import { formatNumber, priceText } from '../../shared/numberFormat.ts';
import type { Draft, DraftFacts } from './types.ts';

/**
 * Placeholders: the only way a figure or a token enters a draft. A writer (the model or the deterministic one)
 * writes `{movedPct}`; deterministic code puts the value there, formatted from the plan. Each value names its
 * subject where the figure belongs to one ("92.0% for GOV", "65,333.33 GOV", "$3,300 per WETH"), so a true
 * figure cannot be told about the wrong token: the writer's own words may not name tokens at all.
 *
 * The set is closed and built from the facts (names with a token or trade in them exist only for the tokens and
 * trades of this plan):
 * - `{asOf}` time of the market data; `{strategy}` the configured strategy; `{guardrails}` their names;
 * - `{treasuryUsd}`, `{movedUsd}`, `{movedPct}` (share of the treasury moved), `{tradeCount}`;
 * - `{monthlySpendUsd}`, `{runwayBefore}`, `{runwayAfter}` (stablecoin runway) when there is a monthly spend;
 * - per token S: `{token.S}` (the symbol), `{weight.S}` (before, after and target share), `{price.S}`,
 *   `{vol.S}` (realised volatility, when finite);
 * - per trade N (from 1): `{tradeN}` (the trade in words), `{tradeN.sell}`, `{tradeN.minOut}`,
 *   `{tradeN.expectedOut}` (amounts with their token), `{tradeN.impact}` (price impact on its pool).
 */
export type Placeholder = {
  /** Written by the writer as `{name}`. */
  name: string;
  /** What replaces it: deterministic, already formatted, plain text. */
  value: string;
  /** What it is, for the prompt. */
  meaning: string;
};

const usd = (value: number) => `$${formatNumber(Math.round(value))}`;
const pct = (bps: number) => `${(bps / 100).toFixed(2)}%`;

function utcTime(asOf: string): string {
  const date = new Date(asOf);
  return Number.isNaN(date.getTime()) ? asOf : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Tokens of the plan, in the order the facts list them. */
export function planSymbols(facts: DraftFacts): string[] {
  return [
    ...new Set([
      ...facts.allocation.map((a) => a.symbol),
      ...facts.trades.flatMap((t) => [t.sell, t.buy]),
      ...facts.prices.map((p) => p.symbol),
      ...Object.keys(facts.volatility),
    ]),
  ];
}

/** Every placeholder a writer may use for these facts. Pure. */
export function draftPlaceholders(facts: DraftFacts): Placeholder[] {
  const list: Placeholder[] = [];
  const add = (name: string, value: string, meaning: string) => list.push({ name, value, meaning });
  const priceOf = new Map(facts.prices.map((p) => [p.symbol, p.usd]));
  const stable = (symbol: string) => Math.abs((priceOf.get(symbol) ?? 0) - 1) <= 0.02;
  const movedBps = facts.treasuryUsd > 0 ? Math.round((facts.movedUsd / facts.treasuryUsd) * 10_000) : 0;

  add('asOf', utcTime(facts.asOf), 'time of the market data');
  add('strategy', facts.strategy, 'the configured strategy');
  add('guardrails', facts.guardrails.map((g) => g.name).join(', '), 'the guardrails the plan was held to');
  add('treasuryUsd', usd(facts.treasuryUsd), 'value of the whole treasury');
  add('movedUsd', usd(facts.movedUsd), 'value this proposal moves');
  add('movedPct', pct(movedBps), 'share of the treasury this proposal moves');
  add('tradeCount', String(facts.trades.length), 'number of trades');
  const runway = [facts.runwayMonthsBefore, facts.runwayMonthsAfter];
  if (facts.monthlySpendUsd > 0) {
    add('monthlySpendUsd', usd(facts.monthlySpendUsd), 'monthly spend');
    if (runway.every(Number.isFinite)) {
      add('runwayBefore', `${facts.runwayMonthsBefore.toFixed(1)} months`, 'stablecoin runway today');
      add(
        'runwayAfter',
        `${facts.runwayMonthsAfter.toFixed(1)} months`,
        'stablecoin runway after the trades',
      );
    }
  }
  for (const symbol of planSymbols(facts)) add(`token.${symbol}`, symbol, 'a token of the plan');
  for (const a of facts.allocation) {
    add(
      `weight.${a.symbol}`,
      `${a.symbol} from ${pct(a.beforeBps)} to ${pct(a.afterBps)} of the treasury (target ${pct(a.targetBps)})`,
      'its share of the treasury before and after this proposal, and its target',
    );
  }
  for (const p of facts.prices) {
    if (Number.isFinite(p.usd)) add(`price.${p.symbol}`, `$${priceText(p.usd)} per ${p.symbol}`, 'its price');
  }
  for (const [symbol, v] of Object.entries(facts.volatility)) {
    if (Number.isFinite(v)) {
      add(
        `vol.${symbol}`,
        `${(v * 100).toFixed(1)}% for ${symbol}`,
        'realised annualised volatility over the lookback',
      );
    }
  }
  facts.trades.forEach((t, i) => {
    const n = `trade${i + 1}`;
    add(
      n,
      stable(t.sell)
        ? `buy ${t.buy} with ${t.amountIn} ${t.sell}`
        : `sell ${t.amountIn} ${t.sell} for ${t.buy}`,
      'this trade in words',
    );
    add(`${n}.sell`, `${t.amountIn} ${t.sell}`, 'the amount it sells');
    add(`${n}.minOut`, `${t.minOut} ${t.buy}`, 'the least it may receive (at the price floor)');
    add(`${n}.expectedOut`, `${t.expectedOut} ${t.buy}`, 'what it is expected to receive');
    add(`${n}.impact`, `${pct(t.priceImpactBps)} on the ${t.sell} → ${t.buy} pool`, 'its price impact');
  });
  return list;
}

/** `{name}` in a text: the name is anything up to the closing brace (an unknown one is refused by the check). */
export const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Puts the values in, in one pass (a value that contains braces is never read again). */
export function fillPlaceholders(text: string, values: ReadonlyMap<string, string>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => values.get(name) ?? whole);
}

/** A checked template with its placeholders filled: the text voters read. */
export function fillDraft(template: Draft, placeholders: readonly Placeholder[]): Draft {
  const values = new Map(placeholders.map((p) => [p.name, p.value]));
  return {
    summary: fillPlaceholders(template.summary, values),
    rationale: fillPlaceholders(template.rationale, values),
    risks: template.risks.map((r) => fillPlaceholders(r, values)),
    recommendation: template.recommendation,
  };
}
