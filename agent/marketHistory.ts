import type { Address, Chain, PublicClient, Transport } from 'viem';
import { endOfDay, type FeedRound, findDailyRounds, multicallRoundSource } from '../contracts/feedRounds.ts';
import { MarketDataError } from '../shared/errors.ts';
import {
  isoDateOf,
  type PriceHistory,
  priceAsOf,
  priceHistoryFromSeries,
} from '../strategies/priceHistory.ts';
import type { FeedClose, Ledger } from './ledger.ts';

/**
 * Where the strategy's lookback comes from: daily closes of every token for a range of finished UTC days.
 * The chain adapter reads each feed's past rounds (contracts/feedRounds.ts) and keeps them in the ledger, so a
 * day is read from the chain once; the file adapter serves a price file (backtests, tests). Both fail closed:
 * a token without a close on every day of the range (gaps of up to 3 days bridged, as in backtests) is a
 * MarketDataError naming its feed and the days, and nothing is decided on partial history.
 */
export type HistoryToken = { symbol: string; priceAsset: string; feed: Address };

export type HistoryRequest = {
  tokens: readonly HistoryToken[];
  /** First and last day (days since 1970-01-01, UTC) whose close is needed; toDay must be over at the block. */
  fromDay: number;
  toDay: number;
  /** The block the rounds are read at (the observation's), and its time. */
  blockNumber: bigint;
  blockTimestamp: number;
};

/** Where a decision's closes came from, as logged in its inputs. */
export type HistoryProvenance = {
  source: string;
  /** Chain history: per symbol, the round id whose answer is the close of each day fromDay…toDay. */
  rounds?: Record<string, string[]>;
};

export type DailyCloses = { history: PriceHistory; provenance: HistoryProvenance };

export type MarketHistory = {
  /** One line for people: where the closes come from. */
  source: string;
  dailyCloses(request: HistoryRequest): Promise<DailyCloses>;
};

/** Days a close is carried over a gap (the feed did not update), as PriceHistory does for files. */
export const MAX_STALE_DAYS = 3;

/** Feed answers are USD with this many decimals (observe refuses others). */
const FEED_DECIMALS = 8;

/** "2021-10-01…2021-10-05, 2021-11-02": consecutive days joined. */
export function dayRanges(days: readonly number[]): string {
  const sorted = [...days].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? isoDateOf(sorted[i]!) : `${isoDateOf(sorted[i]!)}…${isoDateOf(sorted[j]!)}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** Throws a MarketDataError unless every token has a valid close on every day of the range. */
export function requireFullHistory(
  history: PriceHistory,
  request: Pick<HistoryRequest, 'tokens' | 'fromDay' | 'toDay'>,
  reasons: Record<string, Map<number, string>> = {},
): void {
  const problems: string[] = [];
  const lacking: string[] = [];
  const total = request.toDay - request.fromDay + 1;
  for (const token of request.tokens) {
    const missing: number[] = [];
    for (let day = request.fromDay; day <= request.toDay; day++) {
      if (priceAsOf(history, token.priceAsset, day) === undefined) missing.push(day);
    }
    if (missing.length === 0) continue;
    lacking.push(`${token.symbol} (feed ${token.feed})`);
    const why = [...new Set(missing.map((d) => reasons[token.symbol]?.get(d)).filter(Boolean))];
    problems.push(
      `${token.symbol} (feed ${token.feed}): no daily close on ${missing.length} of ${total} days: ${dayRanges(missing)}${why.length ? ` (${why.join('; ')})` : ''}`,
    );
  }
  if (problems.length > 0) {
    throw new MarketDataError(
      `the price history for ${isoDateOf(request.fromDay)}…${isoDateOf(request.toDay)} is incomplete: ${lacking.join(', ')} ${lacking.length === 1 ? 'lacks' : 'lack'} days (${history.source})`,
      {
        details: problems,
        hint: `every feed needs a round at least every ${MAX_STALE_DAYS + 1} days over the strategy's lookback: wait until the feed has that history, fix the feed address, or shorten the lookback`,
      },
    );
  }
}

/** The file adapter: a loaded price file (data/prices_daily.csv or any with its columns). */
export function fileMarketHistory(history: PriceHistory): MarketHistory {
  const source = `price file ${history.source}`;
  return {
    source,
    async dailyCloses(request) {
      requireFullHistory(history, request);
      return { history, provenance: { source } };
    },
  };
}

type Client = PublicClient<Transport, Chain>;

/**
 * The chain adapter: each feed's daily closes from its rounds, read at the request's block and kept in the
 * ledger (table feed_daily_closes); only days not stored yet are read.
 */
export function chainMarketHistory(options: {
  client: Client;
  ledger: Ledger;
  /** Calls per eth_call (default 500). */
  batchSize?: number;
  /**
   * Shares reads between the DAOs of one process on the same chain (SharedClients.once): DAOs asking for the
   * same feeds' same days, from the same stored rounds, read the chain once. Closes of days that are over never
   * change, so the answer holds at any later block.
   */
  readOnce?: <T>(key: string, read: () => Promise<T>) => Promise<T>;
}): MarketHistory {
  const source = 'AggregatorV3 rounds (the last round of each UTC day)';
  return {
    source,
    async dailyCloses(request) {
      const { fromDay, toDay } = request;
      if (endOfDay(toDay) >= request.blockTimestamp) {
        throw new MarketDataError(
          `the close of ${isoDateOf(toDay)} is not final at block ${request.blockNumber} (time ${request.blockTimestamp})`,
        );
      }
      const feeds = [...new Set(request.tokens.map((t) => t.feed.toLowerCase() as Address))];
      const stored = new Map<string, Map<number, FeedClose>>();
      const queries: { feed: Address; days: number[]; known: FeedRound[] }[] = [];
      for (const feed of feeds) {
        const rows = await options.ledger.feedCloses(feed, fromDay, toDay);
        stored.set(feed, new Map(rows.map((r) => [r.day, r])));
        const days: number[] = [];
        for (let day = fromDay; day <= toDay; day++) if (!stored.get(feed)!.has(day)) days.push(day);
        const known: FeedRound[] = rows.map((r) => ({
          roundId: r.roundId,
          answer: r.answer,
          updatedAt: r.updatedAt,
        }));
        queries.push({ feed, days, known });
      }
      const reasons = new Map<string, Map<number, string>>();
      const todo = queries.filter((q) => q.days.length > 0);
      if (todo.length > 0) {
        const read = () =>
          findDailyRounds(
            multicallRoundSource(options.client, {
              blockNumber: request.blockNumber,
              batchSize: options.batchSize,
            }),
            todo,
          );
        const key = JSON.stringify(
          todo.map((q) => [q.feed, q.days, q.known.map((r) => r.roundId.toString())]),
        );
        const found = options.readOnce ? await options.readOnce(`daily closes ${key}`, read) : await read();
        const rows: FeedClose[] = [];
        for (const result of found) {
          const byDay = stored.get(result.feed)!;
          for (const [day, round] of result.closes) {
            const row = { feed: result.feed, day, ...round };
            byDay.set(day, row);
            rows.push(row);
          }
          reasons.set(result.feed, new Map(result.missing.map((m) => [m.day, m.reason])));
        }
        await options.ledger.storeFeedCloses(rows);
      }
      // Each day's round is an observation of the day it was posted on; gaps are bridged ≤ MAX_STALE_DAYS.
      const series: Record<string, { days: number[]; closes: number[] }> = {};
      const rounds: Record<string, string[]> = {};
      const tokenReasons: Record<string, Map<number, string>> = {};
      for (const token of request.tokens) {
        const feed = token.feed.toLowerCase();
        const byDay = stored.get(feed)!;
        const observed = new Map<number, FeedClose>();
        for (const row of byDay.values()) {
          const day = Math.floor(row.updatedAt / 86_400);
          const seen = observed.get(day);
          if (!seen || row.roundId > seen.roundId) observed.set(day, row);
        }
        const days = [...observed.keys()].sort((a, b) => a - b);
        series[token.priceAsset] = {
          days,
          // A non-positive answer stays one (never bridged): that day, and the lookback over it, has no price.
          closes: days.map((d) => Number(observed.get(d)!.answer) / 10 ** FEED_DECIMALS),
        };
        rounds[token.symbol] = [];
        for (let day = fromDay; day <= toDay; day++)
          rounds[token.symbol]!.push(byDay.get(day)?.roundId.toString() ?? '');
        const why = new Map(reasons.get(feed) ?? []);
        for (const row of byDay.values()) {
          if (row.answer <= 0n) why.set(row.day, `round ${row.roundId} answered ${row.answer}`);
          else if (row.day - Math.floor(row.updatedAt / 86_400) > MAX_STALE_DAYS)
            why.set(
              row.day,
              `the feed's last round then was ${isoDateOf(Math.floor(row.updatedAt / 86_400))}'s`,
            );
        }
        tokenReasons[token.symbol] = why;
      }
      const history = priceHistoryFromSeries(series, `chain: ${source}`, { maxStaleDays: MAX_STALE_DAYS });
      requireFullHistory(history, request, tokenReasons);
      return { history, provenance: { source: `chain: ${source}`, rounds } };
    },
  };
}
