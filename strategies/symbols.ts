import { z } from 'zod';

/** A token symbol as in the config (kept here so strategies/ does not import config/, which imports us). */
export const StrategySymbolSchema = z.string().regex(/^[A-Z][A-Z0-9]{1,9}$/, {
  message: 'token symbols are 2–10 capital letters or digits, e.g. WETH',
});

/** Basis points 0..10,000. */
export const BpsSchema = z.number().int().min(0).max(10_000);
