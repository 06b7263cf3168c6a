import { afterAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import { memoryHubChain } from '../governance/hub/memoryHub.ts';
import { abortableSleep, createScores } from '../governance/hub/scores.ts';
import { startHub } from '../governance/hub/server.ts';
import { HubStore, type ProposalRow } from '../governance/hub/store.ts';
import { devAccount, devSpace } from '../governance/testing.ts';

/**
 * `GET /scores/{id}` as snapshot-sequencer answers it (src/api.ts, src/scores.ts `updateProposalAndVotes`,
 * src/helpers/requestDeduplicator.ts), and hub.snapshot.org's `GET /api/scores/{id}` redirect (src/api.ts).
 */
const NOW = 1_800_000_000;

function row(id: string, overrides: Partial<ProposalRow> = {}): ProposalRow {
  return {
    id,
    ipfs: `bafk${id}`,
    author: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
    created: NOW - 4000,
    updated: 0,
    space: 'treasury.eth',
    network: '31337',
    symbol: 'GOV',
    type: 'basic',
    strategies: JSON.stringify([{ name: 'erc20-balance-of', network: '31337', params: {} }]),
    plugins: '{}',
    title: id,
    body: '',
    discussion: '',
    choices: '["For","Against","Abstain"]',
    labels: '[]',
    start: NOW - 3700,
    end: NOW - 100,
    quorum: 0,
    quorum_type: '',
    privacy: '',
    snapshot: 1,
    app: '',
    scores: '[]',
    scores_by_strategy: '[]',
    scores_state: 'pending',
    scores_total: 0,
    scores_updated: 0,
    votes: 0,
    ...overrides,
  };
}

const message = (id: string) => ({
  id,
  ipfs: `bafk${id}`,
  address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
  version: '0.1.4',
  timestamp: NOW,
  space: 'treasury.eth',
  type: 'proposal',
  sig: '0x',
  receipt: '0x',
});

describe('the scores endpoint', () => {
  const store = new HubStore(':memory:');
  afterAll(() => store.close());
  const clock = manualClock(NOW);

  it('redirects /api/scores/{id} to /scores/{id} (HTTP 307), which answers HTTP 200', async () => {
    const chain = memoryHubChain(31337);
    const token = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
    const hub = await startHub({
      spaces: [devSpace({ anvil: { chainId: 31337 }, token, decimals: 0, accounts: [devAccount(0)] })],
      rpcUrl: 'http://unused.invalid',
      chain,
      dbPath: ':memory:',
      clock,
    });
    try {
      const redirect = await fetch(`${hub.url}/api/scores/0x12`, { redirect: 'manual' });
      expect([redirect.status, redirect.headers.get('location')]).toEqual([307, '/scores/0x12']);
      const followed = await fetch(`${hub.url}/api/scores/0x12`);
      expect([followed.status, followed.url, await followed.json()]).toEqual([
        200,
        `${hub.url}/scores/0x12`,
        { result: false },
      ]);
    } finally {
      await hub.stop();
    }
  });

  it('shares one computation among requests that arrive while it runs', async () => {
    store.addProposal(row('0xshared'), message('0xshared'));
    let wake!: () => void;
    const holds: number[] = [];
    const scores = createScores({
      store,
      clock,
      sleep: (ms) => {
        holds.push(ms);
        return new Promise<void>((resolve) => {
          wake = resolve;
        });
      },
    });
    clock.set(NOW - 100 + 20); // 20 s after the end
    const first = scores.request('0xshared');
    const second = scores.request('0xshared');
    await new Promise<void>((resolve) => setImmediate(resolve)); // both reached the hold (no I/O on the way)
    expect(holds).toEqual([40_000]);
    expect(store.getProposal('0xshared')?.scores_state).toBe('pending');
    wake();
    expect(await Promise.all([first, second])).toEqual([{ result: true }, { result: true }]);
    expect(holds).toEqual([40_000]);
    expect(store.getProposal('0xshared')).toMatchObject({ scores_state: 'final', scores: '[0,0,0]' });
    clock.set(NOW);
  });

  it("answers {error: 'failed', message} when computing fails (HTTP 200), as Express writes the error", async () => {
    store.addProposal(row('0xfails', { end: NOW - 10 }), message('0xfails'));
    const errors: unknown[] = [];
    const scores = createScores({
      store,
      clock,
      sleep: () => Promise.reject(new Error('stopping')),
      onError: (error) => errors.push(error),
    });
    expect(await scores.request('0xfails')).toEqual({ error: 'failed', message: {} });
    expect(errors).toHaveLength(1);
    expect(store.getProposal('0xfails')?.scores_state).toBe('pending');
  });

  it('does not recompute a proposal of over 20,000 votes scored in the last 5 minutes', async () => {
    const noHold = async () => {};
    store.addProposal(row('0xbusy', { votes: 20_001, scores_updated: NOW - 299 }), message('0xbusy'));
    store.addProposal(row('0xcalm', { votes: 20_001, scores_updated: NOW - 301 }), message('0xcalm'));
    const scores = createScores({ store, clock, sleep: noHold });
    expect(await scores.request('0xbusy')).toEqual({ result: false });
    expect(await scores.request('0xcalm')).toEqual({ result: true });
  });

  it('ends a hold early when the hub stops', async () => {
    const hold = abortableSleep();
    const held = hold.sleep(60_000);
    hold.abort();
    await expect(held).rejects.toThrow('the hub is stopping');
    await expect(hold.sleep(1)).rejects.toThrow('the hub is stopping');
  });
});
