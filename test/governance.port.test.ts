import { erc20Abi, formatUnits } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import type { HubRejectedError } from '../governance/errors.ts';
import {
  createMemoryHub,
  type GovernancePort,
  MEMORY_HUB_URL,
  memoryHubChain,
} from '../governance/governancePort.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { snapshotJs } from '../governance/snapshotProtocol.ts';
import { devAccount, devSpace, type GovernanceChain, startGovernanceChain } from '../governance/testing.ts';

/** What a conformance scenario needs from an adapter. */
type World = {
  /** A governance port signing with dev account `account`; `fetch` (optional) stands in front of the hub's. */
  port: (account: number, fetch?: typeof globalThis.fetch) => GovernancePort;
  /** Gives `account` tokens and returns a mined block where it holds them. */
  fund: (account: number, tokens: bigint) => Promise<number>;
  advance: (seconds: number) => void;
  now: () => Promise<number>;
  /** The hub's own fetch and URL (HTTP: the platform's fetch; in memory: the hub's). */
  fetch: typeof globalThis.fetch;
  hubUrl: string;
  /**
   * The hub's holds of a scores request (ms): its injected sleep records them, runs `duringHold` (if set) and
   * moves the clock by as much, so "time" passes without waiting.
   */
  holds: number[];
  duringHold?: () => Promise<void>;
};

/** The hub's sleep for a world: records the hold, lets the test look in, then moves the clock. */
function holdingSleep(world: () => World, clock: { advance: (s: number) => void }) {
  return async (ms: number) => {
    world().holds.push(ms);
    await world().duringHold?.();
    clock.advance(ms / 1000);
  };
}

/** A fetch that records the paths requested from the hub, in front of `inner`. */
function recording(inner: typeof globalThis.fetch) {
  const paths: string[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    paths.push(new URL(url).pathname);
    return inner(input, init);
  };
  return { fetch, scoresRequests: () => paths.filter((p) => p.startsWith('/api/scores/')).length };
}

function conformance(name: string, setup: () => Promise<{ world: World; teardown: () => Promise<void> }>) {
  describe(`governance port conformance: ${name}`, () => {
    let world: World;
    let teardown: () => Promise<void>;
    beforeAll(async () => {
      ({ world, teardown } = await setup());
    });
    afterAll(async () => teardown?.());

    it('posts, votes, replaces a vote, scores, and cancels', async () => {
      await world.fund(1, 30n);
      const snapshot = await world.fund(2, 12n);
      const admin = world.port(0);
      const receipt = await admin.propose({
        space: 'treasury.eth',
        title: 'Conformance',
        body: 'b',
        snapshot,
        plugins: { treasuryAgent: { x: 1 } },
        timing: { delay: 60, period: 3600 },
      });
      expect((await admin.getProposal(receipt.id))?.state).toBe('pending');
      world.advance(60);
      await world.port(1).vote({ space: 'treasury.eth', proposal: receipt.id, choice: 2 });
      await world.port(2).vote({ space: 'treasury.eth', proposal: receipt.id, choice: 1 });
      world.advance(1);
      await world.port(1).vote({ space: 'treasury.eth', proposal: receipt.id, choice: 1 });
      const rejected = await world
        .port(3)
        .vote({ space: 'treasury.eth', proposal: receipt.id, choice: 1 })
        .catch((e) => e);
      expect((rejected as HubRejectedError).description).toBe('no voting power');
      world.advance(3600);
      expect(await admin.getScores(receipt.id)).toMatchObject({ final: true, scores: [42, 0, 0], votes: 2 });
      expect((await admin.listProposals('treasury.eth')).map((p) => p.id)).toContain(receipt.id);
      await admin.cancel({ space: 'treasury.eth', proposal: receipt.id });
      expect(await admin.getProposal(receipt.id)).toBeNull();
    });

    it('keeps scores pending after the end until requested; the request is held to 60 s after the end', async () => {
      await world.fund(1, 30n);
      const snapshot = await world.fund(2, 12n);
      const admin = world.port(0);
      const { id } = await admin.propose({
        space: 'treasury.eth',
        title: 'Final scores',
        body: 'b',
        snapshot,
        timing: { delay: 60, period: 3600 },
      });
      const raw = async (path: string) => {
        const response = await world.fetch(`${world.hubUrl}${path}`);
        return [response.status, await response.json()];
      };
      const holdsBefore = world.holds.length;
      const holds = () => world.holds.slice(holdsBefore);
      const watcher = recording((input, init) => world.fetch(input, init));
      const watching = world.port(0, watcher.fetch);

      // Before the start: nothing to compute; getScores does not ask.
      expect(await raw(`/api/scores/${id}`)).toEqual([200, { result: false }]);
      expect(await raw(`/api/scores/0x${'0'.repeat(64)}`)).toEqual([200, { result: false }]);
      expect(await watching.getScores(id)).toMatchObject({ state: 'pending', final: false });

      world.advance(61);
      await world.port(1).vote({ space: 'treasury.eth', proposal: id, choice: 1 });
      await world.port(2).vote({ space: 'treasury.eth', proposal: id, choice: 2 });
      // Active: getScores does not ask; a request recomputes, but the scores stay pending.
      expect(await watching.getScores(id)).toMatchObject({
        state: 'active',
        final: false,
        scores: [30, 12, 0],
      });
      expect(watcher.scoresRequests()).toBe(0);
      expect(await raw(`/api/scores/${id}`)).toEqual([200, { result: true }]);
      expect((await admin.getProposal(id))?.scores_state).toBe('pending');
      expect(holds()).toEqual([]);

      // 10 s after the end: closed, and every read keeps it pending.
      const end = (await admin.getProposal(id))!.end;
      world.advance(end + 10 - (await world.now()));
      for (let i = 0; i < 3; i++) {
        expect(await admin.getProposal(id)).toMatchObject({ state: 'closed', scores_state: 'pending' });
      }
      // getScores asks; the hub holds the request 50 s (60 s after the end by its clock), pending meanwhile.
      const duringHold: unknown[] = [];
      world.duringHold = async () => {
        duringHold.push((await admin.getProposal(id))?.scores_state);
      };
      const scores = await watching.getScores(id);
      world.duringHold = undefined;
      expect(holds()).toEqual([50_000]);
      expect(duringHold).toEqual(['pending']);
      expect(watcher.scoresRequests()).toBe(1);
      expect(scores).toMatchObject({ state: 'closed', scoresState: 'final', final: true, votes: 2 });

      // The final scores are what snapshot.js' voting class computes over the votes.
      const votes = await admin.getVotes(id);
      const Voting = snapshotJs.utils.voting.basic;
      const strategies = (await admin.getProposal(id))!.strategies;
      const voting = new Voting(
        { choices: scores!.choices } as never,
        votes.map((v) => ({ choice: v.choice, balance: v.vp, scores: v.vp_by_strategy })) as never,
        strategies as never,
        undefined as never,
      );
      expect(scores!.scores).toEqual(voting.getScores());
      expect(scores!.scoresTotal).toBe(voting.getScoresTotal());
      expect(scores!.scores).toEqual([30, 12, 0]);
      expect((await admin.getProposal(id))?.scores_by_strategy).toEqual(voting.getScoresByStrategy());

      // Already final: answered at once, nothing asked again.
      expect(await raw(`/api/scores/${id}`)).toEqual([200, { result: true }]);
      expect(await watching.getScores(id)).toMatchObject({ final: true });
      expect(watcher.scoresRequests()).toBe(1);
      expect(holds()).toEqual([50_000]);
    });

    it('finalises without a hold when asked 60 s or more after the end', async () => {
      const snapshot = await world.fund(1, 5n);
      const admin = world.port(0);
      const { id } = await admin.propose({
        space: 'treasury.eth',
        title: 'Late reader',
        body: 'b',
        snapshot,
        timing: { delay: 60, period: 3600 },
      });
      world.advance(61);
      await world.port(1).vote({ space: 'treasury.eth', proposal: id, choice: 1 });
      world.advance(3600 + 60);
      const holds = world.holds.length;
      expect(await admin.getScores(id)).toMatchObject({ final: true, scores: [5, 0, 0], scoresTotal: 5 });
      expect(world.holds.length).toBe(holds);
    });
  });
}

conformance('local hub over HTTP on anvil', async () => {
  const chain: GovernanceChain = await startGovernanceChain({ accounts: 4 });
  const clock = manualClock(Math.floor(Date.now() / 1000));
  let world: World | undefined;
  const hub: HubInstance = await startHub({
    spaces: [devSpace(chain)],
    rpcUrl: chain.anvil.rpcUrl,
    dbPath: ':memory:',
    clock,
    sleep: holdingSleep(() => world!, clock),
    onError: () => {},
  });
  world = {
    port: (i, fetch) => createSnapshotClient({ hubUrl: hub.url, account: chain.accounts[i]!, clock, fetch }),
    fund: async (i, tokens) => {
      // Exactly `tokens` from the next block on, as the memory chain's setBalance.
      const holder = chain.accounts[i]!;
      const unit = 10n ** BigInt(chain.decimals);
      const held = await chain.publicClient.readContract({
        address: chain.token,
        abi: erc20Abi,
        functionName: 'balanceOf',
        args: [holder.address],
      });
      if (held < tokens * unit)
        await chain.mint(holder.address, formatUnits(tokens * unit - held, chain.decimals));
      if (held > tokens * unit) {
        await chain.transfer(
          holder,
          chain.accounts[0]!.address,
          formatUnits(held - tokens * unit, chain.decimals),
        );
      }
      return chain.blockNumber();
    },
    advance: (s) => clock.advance(s),
    now: clock,
    fetch: (input, init) => globalThis.fetch(input, init),
    hubUrl: hub.url,
    holds: [],
  };
  return {
    world,
    teardown: async () => {
      await hub.stop();
      await chain.stop();
    },
  };
});

conformance('in-memory', async () => {
  const chain = memoryHubChain(31337);
  const clock = manualClock(Math.floor(Date.now() / 1000));
  const token = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
  const space = devSpace({ anvil: { chainId: 31337 }, token, decimals: 0, accounts: [devAccount(0)] });
  let world: World | undefined;
  const hub = createMemoryHub({ spaces: [space], clock, chain, sleep: holdingSleep(() => world!, clock) });
  world = {
    port: (i, fetch) => hub.client(devAccount(i), fetch ? { fetch } : {}),
    fund: async (i, tokens) => {
      chain.setBalance(token, devAccount(i).address, tokens);
      return chain.mine();
    },
    advance: (s) => clock.advance(s),
    now: clock,
    fetch: hub.fetch,
    hubUrl: MEMORY_HUB_URL,
    holds: [],
  };
  return {
    world,
    teardown: async () => hub.close(),
  };
});
