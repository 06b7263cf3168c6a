import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import { GovernanceError, HubRejectedError } from '../governance/errors.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { devSpace, type GovernanceChain, startGovernanceChain } from '../governance/testing.ts';

type Mode = 'pass' | 'fail-503' | 'lose-reply' | 'rate-limit' | 'wrong-id' | 'garbage-graphql';

/** A real HTTP proxy in front of the real hub that misbehaves on purpose. */
async function startFlakyProxy(target: string) {
  const state = {
    mode: 'pass' as Mode,
    failuresLeft: 0,
    forwardedMessages: 0,
    /** Requests for final scores (`GET /api/scores/…`) seen, and replies to give them instead of the hub's. */
    scoresRequests: 0,
    scoresReplies: [] as { status: number; body: string; headers?: Record<string, string> }[],
  };
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    const isMessage = request.url === '/' && request.method === 'POST';
    const reply = (status: number, text: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(text);
    };
    if (request.method === 'GET' && request.url?.startsWith('/api/scores/')) {
      state.scoresRequests++;
      const injected = state.scoresReplies.shift();
      if (injected) return reply(injected.status, injected.body, injected.headers);
    }
    if (!isMessage && state.mode === 'garbage-graphql')
      return reply(200, JSON.stringify({ data: { proposal: { id: 42 } } }));
    if (isMessage && state.failuresLeft > 0 && state.mode === 'fail-503') {
      state.failuresLeft--;
      return reply(503, '<html>bad gateway</html>', { 'content-type': 'text/html' });
    }
    if (isMessage && state.failuresLeft > 0 && state.mode === 'rate-limit') {
      state.failuresLeft--;
      return reply(429, JSON.stringify({ error: 'client_error', error_description: 'too many requests' }), {
        'retry-after': '0',
      });
    }
    const forwarded = await fetch(`${target}${request.url}`, {
      method: request.method,
      headers: { 'content-type': 'application/json' },
      body: request.method === 'POST' ? body : undefined,
      redirect: 'manual', // the client follows the hub's redirects, through this proxy
    });
    const text = await forwarded.text();
    if (isMessage) state.forwardedMessages++;
    if (isMessage && state.failuresLeft > 0 && state.mode === 'lose-reply') {
      state.failuresLeft--;
      return reply(502, '{"error":"bad gateway"}');
    }
    if (isMessage && state.mode === 'wrong-id' && forwarded.ok) {
      const json = JSON.parse(text);
      return reply(200, JSON.stringify({ ...json, id: `0x${'9'.repeat(64)}` }));
    }
    const location = forwarded.headers.get('location');
    reply(forwarded.status, text, location ? { location } : {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { url, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('snapshot client: retries without double-sending, untrusted replies', () => {
  let chain: GovernanceChain;
  let hub: HubInstance;
  let proxy: Awaited<ReturnType<typeof startFlakyProxy>>;
  let snapshot: number;
  const clock = manualClock(Math.floor(Date.now() / 1000));
  /** The hub's holds of scores requests (ms); its sleep moves the clock instead of waiting. */
  const holds: number[] = [];

  beforeAll(async () => {
    chain = await startGovernanceChain({ accounts: 3 });
    await chain.mint(chain.accounts[1]!.address, '7');
    snapshot = await chain.blockNumber();
    hub = await startHub({
      spaces: [devSpace(chain)],
      rpcUrl: chain.anvil.rpcUrl,
      dbPath: ':memory:',
      clock,
      sleep: async (ms) => {
        holds.push(ms);
        clock.advance(ms / 1000);
      },
      onError: () => {},
    });
    proxy = await startFlakyProxy(hub.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await hub?.stop();
    await chain?.stop();
  });

  const client = (i: number) =>
    createSnapshotClient({
      hubUrl: proxy.url,
      account: chain.accounts[i]!,
      clock,
      retry: { attempts: 4, baseDelayMs: 1 },
    });
  let n = 0;
  const propose = () =>
    client(0).propose({
      space: 'treasury.eth',
      title: `P${++n}`,
      body: 'b',
      snapshot,
      timing: { delay: 60, period: 3600 },
    });

  it('retries a 503 and a 429, then succeeds once', async () => {
    proxy.state.mode = 'fail-503';
    proxy.state.failuresLeft = 2;
    proxy.state.forwardedMessages = 0;
    const first = await propose();
    expect(first.recovered).toBe(false);
    expect(proxy.state.forwardedMessages).toBe(1);
    proxy.state.mode = 'rate-limit';
    proxy.state.failuresLeft = 1;
    proxy.state.forwardedMessages = 0;
    const second = await propose();
    expect(second.recovered).toBe(false);
    expect(proxy.state.forwardedMessages).toBe(1);
    expect((await client(0).getProposal(second.id))?.id).toBe(second.id);
  });

  it('after a lost reply, finds the accepted message instead of sending it again', async () => {
    proxy.state.mode = 'lose-reply';
    proxy.state.failuresLeft = 1;
    proxy.state.forwardedMessages = 0;
    const receipt = await propose();
    expect(receipt.recovered).toBe(true);
    expect(proxy.state.forwardedMessages).toBe(1);
    expect((await client(0).getProposal(receipt.id))?.title).toBe(`P${n}`);

    // Same for a vote.
    clock.advance(60);
    proxy.state.failuresLeft = 1;
    proxy.state.forwardedMessages = 0;
    const vote = await client(1).vote({ space: 'treasury.eth', proposal: receipt.id, choice: 1 });
    expect(vote.recovered).toBe(true);
    expect(proxy.state.forwardedMessages).toBe(1);
    expect((await client(1).getVote(vote.id))?.vp).toBe(7);
    clock.advance(-60);
  });

  it('signs the digest it computed before calling snapshot.js, and the hub verifies that signature', async () => {
    proxy.state.mode = 'pass';
    // The message is hashed once (its id); an account that cannot hash typed data still signs proposals and votes.
    const digestOnly = (i: number) =>
      createSnapshotClient({
        hubUrl: proxy.url,
        clock,
        account: {
          ...chain.accounts[i]!,
          signTypedData: () => {
            throw new Error('typed data hashed a second time');
          },
        } as (typeof chain.accounts)[number],
      });
    const posted = await digestOnly(0).propose({
      space: 'treasury.eth',
      title: `P${++n}`,
      body: 'x'.repeat(9_000),
      snapshot,
      timing: { delay: 60, period: 3600 },
    });
    expect((await client(1).getProposal(posted.id))?.author.toLowerCase()).toBe(
      chain.accounts[0]!.address.toLowerCase(),
    );
    clock.advance(61);
    const vote = await digestOnly(1).vote({ space: 'treasury.eth', proposal: posted.id, choice: 1 });
    expect(vote.id).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it('gives up after the attempts with a GovernanceError carrying the cause', async () => {
    proxy.state.mode = 'fail-503';
    proxy.state.failuresLeft = 10;
    const error = await propose().catch((e) => e);
    expect(error).toBeInstanceOf(GovernanceError);
    expect(error.message).toMatch(/did not accept the proposal after 4 attempts/);
    expect(error.walk((e: unknown) => e instanceof HubRejectedError)?.status).toBe(503);
    proxy.state.failuresLeft = 0;
  });

  it('refuses a reply whose id is not the signed message id', async () => {
    proxy.state.mode = 'wrong-id';
    const error = await propose().catch((e) => e);
    expect(error).toBeInstanceOf(GovernanceError);
    expect(error.message).toMatch(/replied with id 0x9{64}, expected 0x[0-9a-f]{64}/);
  });

  it('treats a malformed GraphQL reply as an error, not data', async () => {
    proxy.state.mode = 'garbage-graphql';
    const error = await client(0)
      .getProposal(`0x${'1'.repeat(64)}`)
      .catch((e) => e);
    expect(error).toBeInstanceOf(GovernanceError);
    expect(error.message).toMatch(/unexpected shape/);
    proxy.state.mode = 'pass';
  });

  it('validates a proposal before signing', async () => {
    const error = await client(0)
      .propose({
        space: 'treasury.eth',
        title: 'x',
        body: 'b'.repeat(10_001),
        snapshot,
        plugins: '{bad',
        timing: { delay: 60, period: 3600 },
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(GovernanceError);
    expect(error.message).toMatch(/nothing was signed/);
    expect(error.message).toMatch(/10,000 characters/);
    expect(error.message).toMatch(/plugins must be a JSON object/);
  });

  it('prepares a message with its id, sends it, and a resend after a "crash" is recognised as ours', async () => {
    proxy.state.mode = 'pass';
    const proposer = client(0);
    const prepared = await proposer.prepareProposal({
      space: 'treasury.eth',
      title: 'Prepared',
      body: 'b',
      snapshot,
      timing: { delay: 60, period: 3600 },
    });
    const stored = JSON.parse(JSON.stringify(prepared)); // what a ledger keeps
    expect(await proposer.getProposal(prepared.id)).toBeNull();
    const sent = await proposer.send(stored);
    expect(sent).toMatchObject({ id: prepared.id, recovered: false });
    const again = await proposer.send(stored);
    expect(again).toMatchObject({ id: prepared.id, recovered: true });
    expect((await proposer.listProposals('treasury.eth')).filter((p) => p.title === 'Prepared')).toHaveLength(
      1,
    );
    const altered = { ...stored, message: { ...stored.message, body: 'changed' } };
    await expect(proposer.send(altered)).rejects.toThrow(/does not hash to its id/);
    await expect(client(1).send(stored)).rejects.toThrow(/is from 0x/);
  });

  describe('final scores, requested the way snapshot.org does', () => {
    /** What the client slept between scores attempts (a recording sleep: no real waiting). */
    let slept: number[] = [];
    const reader = () =>
      createSnapshotClient({
        hubUrl: proxy.url,
        account: chain.accounts[0]!,
        clock,
        retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 15_000 },
        sleep: async (ms) => {
          slept.push(ms);
        },
      });
    const hubError = (status: number) => ({
      status,
      body: JSON.stringify({ error: status < 500 ? 'client_error' : 'server_error', error_description: 'x' }),
    });

    /** A proposal with one vote (7 For), closed one second ago by the hub's clock. */
    async function closedProposal() {
      proxy.state.mode = 'pass';
      clock.advance(86_400); // a new day: the space's proposals-per-day limit does not bite
      const { id } = await propose();
      clock.advance(61);
      await client(1).vote({ space: 'treasury.eth', proposal: id, choice: 1 });
      const active = await reader().getScores(id);
      expect(active).toMatchObject({ state: 'active', final: false });
      const end = (await reader().getProposal(id))!.end;
      clock.set(end + 1);
      return id;
    }

    it('concludes pending → requested → final, through a 429 with Retry-After and a 503', async () => {
      const id = await closedProposal();
      expect(proxy.state.scoresRequests).toBe(0); // before the end, getScores did not ask
      slept = [];
      holds.length = 0;
      proxy.state.scoresRequests = 0;
      proxy.state.scoresReplies.push(
        { ...hubError(429), headers: { 'retry-after': '3' } },
        { status: 503, body: '<html>unavailable</html>', headers: { 'content-type': 'text/html' } },
      );
      const scores = await reader().getScores(id);
      expect(scores).toMatchObject({
        state: 'closed',
        scoresState: 'final',
        final: true,
        scores: [7, 0, 0],
        scoresTotal: 7,
      });
      expect(proxy.state.scoresRequests).toBe(3);
      expect(slept).toEqual([3000, 2]); // Retry-After honoured, then backoff from 1 ms
      expect(holds).toEqual([59_000]); // the hub held the third request until 60 s after the end
    });

    it('returns final: false without throwing while the hub refuses, and concludes on a later call', async () => {
      const id = await closedProposal();
      const attempt = async (replies: typeof proxy.state.scoresReplies) => {
        slept = [];
        proxy.state.scoresRequests = 0;
        proxy.state.scoresReplies.push(...replies);
        const scores = await reader().getScores(id);
        return { scores, requests: proxy.state.scoresRequests, slept: [...slept] };
      };
      const pending = { state: 'closed', scoresState: 'pending', final: false };
      // Asked to come back later than we wait: stop now (honouring Retry-After), the next call tries again.
      expect(await attempt([{ ...hubError(429), headers: { 'retry-after': '120' } }])).toMatchObject({
        scores: pending,
        requests: 1,
        slept: [],
      });
      // 5xx every time: bounded attempts.
      expect(await attempt(Array(4).fill(hubError(503)))).toMatchObject({
        scores: pending,
        requests: 4,
        slept: [1, 2, 4],
      });
      // "Not yet" ({result: false}) and a failed computation ({error}) are retried like 5xx.
      const notYet = { status: 200, body: '{"result":false}' };
      const failed = { status: 200, body: '{"error":"failed","message":{}}' };
      expect(await attempt([notYet, failed, notYet, notYet])).toMatchObject({ scores: pending, requests: 4 });
      // A hub without the endpoint, or a reply of another shape: not retried (the hub is untrusted).
      expect(await attempt([hubError(404)])).toMatchObject({ scores: pending, requests: 1 });
      expect(await attempt([{ status: 200, body: '{"result":"yes"}' }])).toMatchObject({
        scores: pending,
        requests: 1,
      });
      expect(await attempt([{ status: 200, body: '<html>ok</html>' }])).toMatchObject({
        scores: pending,
        requests: 1,
      });
      // The hub answers: final.
      expect(await attempt([])).toMatchObject({ scores: { final: true, scores: [7, 0, 0] }, requests: 1 });
    });

    it('requestFinalScores asks the hub itself, not the sequencer, and answers false for an unknown id', async () => {
      proxy.state.scoresRequests = 0;
      expect(await reader().requestFinalScores(`0x${'3'.repeat(64)}`)).toBe(false);
      expect(proxy.state.scoresRequests).toBe(4); // {result: false} is "not yet": retried, bounded
      const seen: string[] = [];
      const client = createSnapshotClient({
        hubUrl: 'https://hub.snapshot.org/',
        account: chain.accounts[0]!,
        retry: { attempts: 1 },
        fetch: async (input) => {
          seen.push(String(input));
          return new Response('{"result":true}', { status: 200 });
        },
      });
      expect(await client.requestFinalScores('0xabc')).toBe(true);
      expect(seen).toEqual(['https://hub.snapshot.org/api/scores/0xabc']);
    });
  });
});
