import { MarketDataError } from '../shared/errors.ts';
import { closesAsOf, isoDateOf, type PriceHistory, priceAsOf } from './priceHistory.ts';
import type { MarketSnapshot, TokenInfo } from './types.ts';

/**
 * The market as of `asOfDay`: prices and the last `lookbackDays + 1` closes of every token, all dated on or
 * before asOfDay. Values that are not finite and above zero are never included: such a token is unpriced.
 */
export function buildSnapshot(
  history: PriceHistory,
  tokens: readonly TokenInfo[],
  asOfDay: number,
  lookbackDays: number,
): MarketSnapshot {
  if (!Number.isInteger(asOfDay))
    throw new MarketDataError(`snapshot day must be a whole day, got ${asOfDay}`);
  const bySymbol: Record<string, TokenInfo> = {};
  const prices: Record<string, number> = {};
  const closes: Record<string, Float64Array> = {};
  for (const token of tokens) {
    bySymbol[token.symbol] = token;
    const price = priceAsOf(history, token.priceAsset, asOfDay);
    if (price === undefined || !Number.isFinite(price) || price <= 0) continue;
    prices[token.symbol] = price;
    const window = closesAsOf(history, token.priceAsset, asOfDay, lookbackDays + 1);
    if (window) closes[token.symbol] = window;
  }
  return { asOf: isoDateOf(asOfDay), day: asOfDay, tokens: bySymbol, prices, closes, lookbackDays };
}
