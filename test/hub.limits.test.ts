import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import { HubRejectedError } from '../governance/errors.ts';
import { memoryHubChain } from '../governance/hub/memoryHub.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { createSnapshotClient, viemTypedDataSigner } from '../governance/snapshotClient.ts';
import { Client712 } from '../governance/snapshotProtocol.ts';
import { devAccount, devSpace } from '../governance/testing.ts';

/** Limits of the real services: proposals per space per day, requests per minute per IP (HTTP 429). */
describe('local hub: limits', () => {
  const token = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
  const chain = memoryHubChain(31337);
  const clock = manualClock(1_800_000_000);
  let hub: HubInstance;

  beforeAll(async () => {
    chain.mine();
    hub = await startHub({
      spaces: [devSpace({ anvil: { chainId: 31337 }, token, decimals: 0, accounts: [devAccount(0)] })],
      rpcUrl: 'http://unused.invalid',
      chain,
      dbPath: ':memory:',
      clock,
      limits: { perDay: 2 },
      rateLimitPerMinute: 3,
      onError: () => {},
    });
  });
  afterAll(() => hub?.stop());

  it('refuses the third proposal of the day, then answers 429 past the rate limit', async () => {
    const client = createSnapshotClient({
      hubUrl: hub.url,
      account: devAccount(0),
      clock,
      retry: { attempts: 1 },
    });
    const propose = (title: string) =>
      client.propose({
        space: 'treasury.eth',
        title,
        body: 'b',
        snapshot: 1,
        timing: { delay: 60, period: 3600 },
      });
    await propose('one');
    await propose('two');
    const third = await propose('three').catch((e) => e);
    expect(third).toBeInstanceOf(HubRejectedError);
    expect((third as HubRejectedError).description).toBe('proposal limit reached');
    const fourth = await propose('four').catch((e) => e);
    expect(fourth.message).toMatch(/did not accept the proposal after 1 attempts/);
    expect(fourth.cause).toBeInstanceOf(HubRejectedError);
    expect(fourth.cause.status).toBe(429);
    const raw = await fetch(hub.url, { method: 'POST', body: '{}' });
    expect(raw.status).toBe(429);
    expect(await raw.json()).toEqual({ error: 'client_error', error_description: 'too many requests' });
    // The scores endpoint counts too (the real sequencer limits every route); GraphQL reads are not limited here.
    expect((await fetch(`${hub.url}/api/scores/0x1`, { redirect: 'manual' })).status).toBe(429);
    expect(
      (await fetch(hub.graphqlUrl, { method: 'POST', body: '{"query":"{ spaces { id } }"}' })).status,
    ).toBe(200);
  });

  it('answers 425 to a copy of a request still being processed, and stores invalid plugins as {}', async () => {
    const slow = memoryHubChain(31337);
    slow.setBalance(token, devAccount(1).address, 5n);
    slow.mine();
    // The vote's voting-power read waits at a gate until the other copy has been answered: both copies arrive
    // while the first is in flight, however slow the machine (no timing involved).
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const balanceOf = slow.balanceOf;
    slow.balanceOf = async (...args) => {
      await gate;
      return balanceOf(...args);
    };
    const slowHub = await startHub({
      spaces: [devSpace({ anvil: { chainId: 31337 }, token, decimals: 0, accounts: [devAccount(0)] })],
      rpcUrl: 'http://unused.invalid',
      chain: slow,
      dbPath: ':memory:',
      clock,
      onError: () => {},
    });
    try {
      const timestamp = await clock();
      const created = (await new Client712(slowHub.url).proposal(
        viemTypedDataSigner(devAccount(0)) as never,
        devAccount(0).address,
        {
          space: 'treasury.eth',
          timestamp,
          type: 'basic',
          title: 'Bad plugins',
          body: 'b',
          discussion: '',
          choices: ['For', 'Against'],
          labels: [],
          start: timestamp + 60,
          end: timestamp + 3660,
          snapshot: 1,
          plugins: '{not json',
          app: '',
        } as never,
      )) as { id: string };
      const reader = createSnapshotClient({ hubUrl: slowHub.url, account: devAccount(0), clock });
      expect((await reader.getProposal(created.id))?.plugins).toEqual({});

      clock.advance(60);
      const envelope = await new CapturingClient(slowHub.url).vote(
        viemTypedDataSigner(devAccount(1)) as never,
        devAccount(1).address,
        {
          space: 'treasury.eth',
          proposal: created.id,
          choice: 1,
          timestamp: await clock(),
        } as never,
      );
      const post = async () => {
        const response = await fetch(slowHub.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(envelope),
        });
        return { status: response.status, body: await response.json() };
      };
      const answered = (reply: ReturnType<typeof post>) =>
        reply.then((r) => {
          release();
          return r;
        });
      const [first, second] = await Promise.all([answered(post()), answered(post())]);
      expect([first.status, second.status].sort()).toEqual([200, 425]);
      expect([first, second].find((r) => r.status === 425)?.body).toEqual({
        error: 'client_error',
        error_description: 'request already being processed',
      });
      expect((await reader.getVotes(created.id)).length).toBe(1);
      clock.advance(-60);
    } finally {
      await slowHub.stop();
    }
  });
});

class CapturingClient extends Client712 {
  override async send(envelope: unknown) {
    return envelope;
  }
}
