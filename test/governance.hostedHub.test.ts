import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { devPrivateKey } from '../contracts/devAccounts.ts';
import { manualClock } from '../governance/clock.ts';
import { GovernanceError } from '../governance/errors.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import {
  type FakeSnapshotHub,
  SEQUENCER_TOO_MANY,
  startFakeSnapshotHub,
  tooManyRequests,
} from './support/fakeSnapshotHub.ts';

/**
 * The Snapshot client against a local stand-in for hub.snapshot.org / seq.snapshot.org that answers with their
 * access rules (test/support/fakeSnapshotHub.ts): the key travels as `x-api-key`, 429 and 5xx are retried with
 * the waits the service asks for (recorded, never slept), and a lasting limit ends in one clear message.
 */
const KEY = 'snapshot-test-key-0123456789';
const account = privateKeyToAccount(devPrivateKey(1));
const clock = manualClock(1_700_000_000);

let hub: FakeSnapshotHub;
let slept: number[];
const client = (apiKey: string | null = KEY, retry = {}) =>
  createSnapshotClient({
    hubUrl: hub.url,
    account,
    clock,
    apiKey: apiKey ?? undefined,
    retry,
    sleep: async (ms) => {
      slept.push(ms);
    },
  });
const propose = (c: ReturnType<typeof client>, title = 'P') =>
  c.propose({ space: 'treasury.eth', title, body: 'b', snapshot: 1, timing: { delay: 0, period: 3600 } });

beforeAll(async () => {
  hub = await startFakeSnapshotHub({ validKeys: [KEY] });
  hub.spaces.set('treasury.eth', {
    id: 'treasury.eth',
    name: 'Treasury',
    network: '1',
    symbol: 'GOV',
    admins: [],
    moderators: [],
    members: [account.address],
    filters: { minScore: 0, onlyMembers: true },
    voting: { delay: null, period: 3600, type: 'basic', quorum: 100 },
    strategies: [{ name: 'erc20-balance-of', network: '1', params: { address: '0x1', decimals: 18 } }],
  });
});
afterAll(() => hub.close());
beforeEach(() => {
  hub.requests.length = 0;
  slept = [];
});

describe('Snapshot API key', () => {
  it('is sent as x-api-key on GraphQL reads, messages to the sequencer and score requests', async () => {
    const c = client();
    expect((await c.getSpace('treasury.eth'))?.voting?.type).toBe('basic');
    const receipt = await propose(c);
    await c.requestFinalScores(receipt.id);
    expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /graphql',
      'POST /',
      'GET /api/scores/' + receipt.id,
    ]);
    for (const r of hub.requests) expect(r.headers['x-api-key']).toBe(KEY);
  });

  it('is not sent when there is none', async () => {
    await client(null).getSpace('treasury.eth');
    expect(hub.requests[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('an invalid key: 401 "invalid api key", not retried, names the variable (never the value)', async () => {
    const error = await client('wrong-key-123456')
      .getSpace('treasury.eth')
      .catch((e) => e);
    expect(error).toBeInstanceOf(GovernanceError);
    expect(error.message).toBe(
      'the hub refused the request: HTTP 401 "invalid api key" → TREASURY_SNAPSHOT_API_KEY is not a valid Snapshot API key: fix it, or unset it to use the public limit',
    );
    expect(hub.requests).toHaveLength(1);
    expect(slept).toEqual([]);
  });
});

describe('rate limits and server errors, on every request', () => {
  it('GraphQL: a 429 with Retry-After is waited out, then the read succeeds', async () => {
    hub.inject(tooManyRequests(), tooManyRequests(undefined, 30));
    expect((await client(null).getSpace('treasury.eth'))?.id).toBe('treasury.eth');
    expect(slept).toEqual([60_000, 30_000]);
    expect(hub.requests).toHaveLength(3);
  });

  it('GraphQL: 5xx without Retry-After backs off exponentially', async () => {
    hub.inject(
      { status: 502, body: '<html>502 Bad Gateway</html>', headers: { 'content-type': 'text/html' } },
      { status: 503, body: '' },
    );
    expect(await client().getProposal('0xabc')).toBeNull();
    expect(slept).toEqual([500, 1000]);
  });

  it('GraphQL: a lasting limit without a key says to get one or lower the cadence', async () => {
    hub.inject(...Array.from({ length: 5 }, () => tooManyRequests()));
    const error = await client(null)
      .getSpace('treasury.eth')
      .catch((e) => e);
    expect(error).toBeInstanceOf(GovernanceError);
    expect(error.message).toBe(
      `the hub's GraphQL did not answer: ${new URL(hub.url).host} is rate-limiting this agent: HTTP 429 "too many requests, refer to https://docs.snapshot.box/tools/api/api-keys#limits", 5 attempts over 4 min → without an API key the hub allows about 100 requests a minute per IP address: set TREASURY_SNAPSHOT_API_KEY (get a key: https://docs.snapshot.box/tools/api/api-keys), or run cycles less often (schedule.cron)`,
    );
    expect(slept).toEqual([60_000, 60_000, 60_000, 60_000]);
  });

  it('GraphQL: a lasting limit with a key says the key’s limit is used up', async () => {
    hub.inject(...Array.from({ length: 2 }, () => tooManyRequests()));
    const error = await client(KEY, { attempts: 2 })
      .getSpace('treasury.eth')
      .catch((e) => e);
    expect(error.message).toMatch(
      /rate-limiting this agent: HTTP 429 .* → the API key's limit is used up \(X-Api-Key-Remaining 1999990\): run cycles less often \(schedule\.cron\) or ask Snapshot for a higher limit/,
    );
    expect(error.message).not.toContain(KEY);
  });

  it('a Retry-After longer than the agent waits ends the attempts at once', async () => {
    hub.inject(tooManyRequests(undefined, 3600));
    const error = await client(null)
      .getSpace('treasury.eth')
      .catch((e) => e);
    expect(error.message).toMatch(
      /HTTP 429 .*, it asks to wait 60 min \(Retry-After\), longer than the agent waits →/,
    );
    expect(hub.requests).toHaveLength(1);
    expect(slept).toEqual([]);
  });

  it('the sequencer: a 429 is waited out, the hub asked before re-sending, then the message is accepted', async () => {
    hub.inject(tooManyRequests(SEQUENCER_TOO_MANY, 2));
    const receipt = await propose(client(), 'after a 429');
    expect(receipt.recovered).toBe(false);
    expect(slept).toEqual([2000]);
    expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /', 'POST /graphql', 'POST /']);
  });

  it('the sequencer: a lasting limit names the sequencer’s limit (a key does not raise it) and what to do', async () => {
    hub.inject(...Array.from({ length: 20 }, () => tooManyRequests(SEQUENCER_TOO_MANY, 1)));
    // Messages and the "was it accepted?" reads share the limit: each read is itself retried.
    const error = await propose(client(KEY, { attempts: 2 }), 'limited').catch((e) => e);
    expect(error).toBeInstanceOf(GovernanceError);
    expect(error.message.split('\n')[0]).toMatch(
      /^the hub did not accept the proposal after 2 attempts: .* is rate-limiting this agent: HTTP 429 "too many requests, refer to https:\/\/docs\.snapshot\.org\/tools\/api\/api-keys#limits", 2 attempts over \d+ s → the sequencer accepts about 100 requests a minute per IP address, with or without an API key/,
    );
    expect(error.message).toContain('resending is safe');
    hub.requests.length = 0;
    hub.inject(); // drain what is left
  });
});
