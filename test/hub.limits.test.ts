import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import { HubRejectedError } from '../governance/errors.ts';
import { memoryHubChain } from '../governance/hub/memoryHub.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
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
  });
});
