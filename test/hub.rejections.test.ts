import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { viemTypedDataSigner } from '../governance/snapshotClient.ts';
import { Client712 } from '../governance/snapshotProtocol.ts';
import { devSpace, type GovernanceChain, startGovernanceChain } from '../governance/testing.ts';

type Envelope = {
  address: string;
  sig: string;
  data: { domain: object; types: object; message: Record<string, unknown> };
};

/** Client712 that hands back the signed envelope instead of sending it (to tamper with it). */
class CapturingClient extends Client712 {
  override async send(envelope: Envelope) {
    return envelope;
  }
}

/** Every rejection below goes through the real snapshot.js Client712 (or its signed envelope) to the hub. */
describe("local hub: the real sequencer's refusals", () => {
  let chain: GovernanceChain;
  let hub: HubInstance;
  let snapshot: number;
  const clock = manualClock(Math.floor(Date.now() / 1000));
  const DELAY = 60;
  const PERIOD = 3600;

  beforeAll(async () => {
    chain = await startGovernanceChain({ accounts: 5 });
    await chain.mint(chain.accounts[1]!.address, '10');
    snapshot = await chain.blockNumber();
    hub = await startHub({
      spaces: [devSpace(chain, { members: [chain.accounts[1]!.address] })],
      rpcUrl: chain.anvil.rpcUrl,
      dbPath: ':memory:',
      clock,
      onError: () => {},
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await chain?.stop();
  });

  const signer = (i: number) => viemTypedDataSigner(chain.accounts[i]!) as never;
  const address = (i: number) => chain.accounts[i]!.address;

  async function proposalMessage(overrides: Record<string, unknown> = {}) {
    const timestamp = await clock();
    return {
      space: 'treasury.eth',
      timestamp,
      type: 'basic',
      title: 'Rebalance',
      body: 'body',
      discussion: '',
      choices: ['For', 'Against', 'Abstain'],
      labels: [],
      start: timestamp + DELAY,
      end: timestamp + DELAY + PERIOD,
      snapshot,
      plugins: '{}',
      privacy: '',
      app: 'test',
      ...overrides,
    };
  }

  /** Sends with the plain snapshot.js Client712; resolves with the reply or the rejection body. */
  const viaClient712 = (run: (client: InstanceType<typeof Client712>) => Promise<unknown>) =>
    run(new Client712(hub.url)).catch((error: unknown) => error);

  async function post(envelope: unknown) {
    const response = await fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const refusal = (description: string) => ({ error: 'client_error', error_description: description });

  it('accepts a valid proposal, then refuses the very same message as a duplicate', async () => {
    const envelope = (await new CapturingClient(hub.url).proposal(
      signer(0),
      address(0),
      (await proposalMessage()) as never,
    )) as Envelope;
    const first = await post(envelope);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      id: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      relayer: { address: hub.relayer },
    });
    const again = await post(envelope);
    expect(again).toEqual({ status: 400, body: refusal('duplicate message') });
  });

  it('refuses a bad signature and a tampered message', async () => {
    const envelope = (await new CapturingClient(hub.url).proposal(
      signer(0),
      address(0),
      (await proposalMessage({ title: 'Tamper me' })) as never,
    )) as Envelope;
    const flipped =
      envelope.sig.slice(0, 10) + (envelope.sig[10] === 'a' ? 'b' : 'a') + envelope.sig.slice(11);
    expect(await post({ ...envelope, sig: flipped })).toEqual({
      status: 400,
      body: refusal('signature validation failed'),
    });
    const tampered = {
      ...envelope,
      data: { ...envelope.data, message: { ...envelope.data.message, body: 'other' } },
    };
    expect(await post(tampered)).toEqual({ status: 400, body: refusal('signature validation failed') });
    // Signed by account 0 but claiming to be account 1.
    const impostor = {
      ...envelope,
      address: address(1),
      data: { ...envelope.data, message: { ...envelope.data.message, from: address(1) } },
    };
    expect(await post(impostor)).toEqual({ status: 400, body: refusal('signature validation failed') });
  });

  it('refuses a wrong timestamp (10 minutes ahead, 7 days back)', async () => {
    const now = await clock();
    for (const timestamp of [now + 600, now - 7 * 86_400]) {
      const reply = await viaClient712(async (c) =>
        c.proposal(signer(0), address(0), (await proposalMessage({ timestamp })) as never),
      );
      expect(reply).toEqual(refusal('wrong timestamp'));
    }
  });

  it('refuses a non-member proposing in a members-only space, and a body over the limit', async () => {
    expect(
      await viaClient712(async (c) => c.proposal(signer(2), address(2), (await proposalMessage()) as never)),
    ).toEqual(refusal('only space authors can propose'));
    expect(
      await viaClient712(async (c) =>
        c.proposal(signer(0), address(0), (await proposalMessage({ body: 'x'.repeat(10_001) })) as never),
      ),
    ).toEqual(refusal('proposal body length can not exceed 10000 characters'));
    // A member (not admin) may propose; exactly 10,000 characters is fine.
    const ok = (await viaClient712(async (c) =>
      c.proposal(signer(1), address(1), (await proposalMessage({ body: 'y'.repeat(10_000) })) as never),
    )) as { id: string };
    expect(ok.id).toMatch(/^0x/);
  });

  it("applies the space's voting settings and the proposal format", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ choices: ['A', 'B', 'C', 'D'] }, 'wrong choices for basic type voting'],
      [{ type: 'single-choice' }, 'invalid voting type'],
      [{ start: (await clock()) + DELAY + 1 }, 'invalid voting delay'],
      [{ end: (await clock()) + DELAY + PERIOD - 1 }, 'invalid voting period'],
      [{ snapshot: 10_000_000 }, 'invalid snapshot block'],
      [{ title: '' }, 'wrong proposal format'],
      [{ space: 'nope.eth' }, 'unknown space'],
    ];
    for (const [overrides, description] of cases) {
      const reply = await viaClient712(async (c) =>
        c.proposal(signer(0), address(0), (await proposalMessage(overrides)) as never),
      );
      expect([overrides, reply]).toEqual([overrides, refusal(description)]);
    }
    const tooLarge = await viaClient712(async (c) =>
      c.proposal(
        signer(0),
        address(0),
        (await proposalMessage({
          discussion: '',
          plugins: JSON.stringify({ x: 'z'.repeat(100_001) }),
        })) as never,
      ),
    );
    expect(tooLarge).toEqual(refusal('too large message'));
  });

  it('refuses a wrong domain and unknown types', async () => {
    const envelope = (await new CapturingClient(hub.url).proposal(
      signer(0),
      address(0),
      (await proposalMessage({ title: 'Domain' })) as never,
    )) as Envelope;
    expect(
      await post({ ...envelope, data: { ...envelope.data, domain: { name: 'snapshot', version: '0.1.3' } } }),
    ).toEqual({
      status: 400,
      body: refusal('wrong domain'),
    });
    const types = { Proposal: [{ name: 'from', type: 'string' }] };
    expect(await post({ ...envelope, data: { ...envelope.data, types } })).toEqual({
      status: 400,
      body: refusal('wrong types'),
    });
    expect(await post({ ...envelope, extra: 1 })).toEqual({
      status: 400,
      body: refusal('wrong envelope format'),
    });
  });

  it('enforces the vote window, the choice and cancel rights', async () => {
    const created = (await viaClient712(async (c) =>
      c.proposal(signer(0), address(0), (await proposalMessage({ title: 'Window' })) as never),
    )) as { id: string };
    const vote = async (i: number, choice: number) =>
      viaClient712(async (c) =>
        c.vote(signer(i), address(i), {
          space: 'treasury.eth',
          proposal: created.id,
          choice,
          timestamp: await clock(),
          type: 'basic',
        } as never),
      );
    expect(await vote(1, 1)).toEqual(refusal('not in voting window'));
    clock.advance(DELAY);
    expect(await vote(1, 4)).toEqual(refusal('invalid choice'));
    expect(await vote(2, 1)).toEqual(refusal('no voting power'));
    expect(((await vote(1, 1)) as { id: string }).id).toMatch(/^0x/);
    expect(
      await viaClient712(async (c) =>
        c.vote(signer(1), address(1), {
          space: 'treasury.eth',
          proposal: `0x${'0'.repeat(64)}`,
          choice: 1,
          timestamp: await clock(),
        } as never),
      ),
    ).toEqual(refusal('unknown proposal'));
    clock.advance(PERIOD + 1);
    expect(await vote(1, 2)).toEqual(refusal('not in voting window'));

    const cancel = (i: number) =>
      viaClient712(async (c) =>
        c.cancelProposal(signer(i), address(i), {
          space: 'treasury.eth',
          proposal: created.id,
          timestamp: await clock(),
        } as never),
      );
    expect(await cancel(2)).toEqual(refusal('not authorized to archive proposal'));
    expect(((await cancel(0)) as { id: string }).id).toMatch(/^0x/);
    const graph = await fetch(hub.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ proposal(id: "${created.id}") { id } }` }),
    });
    expect(await graph.json()).toEqual({ data: { proposal: null } });
  });

  it('lets the author (only) edit a proposal before its start; the id stays', async () => {
    const created = (await viaClient712(async (c) =>
      c.proposal(
        signer(0),
        address(0),
        (await proposalMessage({ title: 'Editable', plugins: '{"a":1}' })) as never,
      ),
    )) as { id: string };
    const edit = (i: number, plugins: string) =>
      viaClient712(async (c) =>
        c.updateProposal(signer(i), address(i), {
          proposal: created.id,
          space: 'treasury.eth',
          timestamp: await clock(),
          type: 'basic',
          title: 'Edited',
          body: 'new body',
          discussion: '',
          choices: ['For', 'Against', 'Abstain'],
          labels: [],
          plugins,
        } as never),
      );
    expect(await edit(1, '{"b":2}')).toEqual(refusal('Not the author'));
    expect(((await edit(0, '{"b":2}')) as { id: string }).id).toMatch(/^0x/);
    const graph = await fetch(hub.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ proposal(id: "${created.id}") { id title body plugins updated } }` }),
    });
    expect(await graph.json()).toEqual({
      data: {
        proposal: {
          id: created.id,
          title: 'Edited',
          body: 'new body',
          plugins: { b: 2 },
          updated: await clock(),
        },
      },
    });
    clock.advance(DELAY + 1);
    expect(await edit(0, '{"c":3}')).toEqual(refusal('proposal already started'));
    clock.advance(-(DELAY + 1));
  });

  it('limits first and skip like hub.snapshot.org', async () => {
    const query = async (q: string) =>
      (await (
        await fetch(hub.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: q }),
        })
      ).json()) as { errors?: { message: string }[] };
    expect((await query('{ proposals(first: 1001) { id } }')).errors?.[0]?.message).toBe(
      'The `first` argument must not be greater than 1000',
    );
    expect((await query('{ votes(skip: 5001) { id } }')).errors?.[0]?.message).toBe(
      'The `skip` argument must not be greater than 5000',
    );
    expect((await query('{ proposals { nope } }')).errors?.[0]?.message).toMatch(/Cannot query field "nope"/);
  });
});
