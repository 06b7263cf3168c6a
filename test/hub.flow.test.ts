import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainClock } from '../governance/clock.ts';
import { HubRejectedError } from '../governance/errors.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { parseTreasuryPlugin, renderProposalBody } from '../governance/proposalBody.ts';
import { createSnapshotClient, type SnapshotClient } from '../governance/snapshotClient.ts';
import { devSpace, type GovernanceChain, startGovernanceChain } from '../governance/testing.ts';

/** The whole flow on a real anvil with the real snapshot.js Client712, the hub's clock being the chain's. */
describe('local hub: propose, vote, score, restart', () => {
  let chain: GovernanceChain;
  let hub: HubInstance;
  let dbPath: string;
  const clients: SnapshotClient[] = [];
  /** The hub's holds of a scores request (ms): its clock is the chain's, so the hold moves the chain instead. */
  const holds: number[] = [];
  const sleep = async (ms: number) => {
    holds.push(ms);
    await chain.advance(Math.ceil(ms / 1000));
  };

  beforeAll(async () => {
    chain = await startGovernanceChain({ accounts: 6 });
    dbPath = join(mkdtempSync(join(tmpdir(), 'hub-flow-')), 'hub.db');
    hub = await startHub({
      spaces: [devSpace(chain)],
      rpcUrl: chain.anvil.rpcUrl,
      dbPath,
      sleep,
      onError: () => {},
    });
    for (const account of chain.accounts) {
      clients.push(
        createSnapshotClient({
          hubUrl: hub.url,
          account,
          clock: chainClock(chain.anvil.rpcUrl),
          retry: { attempts: 2, baseDelayMs: 10 },
        }),
      );
    }
  });
  afterAll(async () => {
    await hub?.stop();
    await chain?.stop();
  });

  it('counts balances at the snapshot block, replaces votes, finalizes after the end and survives a restart', async () => {
    const [admin, alice, bob, carol, dave] = chain.accounts.map((a) => a.address);
    await chain.mint(alice!, '100');
    await chain.mint(bob!, '250');
    await chain.mint(carol!, '42.5');
    const snapshot = await chain.blockNumber();
    // Moved after the snapshot block: must not count.
    await chain.transfer(chain.accounts[2]!, dave!, '200');
    await chain.mint(alice!, '1000');

    const proposer = clients[0]!;
    const rendered = renderProposalBody({
      summary: 'Move 10% from WETH to USDC.',
      rationale: 'Back to the target weights.',
      allocation: [
        { symbol: 'WETH', beforeBps: 6000, afterBps: 5000 },
        { symbol: 'USDC', beforeBps: 4000, afterBps: 5000 },
      ],
      trades: [
        {
          sell: { symbol: 'WETH', amount: 10n ** 18n, decimals: 18 },
          buy: { symbol: 'USDC', minOut: 3_000_000_000n, decimals: 6 },
          price: { pair: 'USD/ETH', value: '3100', source: 'feed', asOf: 1_767_225_600 },
        },
      ],
      guardrails: [{ name: 'max slippage', detail: '0.5%' }],
      safe: {
        address: chain.token,
        nonce: 0,
        chainId: 31337,
        safeTxHash: `0x${'12'.repeat(32)}`,
        to: chain.token,
        dataHash: `0x${'34'.repeat(32)}`,
        decisionHash: `0x${'56'.repeat(32)}`,
        policySwapper: chain.token,
        validUntil: 1_767_571_200,
        transactions: [{ to: chain.token, value: 0n, data: '0x', operation: 0 }],
      },
      auditRecordId: 'audit-1',
      auditHead: { seq: 0, hash: `0x${'0'.repeat(64)}` },
    });
    const receipt = await proposer.propose({
      space: 'treasury.eth',
      title: 'Rebalance #1',
      body: rendered.body,
      snapshot,
      plugins: rendered.plugins,
      timing: { delay: 60, period: 3600 },
    });
    expect(receipt.id).toMatch(/^0x[0-9a-f]{64}$/);
    expect(receipt.ipfs).toMatch(/^bafkrei/);
    expect(receipt.relayer?.address).toBe(hub.relayer);

    const pending = await proposer.getProposal(receipt.id);
    expect(pending).toMatchObject({
      id: receipt.id,
      state: 'pending',
      author: admin,
      choices: ['For', 'Against', 'Abstain'],
      snapshot,
      type: 'basic',
      quorum: 100,
      scores_state: 'pending',
      body: rendered.body,
      space: { id: 'treasury.eth' },
    });
    expect(parseTreasuryPlugin(pending!.plugins)).toEqual(rendered.plugin);
    expect(pending!.end - pending!.start).toBe(3600);

    // Too early: the proposal has not started.
    const early = await clients[1]!
      .vote({ space: 'treasury.eth', proposal: receipt.id, choice: 1 })
      .catch((e) => e);
    expect(early).toBeInstanceOf(HubRejectedError);
    expect((early as HubRejectedError).description).toBe('not in voting window');
    expect((early as HubRejectedError).status).toBe(400);

    await chain.advance(61);
    await clients[1]!.vote({ space: 'treasury.eth', proposal: receipt.id, choice: 1 }); // alice For 100
    await clients[2]!.vote({ space: 'treasury.eth', proposal: receipt.id, choice: 1 }); // bob For 250 …
    await clients[3]!.vote({ space: 'treasury.eth', proposal: receipt.id, choice: 3, reason: 'neutral' }); // carol 42.5
    await chain.advance(5);
    await clients[2]!.vote({ space: 'treasury.eth', proposal: receipt.id, choice: 2 }); // … bob changes to Against

    // dave received tokens after the snapshot: no voting power.
    const noPower = await clients[4]!
      .vote({ space: 'treasury.eth', proposal: receipt.id, choice: 1 })
      .catch((e) => e);
    expect((noPower as HubRejectedError).description).toBe('no voting power');

    const active = await proposer.getScores(receipt.id);
    expect(active).toMatchObject({ state: 'active', scoresState: 'pending', final: false, votes: 3 });
    expect(active!.scores).toEqual([100, 250, 42.5]);

    const votes = await proposer.getVotes(receipt.id);
    expect(votes.map((v) => [v.voter, v.choice, v.vp]).sort()).toEqual(
      [
        [alice, 1, 100],
        [bob, 2, 250],
        [carol, 3, 42.5],
      ].sort(),
    );
    expect(votes.find((v) => v.voter === carol)?.reason).toBe('neutral');

    await chain.advance(3600);
    const late = await clients[1]!
      .vote({ space: 'treasury.eth', proposal: receipt.id, choice: 2 })
      .catch((e) => e);
    expect((late as HubRejectedError).description).toBe('not in voting window');

    // Closed a few seconds ago: reads keep the scores pending; getScores asks for them, and the hub holds that
    // request until 60 s after the end (by its clock, the chain's) before computing them.
    expect((await proposer.getProposal(receipt.id))?.scores_state).toBe('pending');
    const closed = await proposer.getScores(receipt.id);
    expect(holds).toHaveLength(1);
    expect(holds[0]).toBeGreaterThan(0);
    expect(holds[0]).toBeLessThanOrEqual(60_000);
    expect(closed).toEqual({
      id: receipt.id,
      state: 'closed',
      scoresState: 'final',
      final: true,
      choices: ['For', 'Against', 'Abstain'],
      scores: [100, 250, 42.5],
      scoresTotal: 392.5,
      quorum: 100,
      votes: 3,
    });
    const listed = await proposer.listProposals('treasury.eth', { state: 'closed' });
    expect(listed.map((p) => p.id)).toEqual([receipt.id]);
    expect(await proposer.listProposals('treasury.eth', { state: 'active' })).toEqual([]);

    // Restart: same database, everything is still there (and the relayer key too).
    const relayer = hub.relayer;
    await hub.stop();
    hub = await startHub({
      spaces: [devSpace(chain)],
      rpcUrl: chain.anvil.rpcUrl,
      dbPath,
      sleep,
      onError: () => {},
    });
    expect(hub.relayer).toBe(relayer);
    const reader = createSnapshotClient({
      hubUrl: hub.url,
      account: chain.accounts[0]!,
      clock: chainClock(chain.anvil.rpcUrl),
    });
    expect(await reader.getScores(receipt.id)).toEqual(closed);
    expect((await reader.getVotes(receipt.id)).length).toBe(3);
    const space = await reader.getSpace('treasury.eth');
    expect(space).toMatchObject({
      id: 'treasury.eth',
      voting: { delay: 60, period: 3600, type: 'basic', quorum: 100 },
    });
  });
});
