import type { Address, Chain, PublicClient, Transport } from 'viem';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import {
  type FeedsReading,
  feedPriceUsd,
  type HoldingsReading,
  type PoolsReading,
  poolSpotPrice,
  readFeeds,
  readHoldings,
  readPools,
  readSafeState,
  type SafeStateReading,
  type TokenRef,
} from '../contracts/treasuryReads.ts';
import { ConfigError, MarketDataError } from '../shared/errors.ts';
import { FEED_DECIMALS } from '../strategies/pricePolicy.ts';

/** A price the cycle may use, with where it came from and how it was checked. */
export type CheckedPrice = {
  symbol: string;
  usd: number;
  source: string;
  /** Unix seconds of the feed's answer. */
  updatedAt: number;
  ageSeconds: number;
  /** The DEX pool's price in USD (pool price in USDC × the USDC feed), when the token has a pool. */
  poolUsd?: number;
  deviationBps?: number;
};

/** Everything the cycle observed, read at one block: each input keeps its source and time. */
export type Observation = {
  at: number;
  blockNumber: bigint;
  holdings: HoldingsReading;
  feeds: FeedsReading;
  pools: PoolsReading;
  safe: SafeStateReading;
  prices: Record<string, CheckedPrice>;
};

export type ObserveContext = {
  client: PublicClient<Transport, Chain>;
  config: TreasuryAgentConfig;
  factory: Address;
};

export function tokenRefs(config: TreasuryAgentConfig): (TokenRef & { feed: Address })[] {
  return config.tokens.map((t) => {
    if (!t.address || !t.feed) {
      throw new ConfigError(`token ${t.symbol} has no address or feed`, {
        hint: 'deploy the devnet or fill in tokens[]',
      });
    }
    return { symbol: t.symbol, address: t.address, decimals: t.decimals, feed: t.feed };
  });
}

/**
 * Reads feeds, pools, holdings and the Safe at the latest block and checks every price: a feed answer that is
 * zero or negative, of unexpected decimals, dated after the block, older than observe.maxFeedAgeSeconds (by the
 * chain's clock), or further than observe.maxPoolDeviationBps from the pool's price stops the cycle with every
 * problem named.
 */
export async function observe(ctx: ObserveContext): Promise<Observation> {
  const { client, config } = ctx;
  const safe = config.safe.address;
  if (!safe)
    throw new ConfigError('safe.address is not set', { hint: 'deploy the devnet or set safe.address' });
  const tokens = tokenRefs(config);
  const latest = await client.getBlock({ blockTag: 'latest' });
  const blockNumber = latest.number;
  const at = Number(latest.timestamp);
  const quote = tokens.find((t) => t.symbol === 'USDC')!;
  const [holdings, feeds, pools, safeState] = await Promise.all([
    readHoldings(client, { safe, tokens, blockNumber }),
    readFeeds(client, { feeds: tokens.map((t) => ({ symbol: t.symbol, feed: t.feed })), blockNumber }),
    readPools(client, { factory: ctx.factory, quote, tokens, blockNumber }),
    readSafeState(client, { safe, blockNumber }),
  ]);

  const problems: string[] = [];
  const prices: Record<string, CheckedPrice> = {};
  const usdcFeed = feeds.feeds.USDC!;
  for (const token of tokens) {
    const feed = feeds.feeds[token.symbol]!;
    const ageSeconds = at - feed.updatedAt;
    const source = `feed ${token.feed} round ${feed.roundId}`;
    if (feed.answer <= 0n) {
      problems.push(`${token.symbol}: the feed answered ${feed.answer} (zero or negative) — ${source}`);
      continue;
    }
    if (feed.decimals !== FEED_DECIMALS) {
      problems.push(
        `${token.symbol}: the feed reports ${feed.decimals} decimals; USD feeds have ${FEED_DECIMALS} — ${source}`,
      );
      continue;
    }
    if (feed.updatedAt > at) {
      problems.push(
        `${token.symbol}: the feed's answer is dated ${feed.updatedAt - at} s after the block (${at}): a timestamp in the future — ${source}`,
      );
      continue;
    }
    if (ageSeconds > config.observe.maxFeedAgeSeconds) {
      problems.push(
        `${token.symbol}: the feed's answer is ${Math.round(ageSeconds / 3600)} h old (limit ${Math.round(config.observe.maxFeedAgeSeconds / 3600)} h) — ${source}`,
      );
      continue;
    }
    const usd = feedPriceUsd(feed);
    const price: CheckedPrice = { symbol: token.symbol, usd, source, updatedAt: feed.updatedAt, ageSeconds };
    const pool = pools.pools[token.symbol];
    if (pool && usdcFeed.answer > 0n) {
      const poolUsd = poolSpotPrice(pool) * feedPriceUsd(usdcFeed);
      const deviationBps = Math.round((Math.abs(poolUsd - usd) / usd) * 10_000);
      price.poolUsd = poolUsd;
      price.deviationBps = deviationBps;
      if (deviationBps > config.observe.maxPoolDeviationBps) {
        problems.push(
          `${token.symbol}: the feed says $${usd.toPrecision(6)} but the pool ${pool.pair} says $${poolUsd.toPrecision(6)} (${deviationBps} bps apart, limit ${config.observe.maxPoolDeviationBps})`,
        );
        continue;
      }
    }
    prices[token.symbol] = price;
  }
  if (problems.length) {
    throw new MarketDataError(`market data refused at block ${blockNumber}: ${problems.length} problem(s)`, {
      hint: 'the cycle stops: nothing is planned, posted or executed until the data is sound',
      details: problems,
    });
  }
  return { at, blockNumber, holdings, feeds, pools, safe: safeState, prices };
}

/** A price the observation is compared with: the previous observation, or the history's last close. */
export type PriceReference = { what: string; at: number; prices: Readonly<Record<string, number>> };

/** Stored after each sound observation: the next one is compared with it. */
export const LAST_OBSERVATION_KEY = 'lastObservation';
/** A previous observation older than this is not a reference (the history's close is). */
export const REFERENCE_MAX_AGE_SECONDS = 36 * 3600;

/**
 * The circuit breaker: every move from a recent reference (the previous observation within 36 h, and the price
 * history's close of the day before) beyond observe.circuitBreaker's bounds, for tokens of role risk/governance
 * and for stablecoins separately. Feeds and pools can agree on a price that is still wrong (a compromised feed
 * arbitraged into the pool, a one-day crash): such a move pauses the agent until a steward clears it.
 */
export function circuitBreakerProblems(
  config: TreasuryAgentConfig,
  observation: Pick<Observation, 'prices'>,
  references: readonly PriceReference[],
): string[] {
  const bounds = config.observe.circuitBreaker;
  const problems: string[] = [];
  for (const token of config.tokens) {
    const now = observation.prices[token.symbol]?.usd;
    if (now === undefined) continue;
    const limit = token.role === 'stable' ? bounds.maxStableMoveBps : bounds.maxMoveBps;
    for (const ref of references) {
      const before = ref.prices[token.symbol];
      if (before === undefined || !(before > 0)) continue;
      const moveBps = Math.round((now / before - 1) * 10_000);
      if (Math.abs(moveBps) > limit) {
        problems.push(
          `${token.symbol}: $${now.toPrecision(6)} is ${moveBps > 0 ? '+' : ''}${(moveBps / 100).toFixed(1)}% from ${ref.what} ($${before.toPrecision(6)}), beyond the ${(limit / 100).toFixed(1)}% the circuit breaker allows`,
        );
      }
    }
  }
  return problems;
}
