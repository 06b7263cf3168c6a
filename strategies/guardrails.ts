import { z } from 'zod';
import { StrategySymbolSchema } from './symbols.ts';

/**
 * `guardrails:` in the config: limits every plan must respect, whatever the strategy says. The planner applies
 * them; the executor re-checks them before signing.
 */
export const GuardrailsSchema = z.strictObject({
  maxMovedPerProposalBps: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(1_000)
    .describe(
      "The most of the treasury's value one proposal may move (one-way: max of sold and bought), in bps.",
    ),
  maxTradeBpsPerAsset: z
    .record(StrategySymbolSchema, z.number().int().min(0).max(10_000))
    .default({})
    .describe("Per symbol: the most of the treasury's value one proposal may sell or buy of it, in bps."),
  maxSlippageBps: z
    .number()
    .int()
    .min(0)
    .max(2_000)
    .default(100)
    .describe(
      "Tolerance against the oracle price at execution, in bps, on top of the pool fee and the planned price impact: each swap's minimum out is the feeds' amount out less (fee + impact + this), checked on chain when the voted batch runs. A pool pushed further from the oracle (a sandwich) makes the batch revert.",
    ),
  priceFloorBps: z
    .number()
    .int()
    .min(1)
    .max(9_000)
    .default(2_000)
    .describe(
      'The worst price voters accept, as a distance below the oracle price when the proposal is drafted, in bps: a swap never executes below it, however the market moves during the vote ("never below $16.20 per GOV").',
    ),
  maxPriceImpactBps: z
    .number()
    .int()
    .min(1)
    .max(5_000)
    .default(200)
    .describe(
      "Trades are shrunk so that no swap moves its pool's price more than this, in bps (fee excluded).",
    ),
  minTradeUsd: z
    .number()
    .min(0)
    .max(1e12)
    .default(1_000)
    .describe('Trades smaller than this (USD) are skipped.'),
  runwayFloorMonths: z
    .number()
    .min(0)
    .max(240)
    .default(0)
    .describe('Buys never take the stablecoins below this many months of spending (0 = no floor).'),
  allowlist: z
    .array(StrategySymbolSchema)
    .min(1)
    .optional()
    .describe('Symbols that may be traded (default: every configured token).'),
});

export type Guardrails = z.infer<typeof GuardrailsSchema>;
export type GuardrailsInput = z.input<typeof GuardrailsSchema>;
