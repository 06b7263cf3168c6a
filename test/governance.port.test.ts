import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import type { HubRejectedError } from '../governance/errors.ts';
import { createMemoryHub, type GovernancePort, memoryHubChain } from '../governance/governancePort.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { devAccount, devSpace, type GovernanceChain, startGovernanceChain } from '../governance/testing.ts';

/** What a conformance scenario needs from an adapter. */
type World = {
  port: (account: number) => GovernancePort;
  /** Gives `account` tokens and returns a mined block where it holds them. */
  fund: (account: number, tokens: bigint) => Promise<number>;
  advance: (seconds: number) => void;
};

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
  });
}

conformance('local hub over HTTP on anvil', async () => {
  const chain: GovernanceChain = await startGovernanceChain({ accounts: 4 });
  const clock = manualClock(Math.floor(Date.now() / 1000));
  const hub: HubInstance = await startHub({
    spaces: [devSpace(chain)],
    rpcUrl: chain.anvil.rpcUrl,
    dbPath: ':memory:',
    clock,
    onError: () => {},
  });
  return {
    world: {
      port: (i) => createSnapshotClient({ hubUrl: hub.url, account: chain.accounts[i]!, clock }),
      fund: async (i, tokens) => {
        await chain.mint(chain.accounts[i]!.address, tokens.toString());
        return chain.blockNumber();
      },
      advance: (s) => clock.advance(s),
    },
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
  const hub = createMemoryHub({ spaces: [space], clock, chain });
  return {
    world: {
      port: (i) => hub.client(devAccount(i)),
      fund: async (i, tokens) => {
        chain.setBalance(token, devAccount(i).address, tokens);
        return chain.mine();
      },
      advance: (s) => clock.advance(s),
    },
    teardown: async () => hub.close(),
  };
});
