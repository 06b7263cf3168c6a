import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MarketDataError } from '../shared/errors.ts';
import {
  closesAsOf,
  dayOf,
  isoDateOf,
  loadPriceHistory,
  parsePriceCsv,
  priceAsOf,
  priceHistoryFromSeries,
} from '../strategies/priceHistory.ts';
import { buildSnapshot } from '../strategies/snapshot.ts';

const PRICES = fileURLToPath(new URL('../data/prices_daily.csv', import.meta.url));
const HEADER = 'date,asset,close,volume_usd,market_cap_usd,source';

function errorOf(fn: () => unknown): MarketDataError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MarketDataError) return error;
    throw error;
  }
  throw new Error('expected a MarketDataError');
}

describe('price history loader', () => {
  it('loads the real file with per-asset ranges and gaps', async () => {
    const h = await loadPriceHistory(PRICES);
    expect(isoDateOf(h.assets.USDC!.firstDay)).toBe('2018-10-04');
    expect(isoDateOf(h.assets.USDC!.lastDay)).toBe('2023-08-27');
    expect(isoDateOf(h.assets.UNI!.firstDay)).toBe('2020-09-16');
    expect(priceAsOf(h, 'ETH', dayOf('2022-01-03'))).toBeCloseTo(3769.40494, 5);
    // AAVE stops on 2022-02-14: carried for at most maxStaleDays, then unpriced
    const stop = dayOf('2022-02-14');
    expect(priceAsOf(h, 'AAVE', stop + h.maxStaleDays)).toBeDefined();
    expect(priceAsOf(h, 'AAVE', stop + h.maxStaleDays + 1)).toBeUndefined();
    expect(priceAsOf(h, 'UNI', dayOf('2020-01-01'))).toBeUndefined();
  });

  it('reports bad rows with file, line and field', () => {
    const text = [
      HEADER,
      '2022-01-01,ETH,100,1,1,X',
      '2022-01-02,ETH,0,1,1,X',
      '2022-01-03,ETH,NaN,1,1,X',
      '2022-13-01,ETH,5,1,1,X',
      '2022-01-05,ETH,,1,1,X',
    ].join('\n');
    const error = errorOf(() => parsePriceCsv(text, 'p.csv'));
    expect(error.message).toContain('p.csv:3: field close: must be a price above 0, got "0"');
    expect(error.message).toContain('p.csv:4: field close: must be a price above 0, got "NaN"');
    expect(error.message).toContain('p.csv:5: field date');
    expect(error.message).toContain('p.csv:6: field close');
  });

  it('rejects duplicate days and missing columns', () => {
    expect(
      errorOf(() => parsePriceCsv([HEADER, '2022-01-01,ETH,1,,,', '2022-01-01,ETH,2,,,'].join('\n'), 'd.csv'))
        .message,
    ).toMatch(/d\.csv:3: field date: ETH has two rows for 2022-01-01 \(also line 2\)/);
    expect(errorOf(() => parsePriceCsv('date,asset\n2022-01-01,ETH', 'c.csv')).message).toMatch(
      /c\.csv:1: missing column\(s\) close/,
    );
  });

  it('as-of queries never return a later value, and windows hold only valid prices', () => {
    const h = priceHistoryFromSeries({
      A: { days: [10, 11, 12, 13, 14, 20], closes: [1, 2, Number.NaN, 4, 5, 6] },
    });
    const bad = priceHistoryFromSeries({ A: { days: [10, 11, 12, 13], closes: [1, 2, 0, 4] } });
    expect(priceAsOf(h, 'A', 11)).toBe(2);
    expect(priceAsOf(h, 'A', 9)).toBeUndefined();
    expect(priceAsOf(h, 'A', 16)).toBe(5); // carried 2 days
    expect(priceAsOf(h, 'A', 18)).toBeUndefined(); // more than 3 days stale
    expect(Array.from(closesAsOf(h, 'A', 11, 2)!)).toEqual([1, 2]);
    expect(Array.from(closesAsOf(h, 'A', 13, 4)!)).toEqual([1, 2, 2, 4]); // a missing (NaN) day is carried
    expect(closesAsOf(bad, 'A', 13, 4)).toBeUndefined(); // a zero price never reaches a strategy
    expect(Array.from(closesAsOf(bad, 'A', 11, 2)!)).toEqual([1, 2]);
    expect(closesAsOf(h, 'A', 11, 3)).toBeUndefined(); // not enough history
  });

  it('a snapshot leaves out tokens without a valid price', () => {
    const h = priceHistoryFromSeries({
      A: { days: [1, 2, 3], closes: [1, 0, -1] },
      B: { days: [1, 2, 3], closes: [1, 2, 3] },
    });
    const tokens = [
      { symbol: 'AAA', decimals: 18, role: 'risk' as const, priceAsset: 'A' },
      { symbol: 'BBB', decimals: 18, role: 'risk' as const, priceAsset: 'B' },
    ];
    const snap = buildSnapshot(h, tokens, 3, 2);
    expect(snap.prices).toEqual({ BBB: 3 });
    expect(Object.keys(snap.closes)).toEqual(['BBB']);
  });
});
