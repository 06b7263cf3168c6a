import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCycle, verifyVote } from '../agent/cycle.ts';
import type { ProposalRow } from '../agent/ledger.ts';
import { readSafeState } from '../contracts/treasuryReads.ts';
import { chainClock } from '../governance/clock.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { type CycleStack, startCycleStack } from './support/localStack.ts';

/**
 * A hub that lies (issue 11): a man in the middle between the agent and the project's real hub rewrites the
 * GraphQL replies. The agent checks the hub's copy against the message it signed and recomputes the tally from
 * the listed votes with each voter's power read from the chain at the snapshot block.
 */

type Reply = { data?: Record<string, unknown> };
let lie: (reply: Reply) => void = () => {};
let s: CycleStack;
let row: ProposalRow;
let proxy: Server;
let proxyUrl: string;

async function startLyingProxy(target: string) {
  proxy = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const upstream = await fetch(`${target}${request.url}`, {
      method: request.method,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: request.method === 'POST' ? Buffer.concat(chunks) : undefined,
    });
    let text = await upstream.text();
    if (request.url?.startsWith('/graphql')) {
      const reply = JSON.parse(text) as Reply;
      lie(reply);
      text = JSON.stringify(reply);
    }
    response.writeHead(upstream.status, { 'content-type': 'application/json' });
    response.end(text);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

type HubProposalReply = {
  scores: number[];
  scores_total: number;
  votes: number;
  end: number;
  space: { id: string };
  strategies: { name: string; network: string; params: Record<string, unknown> }[];
};
type HubVoteReply = { voter: string; vp: number; choice: number; created: number; id: string };

const proposalIn = (reply: Reply) => reply.data?.proposal as HubProposalReply | null | undefined;
const votesIn = (reply: Reply) => reply.data?.votes as HubVoteReply[] | undefined;

/** The watch step's check, through the lying proxy. */
async function check() {
  const agent = privateKeyToAccount(s.stack.env.TREASURY_AGENT_KEY as `0x${string}`);
  const governance = createSnapshotClient({
    hubUrl: proxyUrl,
    account: agent,
    clock: chainClock(s.runtime.config.chain.rpcUrl),
  });
  const now = Number((await s.runtime.client.getBlock()).timestamp);
  return verifyVote({ ...s.runtime, governance }, (await s.runtime.ledger.get(row.key))!, now);
}

beforeAll(async () => {
  s = await startCycleStack();
  await startLyingProxy(s.stack.hub.url);
  await runCycle(s.runtime);
  [row] = (await s.runtime.ledger.all()) as [ProposalRow];
  await s.advance(60);
  await s.vote(0, row.proposalId!, 1); // 3,000,000 For
  await s.vote(2, row.proposalId!, 2); // 1,500,000 Against
  const g = s.runtime.config.governance;
  await s.advance(g.votingPeriodSeconds + g.executionDelaySeconds + 120);
  // the real hub finalises its scores on request
  expect((await s.runtime.governance.getScores(row.proposalId!))?.final).toBe(true);
}, 240_000);

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await s?.stop();
});

describe('the agent checks the vote itself', () => {
  it('an honest hub: the recomputed tally equals the hub’s', async () => {
    lie = () => {};
    const result = await check();
    expect(result.ok, JSON.stringify(result)).toBe(true);
    expect(result.tally).toMatchObject({ for: 3_000_000, against: 1_500_000, abstain: 0, votes: 2 });
  });

  const lies: [string, (reply: Reply) => void, RegExp][] = [
    [
      'a tally with no votes behind it',
      (reply) => {
        const p = proposalIn(reply);
        if (p) Object.assign(p, { scores: [9_000_000, 0, 0], scores_total: 9_000_000 });
      },
      /the hub's scores \[9000000,0,0\] .* disagree with its own votes and the chain: \[3000000,1500000,0\]/,
    ],
    [
      'a consistent tally inflated through a voter’s power',
      (reply) => {
        const p = proposalIn(reply);
        if (p) Object.assign(p, { scores: [8_000_000, 1_500_000, 0], scores_total: 9_500_000 });
        for (const v of votesIn(reply) ?? []) if (v.choice === 1) v.vp = 8_000_000;
      },
      /the hub gives 0x[0-9a-fA-F]{40} 8000000 votes; the chain says 3000000 at block \d+/,
    ],
    [
      'an invented vote from an address that held nothing',
      (reply) => {
        const p = proposalIn(reply);
        if (p) Object.assign(p, { scores: [8_000_000, 1_500_000, 0], scores_total: 9_500_000, votes: 3 });
        const votes = votesIn(reply);
        votes?.push({
          ...votes[0]!,
          id: `0x${'99'.repeat(32)}`,
          voter: `0x${'12'.repeat(20)}`,
          vp: 5_000_000,
        });
      },
      /held no governance token at block \d+ yet has a vote/,
    ],
    [
      'a vote listed twice',
      (reply) => {
        const votes = votesIn(reply);
        votes?.push({ ...votes[0]! });
      },
      /appears twice in the hub's list of votes/,
    ],
    [
      'another space',
      (reply) => {
        const p = proposalIn(reply);
        if (p) p.space = { id: 'someone-else.eth' };
      },
      /the hub puts the proposal in space someone-else\.eth/,
    ],
    [
      'an earlier end',
      (reply) => {
        const p = proposalIn(reply);
        if (p) p.end -= 86_400;
      },
      /the hub says voting runs \d+–\d+, the agent posted/,
    ],
    [
      'voting power from another token',
      (reply) => {
        const p = proposalIn(reply);
        if (p)
          p.strategies = [
            { ...p.strategies[0]!, params: { ...p.strategies[0]!.params, address: `0x${'34'.repeat(20)}` } },
          ];
      },
      /voting strategies are .* not erc20-balance-of on the governance token/,
    ],
  ];
  for (const [name, edit, reason] of lies) {
    it(`refuses ${name}`, async () => {
      lie = edit;
      const result = await check();
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problems.join('\n')).toMatch(reason);
    });
  }

  it('inside a real cycle: a lying tally fails the proposal, with the problems in the audit log, and nothing executes', async () => {
    lie = (reply) => {
      const p = proposalIn(reply);
      if (p) Object.assign(p, { scores: [9_000_000, 0, 0], scores_total: 9_000_000 });
    };
    const agent = privateKeyToAccount(s.stack.env.TREASURY_AGENT_KEY as `0x${string}`);
    const honest = s.runtime.governance;
    s.runtime.governance = createSnapshotClient({
      hubUrl: proxyUrl,
      account: agent,
      clock: chainClock(s.runtime.config.chain.rpcUrl),
    });
    try {
      const report = await runCycle(s.runtime);
      const after = (await s.runtime.ledger.get(row.key))!;
      expect(after.state, report.events.join('\n')).toBe('failed');
      expect(after.reason).toMatch(/^the hub's account of the vote does not hold/);
      expect((await readSafeState(s.runtime.client, { safe: s.runtime.config.safe.address! })).nonce).toBe(
        0n,
      );
    } finally {
      s.runtime.governance = honest;
    }
  });
});
