import { z } from 'zod';
import { StrategySymbolSchema } from './symbols.ts';

/**
 * `guardrails:` in the config: limits every plan must respect, whatever the strategy says. The planner applies
 * them; the executor re-checks them before signing.
 */
export const GuardrailsSchema = z.strictObject({
  /** The most of the treasury's value one proposal may move (one-way: max of sold and bought), in bps. */
  maxMovedPerProposalBps: z.number().int().min(1).max(10_000).default(1_000),
  /** Per symbol: the most of the treasury's value one proposal may sell or buy of it, in bps. */
  maxTradeBpsPerAsset: z.record(StrategySymbolSchema, z.number().int().min(0).max(10_000)).default({}),
  /** Slippage tolerance on top of the expected output (minAmountOut = expected × (1 − this)), in bps. */
  maxSlippageBps: z.number().int().min(0).max(2_000).default(100),
  /** Trades are shrunk so that no swap moves its pool's price more than this, in bps (fee excluded). */
  maxPriceImpactBps: z.number().int().min(1).max(5_000).default(200),
  /** Trades smaller than this (USD) are skipped. */
  minTradeUsd: z.number().min(0).max(1e12).default(1_000),
  /** Buys never take the stablecoins below this many months of spending (0 = no floor). */
  runwayFloorMonths: z.number().min(0).max(240).default(0),
  /** Symbols that may be traded (default: every configured token). */
  allowlist: z.array(StrategySymbolSchema).min(1).optional(),
});

export type Guardrails = z.infer<typeof GuardrailsSchema>;
export type GuardrailsInput = z.input<typeof GuardrailsSchema>;
