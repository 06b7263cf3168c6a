import fc from 'fast-check';
import { type Address, getAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { aggregatorV3Abi } from '../contracts/abis.ts';
import { projectArtifacts } from '../contracts/artifacts.ts';
import { makeWalletClient } from '../contracts/chainClients.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import {
  endOfDay,
  type FeedRound,
  findDailyRounds,
  multicallRoundSource,
  type RoundSource,
} from '../contracts/feedRounds.ts';
import { writeFeedRounds } from '../contracts/feedRoundWriter.ts';
import { useDevnet } from './support/devnet.ts';

const DAY = 86_400;
const FEED_A = '0x00000000000000000000000000000000000000a1' as Address;
const FEED_B = '0x00000000000000000000000000000000000000b2' as Address;

/** An in-memory feed: phases of rounds (updatedAt ascending), some ids reverting; counts what is read. */
function memoryFeeds(feeds: Record<Address, { phases: number[][]; reverting?: bigint[] }>) {
  const rounds = new Map<string, FeedRound>();
  const latest = new Map<Address, FeedRound>();
  for (const [feed, { phases, reverting = [] }] of Object.entries(feeds) as [
    Address,
    { phases: number[][]; reverting?: bigint[] },
  ][]) {
    phases.forEach((times, p) => {
      times.forEach((t, k) => {
        const roundId = (BigInt(p + 1) << 64n) | BigInt(k + 1);
        if (reverting.includes(roundId)) return;
        const round = { roundId, answer: BigInt(t), updatedAt: t };
        rounds.set(`${feed}:${roundId}`, round);
        latest.set(feed, round);
      });
    });
  }
  const reads = { latest: 0, rounds: 0, steps: 0 };
  const source: RoundSource = {
    async latest(list) {
      reads.latest += list.length;
      return list.map((f) => latest.get(f));
    },
    async rounds(requests) {
      reads.rounds += requests.length;
      reads.steps++;
      return requests.map((r) => rounds.get(`${r.feed}:${r.roundId}`));
    },
  };
  return { source, reads, rounds };
}

/** The close by definition: the last round (by id order) with updatedAt ≤ the end of the day. */
function bruteForce(times: number[][], day: number, reverting: bigint[] = []): bigint | undefined {
  let best: bigint | undefined;
  for (const [p, phase] of times.entries()) {
    for (const [k, t] of phase.entries()) {
      const id = (BigInt(p + 1) << 64n) | BigInt(k + 1);
      if (t <= endOfDay(day) && !reverting.includes(id)) best = id;
    }
  }
  return best;
}

describe('findDailyRounds: the last round of each UTC day, by binary search over round ids', () => {
  it('days with several rounds take the last; days with none take the last earlier round; before the first: missing', async () => {
    const d0 = 19_000;
    // day d0: 3 rounds; d0+1: none; d0+2: one; d0+3, d0+4: none; d0+5: two
    const times = [
      [
        d0 * DAY + 100,
        d0 * DAY + 5000,
        d0 * DAY + 86_000,
        (d0 + 2) * DAY + 10,
        (d0 + 5) * DAY,
        (d0 + 5) * DAY + 86_399,
      ],
    ];
    const { source } = memoryFeeds({ [FEED_A]: { phases: times } });
    const [result] = await findDailyRounds(source, [
      { feed: FEED_A, days: [d0 - 1, d0, d0 + 1, d0 + 2, d0 + 3, d0 + 4, d0 + 5] },
    ]);
    const id = (k: number) => (1n << 64n) | BigInt(k);
    expect(result!.closes.get(d0)?.roundId).toBe(id(3));
    expect(result!.closes.get(d0 + 1)?.roundId).toBe(id(3));
    expect(result!.closes.get(d0 + 2)?.roundId).toBe(id(4));
    expect(result!.closes.get(d0 + 4)?.roundId).toBe(id(4));
    expect(result!.closes.get(d0 + 5)?.roundId).toBe(id(6)); // updated at 23:59:59, still that day
    expect(result!.missing).toEqual([{ day: d0 - 1, reason: "before the feed's first round" }]);
  });

  it('steps around rounds that revert, and looks into the phase before for days before the current phase', async () => {
    const d0 = 19_100;
    const phase1 = Array.from({ length: 40 }, (_, k) => (d0 + k) * DAY + 3600);
    const phase2 = Array.from({ length: 60 }, (_, k) => (d0 + 40 + k) * DAY + 7200);
    const reverting = [(2n << 64n) | 30n, (2n << 64n) | 31n, (2n << 64n) | 32n, (1n << 64n) | 20n];
    const { source } = memoryFeeds({ [FEED_A]: { phases: [phase1, phase2], reverting } });
    const days = Array.from({ length: 100 }, (_, k) => d0 - 2 + k);
    const [result] = await findDailyRounds(source, [{ feed: FEED_A, days }]);
    for (const day of days) {
      expect(result!.closes.get(day)?.roundId, `day ${day}`).toBe(
        bruteForce([phase1, phase2], day, reverting),
      );
    }
    expect(result!.missing.map((m) => m.day)).toEqual([d0 - 2, d0 - 1]);
  });

  it('agrees with the definition on random feeds, and all days of all feeds take about log2(rounds) steps', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3 * DAY }), { minLength: 1, maxLength: 300 }),
        fc.array(fc.integer({ min: 0, max: 2 * DAY }), { minLength: 1, maxLength: 50 }),
        async (gapsA, gapsB) => {
          const start = 19_200 * DAY;
          const times = (gaps: number[]) => {
            let t = start;
            return gaps.map((g) => {
              t += g;
              return t;
            });
          };
          const a = times(gapsA);
          const b = times(gapsB);
          const { source, reads } = memoryFeeds({ [FEED_A]: { phases: [a] }, [FEED_B]: { phases: [b] } });
          const days = Array.from({ length: 40 }, (_, k) => 19_199 + k * 3);
          const results = await findDailyRounds(source, [
            { feed: FEED_A, days },
            { feed: FEED_B, days },
          ]);
          for (const day of days) {
            expect(results[0]!.closes.get(day)?.roundId).toBe(bruteForce([a], day));
            expect(results[1]!.closes.get(day)?.roundId).toBe(bruteForce([b], day));
          }
          expect(reads.steps).toBeLessThanOrEqual(Math.ceil(Math.log2(301)) + 1);
        },
      ),
      { numRuns: 60, seed: 12 },
    );
  });

  it('rounds already known (the cache) leave little to search', async () => {
    const d0 = 19_300;
    // 8 rounds a day for 91 days; the latest is on the last day, the day being searched is the one before.
    const times = [Array.from({ length: 91 * 8 }, (_, k) => d0 * DAY + k * 3 * 3600 + 60)];
    const days = Array.from({ length: 90 }, (_, k) => d0 + k);
    const cold = memoryFeeds({ [FEED_A]: { phases: times } });
    const [first] = await findDailyRounds(cold.source, [{ feed: FEED_A, days }]);
    expect(cold.reads.steps).toBeLessThanOrEqual(Math.ceil(Math.log2(91 * 8)));
    const warm = memoryFeeds({ [FEED_A]: { phases: times } });
    const known = days.slice(0, 89).map((d) => first!.closes.get(d)!);
    const [second] = await findDailyRounds(warm.source, [{ feed: FEED_A, days: [d0 + 89], known }]);
    expect(second!.closes.get(d0 + 89)).toEqual(first!.closes.get(d0 + 89));
    expect(second!.closes.get(d0 + 89)!.roundId).toBe((1n << 64n) | BigInt(90 * 8));
    // between day 88's last round and the latest: 16 rounds, so 4 reads
    expect(warm.reads.rounds).toBeLessThanOrEqual(4);
  });
});

const fixture = useDevnet();

describe('findDailyRounds on a real feed (anvil, Multicall3)', () => {
  it("finds each day's last round on the devnet's PriceFeed, with days of several rounds and days of none", async () => {
    const { deployment } = fixture.devnet;
    const wallet = makeWalletClient(deployment.chainId, deployment.rpcUrl, devAccount(0));
    const now = Number((await fixture.client.getBlock()).timestamp);
    const d0 = Math.floor(now / DAY) - 30;
    const hash = await wallet.deployContract({
      abi: projectArtifacts.priceFeed.abi,
      bytecode: projectArtifacts.priceFeed.bytecode,
      args: [8, 'TEST / USD', 100n, BigInt(d0 * DAY + 60)],
    });
    const feed = getAddress((await fixture.client.waitForTransactionReceipt({ hash })).contractAddress!);
    // Rounds: 3 on day 0 (after the first), none on days 1–4, one each on 5…9, 4 on day 10, then one on day 20.
    const times = [
      d0 * DAY + 3600,
      d0 * DAY + 7200,
      d0 * DAY + 86_399,
      ...Array.from({ length: 5 }, (_, k) => (d0 + 5 + k) * DAY + 43_200),
      ...Array.from({ length: 4 }, (_, k) => (d0 + 10) * DAY + k * 600),
      (d0 + 20) * DAY,
    ];
    await writeFeedRounds({
      rpcUrl: deployment.rpcUrl,
      chainId: deployment.chainId,
      from: devAccount(0).address,
      rounds: times.map((t, k) => ({ feed, answer: BigInt(101 + k), updatedAt: t })),
    });
    const all = [d0 * DAY + 60, ...times];
    const block = await fixture.client.getBlock();
    const days = Array.from({ length: 25 }, (_, k) => d0 - 1 + k);
    const [result] = await findDailyRounds(
      multicallRoundSource(fixture.client, { blockNumber: block.number }),
      [{ feed, days }],
    );
    for (const day of days.slice(1)) {
      const k = all.findLastIndex((t) => t <= endOfDay(day));
      expect(result!.closes.get(day), `day ${day - d0}`).toEqual({
        roundId: BigInt(k + 1),
        answer: BigInt(100 + k),
        updatedAt: all[k],
      });
    }
    expect(result!.missing).toEqual([{ day: d0 - 1, reason: "before the feed's first round" }]);
  });

  it('a feed whose latestRoundData reverts (no code there) reports every day missing', async () => {
    const block = await fixture.client.getBlock();
    const nobody = '0x000000000000000000000000000000000000dEaD' as Address;
    const [result] = await findDailyRounds(
      multicallRoundSource(fixture.client, { blockNumber: block.number }),
      [{ feed: nobody, days: [19_000, 19_001] }],
    );
    expect(result!.closes.size).toBe(0);
    expect(result!.missing).toEqual([
      { day: 19_000, reason: 'latestRoundData reverted' },
      { day: 19_001, reason: 'latestRoundData reverted' },
    ]);
  });

  it('writeFeedRounds refuses rounds it could not post (a feed the sender does not own)', async () => {
    const { deployment } = fixture.devnet;
    const feed = deployment.tokens.WETH!.feed;
    const error = await writeFeedRounds({
      rpcUrl: deployment.rpcUrl,
      chainId: deployment.chainId,
      from: devAccount(5).address,
      rounds: [{ feed, answer: 1n, updatedAt: 1 }],
    }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/posting rounds to feed .*is `from` the feed owner/s);
    // the feed is unchanged
    const [, answer] = await fixture.client.readContract({
      address: feed,
      abi: aggregatorV3Abi,
      functionName: 'latestRoundData',
    });
    expect(answer).toBeGreaterThan(1n);
  });
});
