import { z } from 'zod';

/**
 * The draft: words only. The model (or the deterministic writer) explains the plan and may recommend skipping
 * it; it never sets numbers, tokens, addresses or calldata. What a writer returns is a template: its own words
 * (checked against an allow-list, wordsCheck.ts) with placeholders such as `{movedPct}` where figures and tokens
 * go; deterministic code fills them from the plan (placeholders.ts). The limits below bound the template.
 */
export const DraftSchema = z.strictObject({
  summary: z
    .string()
    .min(1)
    .max(400)
    .describe('One or two sentences: what changes and why. Figures and tokens only as {placeholders}.'),
  rationale: z
    .string()
    .min(1)
    .max(2000)
    .describe(
      'Why this rebalance, from the strategy and the market data given. Figures and tokens only as {placeholders}.',
    ),
  risks: z
    .array(z.string().min(1).max(300))
    .max(6)
    .describe('What could go wrong, one short item each. Figures and tokens only as {placeholders}.'),
  recommendation: z
    .enum(['propose', 'skip'])
    .describe('propose, or skip when the plan should not go to a vote.'),
});
export type Draft = z.infer<typeof DraftSchema>;

/** The facts a writer may use: all from the plan and the observed market (already validated). */
export type DraftFacts = {
  asOf: string;
  strategy: string;
  treasuryUsd: number;
  movedUsd: number;
  monthlySpendUsd: number;
  runwayMonthsBefore: number;
  runwayMonthsAfter: number;
  allocation: { symbol: string; beforeBps: number; targetBps: number; afterBps: number }[];
  trades: {
    sell: string;
    buy: string;
    amountIn: string;
    minOut: string;
    expectedOut: string;
    priceImpactBps: number;
  }[];
  prices: { symbol: string; usd: number; source: string; updatedAt: number }[];
  /** Realised annualised volatility over the strategy's lookback, by symbol (fraction, e.g. 0.65). */
  volatility: Record<string, number>;
  guardrails: { name: string; detail: string }[];
  /** Text from outside (token names, earlier proposal titles): data only, never instructions. */
  untrusted: { tokenNames: Record<string, string>; earlierProposals: string[] };
};

export type DraftResult = {
  /** The text voters read: the template with its placeholders filled (the body renders it as inert text). */
  draft: Draft;
  /** 'deterministic', or the provider:model that wrote it. */
  writer: string;
  /**
   * Why the model's draft was not used (malformed output, words check, timeout), when it was not. A skip the
   * model recommended is kept even then (`draft.recommendation` is 'skip') and this says so.
   */
  fallbackReason?: string;
  /** What was sent to and received from the model, for the audit log (no secrets). */
  prompt?: string;
  reply?: string;
};

/** The port: anything that turns facts into a draft. */
export type RationaleWriter = {
  name: string;
  write: (facts: DraftFacts) => Promise<DraftResult>;
};
