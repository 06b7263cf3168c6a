import { TreasuryError } from '../shared/errors.ts';
import type { Holdings, MarketSnapshot, Position, WeightsBps } from './types.ts';

export const TOTAL_BPS = 10_000;

/**
 * Rounds non-negative shares (any scale) to integer basis points adding up to exactly 10,000 (largest
 * remainder; ties go to the symbol first in alphabetical order, so the result is deterministic).
 * Symbols with share 0 are left out. Throws if there is nothing to allocate.
 */
export function toBasisPoints(shares: Readonly<Record<string, number>>): WeightsBps {
  const symbols: string[] = [];
  let total = 0;
  for (const symbol in shares) {
    const v = shares[symbol]!;
    if (!(v > 0)) continue;
    if (v === Number.POSITIVE_INFINITY)
      throw new TreasuryError(`weight of ${symbol} is not a finite number (${v})`);
    symbols.push(symbol);
    total += v;
  }
  if (!(total > 0) || !Number.isFinite(total))
    throw new TreasuryError('no weight to allocate: every share is zero');
  symbols.sort();
  const n = symbols.length;
  const floors = new Array<number>(n);
  const remainders = new Array<number>(n);
  let used = 0;
  for (let i = 0; i < n; i++) {
    const exact = (shares[symbols[i]!]! / total) * TOTAL_BPS;
    const floor = Math.floor(exact);
    floors[i] = floor;
    remainders[i] = exact - floor;
    used += floor;
  }
  // hand the missing points to the largest remainders (first symbol wins ties)
  // (fewer than n points are missing, so each symbol gets at most one)
  while (used < TOTAL_BPS) {
    let best = 0;
    for (let i = 1; i < n; i++) if (remainders[i]! > remainders[best]!) best = i;
    floors[best] = floors[best]! + 1;
    remainders[best] = -1;
    used++;
  }
  const out: WeightsBps = {};
  for (let i = 0; i < n; i++) if (floors[i]! > 0) out[symbols[i]!] = floors[i]!;
  return out;
}

/** Basis points as fractions of 1. */
export function sharesOf(weights: WeightsBps): Record<string, number> {
  const out: Record<string, number> = {};
  for (const symbol in weights) if (weights[symbol]! > 0) out[symbol] = weights[symbol]! / TOTAL_BPS;
  return out;
}

/** Checks the weights contract: integers ≥ 0, priced symbols only, total exactly 10,000. */
export function assertValidWeights(weights: WeightsBps, snapshot: MarketSnapshot, who: string): void {
  let total = 0;
  for (const symbol in weights) {
    const bps = weights[symbol]!;
    if (!Number.isInteger(bps) || bps < 0) {
      throw new TreasuryError(
        `${who} returned weight ${bps} for ${symbol}: weights must be whole basis points ≥ 0`,
      );
    }
    if (bps > 0 && snapshot.prices[symbol] === undefined) {
      throw new TreasuryError(`${who} gave ${bps} bps to ${symbol}, which has no price on ${snapshot.asOf}`);
    }
    total += bps;
  }
  if (total !== TOTAL_BPS) {
    throw new TreasuryError(`${who} returned weights adding up to ${total} basis points instead of 10000`);
  }
}

/** Units of a base-unit amount as a float, for valuation only (relative error about 1e-16). */
export function unitsOf(amount: bigint, decimals: number): number {
  return Number(amount) / (POW10_NUMBER[decimals] ?? 10 ** decimals);
}

const POW10_NUMBER: readonly number[] = Array.from({ length: 37 }, (_, k) => 10 ** k);

/** Base units of a float amount of tokens, rounded down (never more than asked). */
export function baseUnitsOf(units: number, decimals: number): bigint {
  if (!(units > 0) || !Number.isFinite(units)) return 0n;
  const whole = Math.floor(units);
  const frac = units - whole;
  const scale = 10n ** BigInt(decimals);
  const fracUnits = BigInt(Math.floor(frac * Number(scale)));
  return BigInt(whole) * scale + (fracUnits < scale ? fracUnits : scale - 1n);
}

/** USD value by symbol of the priced holdings, and their total. Unpriced holdings count for nothing. */
export function valueHoldings(
  snapshot: MarketSnapshot,
  holdings: Holdings,
): { values: Record<string, number>; total: number } {
  const values: Record<string, number> = {};
  let total = 0;
  for (const [symbol, amount] of Object.entries(holdings.balances)) {
    const price = snapshot.prices[symbol];
    const token = snapshot.tokens[symbol];
    if (price === undefined || !token || amount <= 0n) continue;
    const value = unitsOf(amount, token.decimals) * price;
    values[symbol] = value;
    total += value;
  }
  return { values, total };
}

/** The current allocation as fractions of the priced treasury (empty when it holds nothing priced). */
export function currentShares(snapshot: MarketSnapshot, holdings: Holdings): Record<string, number> {
  const { values, total } = valueHoldings(snapshot, holdings);
  const shares: Record<string, number> = {};
  if (total <= 0) return shares;
  for (const [symbol, value] of Object.entries(values)) shares[symbol] = value / total;
  return shares;
}

/** Shares and total value of the priced holdings. */
export function positionOf(snapshot: MarketSnapshot, holdings: Holdings): Position {
  const { values, total } = valueHoldings(snapshot, holdings);
  const shares: Record<string, number> = {};
  if (total > 0) for (const symbol in values) shares[symbol] = values[symbol]! / total;
  return { shares, totalUsd: total };
}

/** Stablecoin symbols with a price in the snapshot (a fallback target when nothing else is available). */
export function pricedStables(snapshot: MarketSnapshot, among?: readonly string[]): string[] {
  const symbols = among ?? Object.keys(snapshot.tokens).filter((s) => snapshot.tokens[s]?.role === 'stable');
  return symbols.filter((s) => snapshot.prices[s] !== undefined).sort();
}
