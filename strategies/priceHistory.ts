import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { MarketDataError } from '../shared/errors.ts';

/**
 * Daily close prices per asset (data/prices_daily.csv or any file with the same columns), on a calendar of
 * UTC days. Every query is "as of" a day and never returns a value dated after it.
 *
 * Days are whole days since 1970-01-01 UTC (`dayOf('2022-01-03')`). Missing days stay missing (NaN) in
 * `closes`; `filled` carries the last observed close forward for at most `maxStaleDays` days, so short gaps
 * do not stop a backtest while an asset that stopped trading becomes unpriced.
 */
export type AssetSeries = {
  asset: string;
  /** Day of the first and last observation. */
  firstDay: number;
  lastDay: number;
  /** Observed closes from firstDay to lastDay (index = day − firstDay); NaN where a day is missing. */
  closes: Float64Array;
  /** Closes carried forward over gaps of at most maxStaleDays days; NaN beyond. Same indexing as closes. */
  filled: Float64Array;
  /** For each index, where the run of valid (finite, > 0) filled values ending there starts (−1: invalid). */
  validFrom: Int32Array;
};

export type PriceHistory = {
  /** File name or description, for error messages. */
  source: string;
  maxStaleDays: number;
  assets: Readonly<Record<string, AssetSeries>>;
  firstDay: number;
  lastDay: number;
};

const DAY_MS = 86_400_000;

/** Day index of an ISO date (YYYY-MM-DD, UTC). Throws on anything else. */
export function dayOf(isoDate: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate);
  if (!match) throw new MarketDataError(`"${isoDate}" is not a date (expected YYYY-MM-DD)`);
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  const day = ms / DAY_MS;
  if (isoDateOf(day) !== isoDate) throw new MarketDataError(`"${isoDate}" is not a valid calendar date`);
  return day;
}

/** Day of the month (1–31) of a day index, by integer arithmetic (civil-from-days). */
export function dayOfMonth(day: number): number {
  const z = day + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  return doy - Math.floor((153 * mp + 2) / 5) + 1;
}

/** ISO date (YYYY-MM-DD) of a day index (integer arithmetic, civil-from-days). */
export function isoDateOf(day: number): string {
  const z = day + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
}

const HEADER = ['date', 'asset', 'close', 'volume_usd', 'market_cap_usd', 'source'] as const;

const optionalNumber = z
  .string()
  .transform((value, ctx) => {
    if (value === '') return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) {
      ctx.addIssue({ code: 'custom', message: `must be a non-negative number, got "${value}"` });
      return z.NEVER;
    }
    return n;
  })
  .optional();

/** One CSV row. `close` must be a finite number above zero: zero or missing prices never get in. */
export const PriceRowSchema = z.strictObject({
  date: z.iso.date({ message: 'must be a date YYYY-MM-DD' }),
  asset: z.string().regex(/^[A-Z0-9]{2,10}$/, { message: 'must be 2–10 capital letters or digits' }),
  close: z.string().transform((value, ctx) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
      ctx.addIssue({ code: 'custom', message: `must be a price above 0, got "${value}"` });
      return z.NEVER;
    }
    return n;
  }),
  volume_usd: optionalNumber,
  market_cap_usd: optionalNumber,
  source: z.string().optional(),
});

export type PriceRow = z.infer<typeof PriceRowSchema>;

export type PriceHistoryOptions = {
  /** Days a close is carried forward over a gap (default 3). */
  maxStaleDays?: number;
};

/** Parses the CSV text; every bad row is reported with file, line and field. */
export function parsePriceCsv(
  text: string,
  source = 'prices',
  options: PriceHistoryOptions = {},
): PriceHistory {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').trim().split(',');
  const missing = HEADER.filter((column) => column !== 'source' && !header.includes(column));
  if (missing.length > 0) {
    throw new MarketDataError(`${source}:1: missing column(s) ${missing.join(', ')}`, {
      hint: `the header must be ${HEADER.join(',')}`,
    });
  }
  const index = HEADER.map((column) => header.indexOf(column));
  const byAsset = new Map<string, Array<{ day: number; close: number; line: number }>>();
  const problems: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const cells = line.split(',');
    const raw: Record<string, string | undefined> = {};
    HEADER.forEach((column, k) => {
      const at = index[k] ?? -1;
      if (at >= 0) raw[column] = (cells[at] ?? '').trim();
    });
    if (raw.close === undefined || cells.length < header.length) raw.close ??= '';
    const parsed = PriceRowSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(`${source}:${i + 1}: field ${issue.path.join('.') || 'row'}: ${issue.message}`);
      }
      if (problems.length >= 20) break;
      continue;
    }
    const row = parsed.data;
    let list = byAsset.get(row.asset);
    if (!list) {
      list = [];
      byAsset.set(row.asset, list);
    }
    list.push({ day: dayOf(row.date), close: row.close, line: i + 1 });
  }
  if (problems.length > 0) {
    throw new MarketDataError(`${source} has invalid rows`, {
      details: problems,
      hint: 'fix or remove these rows; prices must be numbers above 0',
    });
  }
  const series: Record<string, { days: number[]; closes: number[] }> = {};
  for (const [asset, rows] of byAsset) {
    rows.sort((a, b) => a.day - b.day);
    for (let k = 1; k < rows.length; k++) {
      const a = rows[k - 1]!;
      const b = rows[k]!;
      if (a.day === b.day) {
        throw new MarketDataError(
          `${source}:${b.line}: field date: ${asset} has two rows for ${isoDateOf(b.day)} (also line ${a.line})`,
        );
      }
    }
    series[asset] = { days: rows.map((r) => r.day), closes: rows.map((r) => r.close) };
  }
  return priceHistoryFromSeries(series, source, options);
}

/**
 * Builds a history from raw observations (days ascending, one per day). No validation of the values: the
 * loader validates rows, and snapshots validate every value they hand out. Tests use this to poison data.
 */
export function priceHistoryFromSeries(
  series: Record<string, { days: ArrayLike<number>; closes: ArrayLike<number> }>,
  source = 'prices',
  options: PriceHistoryOptions = {},
): PriceHistory {
  const maxStaleDays = options.maxStaleDays ?? 3;
  const assets: Record<string, AssetSeries> = {};
  let firstDay = Number.POSITIVE_INFINITY;
  let lastDay = Number.NEGATIVE_INFINITY;
  for (const [asset, { days, closes }] of Object.entries(series)) {
    if (days.length === 0) continue;
    const first = days[0]!;
    const last = days[days.length - 1]!;
    const dense = new Float64Array(last - first + 1).fill(Number.NaN);
    for (let k = 0; k < days.length; k++) dense[days[k]! - first] = closes[k]!;
    const filled = new Float64Array(dense.length);
    let lastSeen = -1;
    for (let k = 0; k < dense.length; k++) {
      if (!Number.isNaN(dense[k]!)) lastSeen = k;
      filled[k] = lastSeen >= 0 && k - lastSeen <= maxStaleDays ? dense[lastSeen]! : Number.NaN;
    }
    const validFrom = new Int32Array(dense.length);
    for (let k = 0; k < dense.length; k++) {
      const v = filled[k]!;
      const ok = v > 0 && v !== Number.POSITIVE_INFINITY;
      validFrom[k] = !ok ? -1 : k > 0 && validFrom[k - 1]! >= 0 ? validFrom[k - 1]! : k;
    }
    assets[asset] = { asset, firstDay: first, lastDay: last, closes: dense, filled, validFrom };
    firstDay = Math.min(firstDay, first);
    lastDay = Math.max(lastDay, last);
  }
  return { source, maxStaleDays, assets, firstDay, lastDay };
}

/** Reads and parses a price file. */
export async function loadPriceHistory(
  path: string,
  options: PriceHistoryOptions = {},
): Promise<PriceHistory> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MarketDataError(
      `cannot read price file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      {
        cause: error,
        hint: 'pass an existing CSV, e.g. --prices data/prices_daily.csv',
      },
    );
  }
  return parsePriceCsv(text, path, options);
}

/** The close of `asset` on `asOfDay` (or carried from at most maxStaleDays before), never a later one. */
export function priceAsOf(history: PriceHistory, asset: string, asOfDay: number): number | undefined {
  const series = history.assets[asset];
  if (!series || asOfDay < series.firstDay) return undefined;
  const at = Math.min(asOfDay, series.lastDay + history.maxStaleDays) - series.firstDay;
  if (asOfDay > series.lastDay + history.maxStaleDays) return undefined;
  const value = at < series.filled.length ? series.filled[at]! : series.filled[series.filled.length - 1]!;
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/**
 * The last `length` daily closes of `asset` ending on `asOfDay` (gaps carried forward), oldest first; undefined
 * unless every one of them is a finite price above zero. The result is a view: do not write to it.
 */
export function closesAsOf(
  history: PriceHistory,
  asset: string,
  asOfDay: number,
  length: number,
): Float64Array | undefined {
  const series = history.assets[asset];
  if (!series) return undefined;
  const end = asOfDay - series.firstDay; // inclusive index
  const start = end - length + 1;
  if (start < 0) return undefined;
  if (end < series.filled.length) {
    // valid iff the run of valid values ending at `end` started at or before `start`
    const from = series.validFrom[end]!;
    return from >= 0 && from <= start ? series.filled.subarray(start, end + 1) : undefined;
  }
  // past the last observation: carry the last close while it is fresh
  if (asOfDay > series.lastDay + history.maxStaleDays) return undefined;
  const last = series.filled.length - 1;
  const from = series.validFrom[last]!;
  if (from < 0 || from > start) return undefined;
  const window = new Float64Array(length);
  for (let k = 0; k < length; k++) {
    const idx = start + k;
    window[k] = idx <= last ? series.filled[idx]! : series.filled[last]!;
  }
  return window;
}

/** First and last day an asset has a price, as ISO dates, for error messages. */
export function assetRange(history: PriceHistory, asset: string): { from: string; to: string } | undefined {
  const series = history.assets[asset];
  return series ? { from: isoDateOf(series.firstDay), to: isoDateOf(series.lastDay) } : undefined;
}
