import {
  type Address,
  type Chain,
  ContractFunctionExecutionError,
  type PublicClient,
  type Transport,
} from 'viem';
import { ChainError } from '../shared/errors.ts';

/**
 * Past rounds of AggregatorV3 feeds, found by time. The close of a UTC day is the feed's last round with
 * updatedAt ≤ the end of that day (23:59:59): on a day without a round that is an earlier day's round, and on a
 * day with several rounds the last of them.
 *
 * Chainlink round ids are `phase << 64 | aggregatorRound`; within a phase, aggregator rounds count up from 1
 * and their updatedAt never decreases. So each day's round is a binary search over the current phase's round
 * ids by updatedAt. All searches (every feed, every day) advance in lockstep: each step reads one probe per
 * unresolved day, deduplicated and multicalled in batches, so a cold year of history costs about log2(rounds)
 * calls, and rounds already known (the ledger's cache, the latest round) narrow every search before it starts.
 * A probed round that reverts or answers updatedAt 0 is missing: the search steps around it. A day before the
 * current phase's first round is looked for in the phase before (its last round found by probing powers of two).
 */

/** One round of a feed, as getRoundData returns it. */
export type FeedRound = { roundId: bigint; answer: bigint; updatedAt: number };

/** What the search reads: the latest round of each feed and rounds by id (undefined: reverted or empty). */
export type RoundSource = {
  latest(feeds: readonly Address[]): Promise<(FeedRound | undefined)[]>;
  rounds(requests: readonly { feed: Address; roundId: bigint }[]): Promise<(FeedRound | undefined)[]>;
};

/** The days whose close is wanted from one feed, with rounds already known (narrowing the search). */
export type DailyRoundQuery = { feed: Address; days: readonly number[]; known?: readonly FeedRound[] };

export type DailyRounds = {
  feed: Address;
  /** Day → the last round with updatedAt ≤ the end of that day. */
  closes: Map<number, FeedRound>;
  /** Days without such a round, each with the reason. */
  missing: { day: number; reason: string }[];
};

const DAY_SECONDS = 86_400;
const PHASE_SHIFT = 64n;
/** Earlier phases looked into for days before the current phase began. */
const MAX_PHASES_BACK = 4;
/** A search that has not settled after this many steps is given up (reported missing). */
const MAX_STEPS = 200;

/** Last second of a UTC day (days since 1970-01-01). */
export const endOfDay = (day: number) => (day + 1) * DAY_SECONDS - 1;

const phaseOf = (roundId: bigint) => roundId >> PHASE_SHIFT;
const idIn = (phase: bigint, aggregatorRound: bigint) => (phase << PHASE_SHIFT) | aggregatorRound;

/** The rounds of one feed seen so far: id → round, or null when the id reverted or was empty. */
type Known = Map<bigint, FeedRound | null>;

/** A day being searched in one phase, between aggregator rounds `floor` and `ceiling` (exclusive, virtual). */
type Target = {
  feed: number;
  day: number;
  phase: bigint;
  floor: bigint;
  ceiling: bigint;
  phasesBack: number;
};

/**
 * For each query, every day's close: the last round with updatedAt ≤ endOfDay(day). Days must be complete
 * (their end before the time the source reads at) for the answer to be final.
 */
export async function findDailyRounds(
  source: RoundSource,
  queries: readonly DailyRoundQuery[],
): Promise<DailyRounds[]> {
  const results: DailyRounds[] = queries.map((q) => ({ feed: q.feed, closes: new Map(), missing: [] }));
  const known: Known[] = queries.map((q) => new Map((q.known ?? []).map((r) => [r.roundId, r])));
  const latest = await source.latest(queries.map((q) => q.feed));
  let targets: Target[] = [];
  queries.forEach((query, i) => {
    const top = latest[i];
    const days = [...new Set(query.days)].sort((a, b) => a - b);
    if (!top) {
      for (const day of days) results[i]!.missing.push({ day, reason: 'latestRoundData reverted' });
      return;
    }
    known[i]!.set(top.roundId, top);
    const phase = phaseOf(top.roundId);
    for (const day of days) {
      if (top.updatedAt <= endOfDay(day)) results[i]!.closes.set(day, top);
      else {
        targets.push({
          feed: i,
          day,
          phase,
          floor: 0n,
          ceiling: top.roundId - idIn(phase, 0n),
          phasesBack: 0,
        });
      }
    }
  });

  while (targets.length > 0) {
    const before = await searchInPhases(source, queries, known, targets, results);
    if (before.length === 0) break;
    // Days before their phase's first round: look in the phase before, once its last round is known.
    const next: Target[] = [];
    const earlier = before.filter((t) => {
      const ok = t.phase > 1n && t.phasesBack < MAX_PHASES_BACK;
      if (!ok) {
        results[t.feed]!.missing.push({
          day: t.day,
          reason:
            t.phase > 1n
              ? `before the first round of phase ${t.phase} (earlier phases are not searched)`
              : "before the feed's first round",
        });
      }
      return ok;
    });
    const phases = new Map<string, { feed: number; phase: bigint }>();
    for (const t of earlier) phases.set(`${t.feed}:${t.phase - 1n}`, { feed: t.feed, phase: t.phase - 1n });
    const tops = await lastRoundsOfPhases(source, queries, known, [...phases.values()]);
    for (const t of earlier) {
      const phase = t.phase - 1n;
      const top = tops.get(`${t.feed}:${phase}`) ?? 0n;
      if (top === 0n) {
        results[t.feed]!.missing.push({ day: t.day, reason: `phase ${phase} of the feed has no rounds` });
        continue;
      }
      next.push({ ...t, phase, floor: 0n, ceiling: top + 1n, phasesBack: t.phasesBack + 1 });
    }
    targets = next;
  }
  for (const r of results) r.missing.sort((a, b) => a.day - b.day);
  return results;
}

/**
 * Runs every target's binary search in its phase, in lockstep. Resolved days go into `results`; the targets
 * whose day lies before the first round of their phase are returned.
 */
async function searchInPhases(
  source: RoundSource,
  queries: readonly DailyRoundQuery[],
  known: Known[],
  initial: Target[],
  results: DailyRounds[],
): Promise<Target[]> {
  const before: Target[] = [];
  let open = initial;
  for (let step = 0; open.length > 0; step++) {
    const probes = new Map<string, { feed: number; roundId: bigint }>();
    const still: Target[] = [];
    for (const t of open) {
      const { lower, upper } = bracket(known[t.feed]!, t);
      if (step >= MAX_STEPS) {
        results[t.feed]!.missing.push({ day: t.day, reason: 'the round search did not settle' });
        continue;
      }
      const probe = unknownNear(known[t.feed]!, t.phase, lower, upper);
      if (probe === undefined) {
        if (lower === t.floor) before.push(t);
        else results[t.feed]!.closes.set(t.day, known[t.feed]!.get(idIn(t.phase, lower))!);
        continue;
      }
      probes.set(`${t.feed}:${probe}`, { feed: t.feed, roundId: idIn(t.phase, probe) });
      still.push(t);
    }
    if (probes.size > 0) {
      const list = [...probes.values()];
      const read = await source.rounds(
        list.map((p) => ({ feed: queries[p.feed]!.feed, roundId: p.roundId })),
      );
      list.forEach((p, k) => {
        const round = read[k];
        known[p.feed]!.set(p.roundId, round && round.updatedAt > 0 ? round : null);
      });
    }
    open = still;
  }
  return before;
}

/**
 * The search interval of a target, in aggregator rounds of its phase: `lower` is the latest known round with
 * updatedAt ≤ the day's end (or the floor), `upper` the first known round after it with updatedAt beyond it (or
 * the ceiling). The answer is `lower` or a round strictly between the two.
 */
function bracket(known: Known, t: Target): { lower: bigint; upper: bigint } {
  const end = endOfDay(t.day);
  let lower = t.floor;
  for (const [id, round] of known) {
    if (!round || phaseOf(id) !== t.phase) continue;
    const a = id - idIn(t.phase, 0n);
    if (a > t.floor && a < t.ceiling && round.updatedAt <= end && a > lower) lower = a;
  }
  let upper = t.ceiling;
  for (const [id, round] of known) {
    if (!round || phaseOf(id) !== t.phase) continue;
    const a = id - idIn(t.phase, 0n);
    if (a > lower && a < upper && round.updatedAt > end) upper = a;
  }
  return { lower, upper };
}

/** The not yet read round nearest the middle of (lower, upper), stepping around missing ones; undefined: none left. */
function unknownNear(known: Known, phase: bigint, lower: bigint, upper: bigint): bigint | undefined {
  const mid = (lower + upper) / 2n;
  for (let d = 0n; mid + d < upper || mid - d > lower; d++) {
    if (mid + d < upper && mid + d > lower && !known.has(idIn(phase, mid + d))) return mid + d;
    if (mid - d > lower && mid - d < upper && !known.has(idIn(phase, mid - d))) return mid - d;
  }
  return undefined;
}

/**
 * The last aggregator round of each (feed, phase): rounds of a phase are 1…last, so probe 2^0…2^63 in one
 * read, then bisect between the last present power and the first absent one.
 */
async function lastRoundsOfPhases(
  source: RoundSource,
  queries: readonly DailyRoundQuery[],
  known: Known[],
  wanted: { feed: number; phase: bigint }[],
): Promise<Map<string, bigint>> {
  const tops = new Map<string, bigint>();
  if (wanted.length === 0) return tops;
  const present = async (asks: { feed: number; phase: bigint; round: bigint }[]) => {
    const read = await source.rounds(
      asks.map((a) => ({ feed: queries[a.feed]!.feed, roundId: idIn(a.phase, a.round) })),
    );
    return asks.map((a, k) => {
      const round = read[k];
      const ok = !!round && round.updatedAt > 0;
      known[a.feed]!.set(idIn(a.phase, a.round), ok ? round! : null);
      return ok;
    });
  };
  const powers = wanted.flatMap((w) =>
    Array.from({ length: 64 }, (_, k) => ({ ...w, round: 1n << BigInt(k) })),
  );
  const seen = await present(powers);
  const ranges = wanted.map((w, i) => {
    let lo = 0n;
    let hi = 1n << 64n;
    for (let k = 0; k < 64; k++) {
      if (seen[i * 64 + k]) lo = 1n << BigInt(k);
      else {
        hi = 1n << BigInt(k);
        break;
      }
    }
    return { ...w, lo, hi };
  });
  // Invariant: round lo is present (or 0), round hi is absent.
  let open = ranges.filter((r) => r.hi - r.lo > 1n);
  while (open.length > 0) {
    const mids = open.map((r) => ({ feed: r.feed, phase: r.phase, round: (r.lo + r.hi) / 2n }));
    const ok = await present(mids);
    open.forEach((r, k) => {
      if (ok[k]) r.lo = mids[k]!.round;
      else r.hi = mids[k]!.round;
    });
    open = open.filter((r) => r.hi - r.lo > 1n);
  }
  for (const r of ranges) tops.set(`${r.feed}:${r.phase}`, r.lo);
  return tops;
}

type Client = PublicClient<Transport, Chain>;

const roundDataAbi = [
  {
    type: 'function',
    name: 'getRoundData',
    stateMutability: 'view',
    inputs: [{ name: '_roundId', type: 'uint80' }],
    outputs: [
      { name: 'roundId', type: 'uint80' },
      { name: 'answer', type: 'int256' },
      { name: 'startedAt', type: 'uint256' },
      { name: 'updatedAt', type: 'uint256' },
      { name: 'answeredInRound', type: 'uint80' },
    ],
  },
  {
    type: 'function',
    name: 'latestRoundData',
    stateMutability: 'view',
    inputs: [],
    outputs: [
      { name: 'roundId', type: 'uint80' },
      { name: 'answer', type: 'int256' },
      { name: 'startedAt', type: 'uint256' },
      { name: 'updatedAt', type: 'uint256' },
      { name: 'answeredInRound', type: 'uint80' },
    ],
  },
] as const;

type RoundTuple = readonly [bigint, bigint, bigint, bigint, bigint];

/**
 * Calls per eth_call without Multicall3: viem's deployless multicall returns its results as the code of a
 * contract being created, so they must fit the 24,576-byte code size limit (~288 bytes per getRoundData).
 */
const DEPLOYLESS_BATCH = 64;

/**
 * Reads rounds through Multicall3 (deployless where the chain has none), at one block, `batchSize` calls per
 * eth_call (default 500; at most 64 deployless); a call that reverts is a missing round, an eth_call that fails
 * as a whole is a ChainError (never taken for missing rounds).
 */
export function multicallRoundSource(
  client: Client,
  options: { blockNumber: bigint; batchSize?: number },
): RoundSource {
  const deployless = !client.chain.contracts?.multicall3;
  const batchSize = Math.min(
    options.batchSize ?? 500,
    deployless ? DEPLOYLESS_BATCH : Number.POSITIVE_INFINITY,
  );
  const failed = (error: unknown) => {
    const reason =
      (error as { shortMessage?: string }).shortMessage ?? (error as Error).message?.split('\n')[0];
    return new ChainError(`reading feed rounds at block ${options.blockNumber} failed: ${reason}`, {
      cause: error,
      hint: 'is the RPC up, and does it serve eth_call at that block?',
    });
  };
  const call = async (
    contracts: { address: Address; functionName: 'getRoundData' | 'latestRoundData'; args?: [bigint] }[],
  ): Promise<(FeedRound | undefined)[]> => {
    const chunks: (typeof contracts)[] = [];
    for (let i = 0; i < contracts.length; i += batchSize) chunks.push(contracts.slice(i, i + batchSize));
    const read = await Promise.all(
      chunks.map((chunk) =>
        client
          .multicall({
            allowFailure: true,
            deployless,
            batchSize: 0,
            blockNumber: options.blockNumber,
            contracts: chunk.map((c) => ({ ...c, abi: roundDataAbi })),
          })
          .catch((error: unknown) => {
            throw failed(error);
          }),
      ),
    );
    return read.flat().map((r) => {
      if (r.status !== 'success') {
        // One call reverted (a missing round) — or the whole eth_call failed, which viem reports on every call.
        const mine =
          r.error instanceof ContractFunctionExecutionError &&
          (r.error.functionName === 'getRoundData' || r.error.functionName === 'latestRoundData');
        if (!mine) throw failed(r.error);
        return undefined;
      }
      const [roundId, answer, , updatedAt] = r.result as RoundTuple;
      return { roundId, answer, updatedAt: Number(updatedAt) };
    });
  };
  return {
    latest: (feeds) => call(feeds.map((address) => ({ address, functionName: 'latestRoundData' }))),
    rounds: async (requests) => {
      const read = await call(
        requests.map((r) => ({ address: r.feed, functionName: 'getRoundData', args: [r.roundId] })),
      );
      // A round answers with its own id; anything else (a proxy mapping ids) is taken as read.
      return read.map((round, k) => (round ? { ...round, roundId: requests[k]!.roundId } : undefined));
    },
  };
}
