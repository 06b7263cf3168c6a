import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import { memoryHubChain } from '../governance/hub/memoryHub.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { viemTypedDataSigner } from '../governance/snapshotClient.ts';
import { Client712 } from '../governance/snapshotProtocol.ts';
import { devAccount, devSpace } from '../governance/testing.ts';

/**
 * Where the project's hub answered differently from the open-source snapshot-sequencer and snapshot-hub given
 * the same signed envelopes (/work/shared/SNAPSHOT.md, "Differences found"): each case as the real services
 * answer it (snapshot-sequencer src/ingestor.ts, src/helpers/alias.ts, src/writer/*.ts,
 * src/helpers/duplicateRequestPreventor.ts; snapshot-hub src/graphql/helpers.ts, src/graphql/schema.gql).
 */

type Envelope = {
  address: string;
  sig: string;
  data: { domain: object; types: object; message: Record<string, unknown> };
};

/** Client712 that hands back the signed envelope instead of sending it. */
class CapturingClient extends Client712 {
  override async send(envelope: Envelope) {
    return envelope;
  }
}

const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const refusal = (description: string) => ({ error: 'client_error', error_description: description });

describe('local hub: the differences from the real sequencer and hub, fixed', () => {
  const chain = memoryHubChain(31337);
  const clock = manualClock(1_800_000_000);
  /** Gates `blockExists` (a proposal's snapshot check) while set: a request stays in flight until released. */
  let gate: Promise<void> | undefined;
  const blockExists = chain.blockExists;
  chain.blockExists = async (block) => {
    await gate;
    return blockExists(block);
  };
  let hub: HubInstance;
  const errors: unknown[] = [];
  const base = devSpace({ anvil: { chainId: 31337 }, token: TOKEN, decimals: 0, accounts: [devAccount(0)] });

  beforeAll(async () => {
    chain.setBalance(TOKEN, devAccount(1).address, 5n);
    chain.mine();
    hub = await startHub({
      spaces: [
        { ...base, id: 'diffb.eth' },
        {
          ...base,
          id: 'nodelay.eth',
          filters: { onlyMembers: false },
          voting: { delay: 0, period: 3600, type: 'basic', quorum: 0, privacy: 'any' },
        },
        { ...base, id: 'private.eth', voting: { ...base.voting, privacy: '' } },
      ],
      rpcUrl: 'http://unused.invalid',
      chain,
      dbPath: ':memory:',
      clock,
      limits: { perDay: 100 },
      onError: (error) => errors.push(error),
    });
  });
  afterAll(async () => {
    await hub?.stop();
    expect(errors).toEqual([]); // no request was answered with HTTP 500
  });

  const signer = (i: number) => viemTypedDataSigner(devAccount(i)) as never;
  const address = (i: number) => devAccount(i).address;
  let titles = 0;

  async function proposalMessage(overrides: Record<string, unknown> = {}) {
    const timestamp = await clock();
    return {
      space: 'diffb.eth',
      timestamp,
      type: 'basic',
      title: `Proposal ${++titles}`,
      body: 'body',
      discussion: '',
      choices: ['For', 'Against', 'Abstain'],
      labels: [],
      start: timestamp + 60,
      end: timestamp + 3660,
      snapshot: 1,
      plugins: '{}',
      privacy: '',
      app: 'test',
      ...overrides,
    };
  }

  /** Timing for nodelay.eth: start at the timestamp, one period. */
  const noDelay = async () => ({
    space: 'nodelay.eth',
    start: await clock(),
    end: (await clock()) + 3600,
  });

  const capture = async (overrides: Record<string, unknown> = {}, i = 0) =>
    (await new CapturingClient(hub.url).proposal(
      signer(i),
      address(i),
      (await proposalMessage(overrides)) as never,
    )) as Envelope;

  async function post(body: unknown, contentType = 'application/json') {
    const response = await fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, type: response.headers.get('content-type'), text, json };
  }

  async function graphql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>) {
    const response = await fetch(hub.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: T; errors?: { message: string }[] };
  }

  it('two copies of one message at the same moment: one 200, the rest HTTP 425', async () => {
    const envelope = await capture();
    let release!: () => void;
    gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Whichever copy arrives first waits at the gate (its snapshot-block check) until the three others have
    // been answered: they all arrive while it is in flight, however slow the machine.
    let answered = 0;
    const replies = await Promise.all(
      Array.from({ length: 4 }, () =>
        post(envelope).then((reply) => {
          if (++answered === 3) release();
          return reply;
        }),
      ),
    );
    gate = undefined;
    expect(replies.map((r) => r.status).sort()).toEqual([200, 425, 425, 425]);
    expect(replies.filter((r) => r.status === 425).map((r) => r.json)).toEqual(
      Array(3).fill(refusal('request already being processed')),
    );
    // The same body with other whitespace is the same request (the sequencer keys on the parsed JSON).
    expect((await post(JSON.stringify(envelope, null, 2))).json).toEqual(refusal('duplicate message'));
  });

  it('space ids: an invalid ENS name is refused, ids are case-insensitive', async () => {
    expect((await post(await capture({ space: 'bad..eth' }))).json).toEqual(refusal('Invalid space id'));
    const upper = await post(await capture({ space: 'DIFFB.ETH' }));
    expect(upper.status).toBe(200);
    const id = (upper.json as { id: string }).id;
    const found = await graphql<{ proposal: { space: { id: string } }; proposals: { id: string }[] }>(
      `{ proposal(id: "${id}") { space { id } } proposals(first: 1000, where: { space: "DIFFB.ETH" }) { id } }`,
    );
    expect(found.data?.proposal.space.id).toBe('diffb.eth');
    expect(found.data?.proposals.map((p) => p.id)).toContain(id);
    expect((await graphql('{ space(id: "DiffB.eth") { id } }')).data).toEqual({ space: { id: 'diffb.eth' } });
  });

  it('a typed field removed or of the wrong shape after signing: signature validation failed, never a 500', async () => {
    const envelope = await capture();
    const { title: _title, ...withoutTitle } = envelope.data.message;
    const variants = [
      withoutTitle,
      { ...envelope.data.message, choices: 'For' },
      { ...envelope.data.message, start: 'soon' },
      { ...envelope.data.message, labels: [1, { x: 2 }] },
    ];
    for (const message of variants) {
      const reply = await post({ ...envelope, data: { ...envelope.data, message } });
      expect([reply.status, reply.json]).toEqual([400, refusal('signature validation failed')]);
    }
  });

  it('message.from other than the envelope address: wrong alias', async () => {
    const envelope = await capture();
    const reply = await post({
      ...envelope,
      data: { ...envelope.data, message: { ...envelope.data.message, from: address(1) } },
    });
    expect([reply.status, reply.json]).toEqual([400, refusal('wrong alias')]);
  });

  it("a body that is not JSON: HTTP 400 with Express' error page", async () => {
    for (const body of ['{not json', 'null', '"text"', '12']) {
      const reply = await post(body);
      expect([body, reply.status, reply.type]).toEqual([body, 400, 'text/html; charset=utf-8']);
      expect(reply.text).toContain('<pre>Bad Request</pre>');
    }
    // Not declared as JSON: the body is not parsed at all (Express leaves {}), so the envelope is wrong.
    expect((await post('{not json', 'text/plain')).json).toEqual(refusal('wrong envelope format'));
    expect((await post('')).json).toEqual(refusal('wrong envelope format'));
  });

  it('update-proposal has no body-length limit', async () => {
    const created = (await post(await capture())).json as { id: string };
    const edited = (await new Client712(hub.url).updateProposal(signer(0), address(0), {
      proposal: created.id,
      space: 'diffb.eth',
      timestamp: await clock(),
      type: 'basic',
      title: 'Long',
      body: 'x'.repeat(20_000),
      discussion: '',
      choices: ['For', 'Against', 'Abstain'],
      labels: [],
      plugins: '{}',
      privacy: '',
    } as never)) as { id: string };
    expect(edited.id).toMatch(/^0x[0-9a-f]{64}$/);
    const read = await graphql<{ proposal: { body: string } }>(`{ proposal(id: "${created.id}") { body } }`);
    expect(read.data?.proposal.body).toHaveLength(20_000);
  });

  it('a proposal id with whitespace: proposal cannot contain whitespace', async () => {
    const reply = await new Client712(hub.url)
      .vote(signer(1), address(1), {
        space: 'diffb.eth',
        proposal: '0xabc def',
        choice: 1,
        timestamp: await clock(),
      } as never)
      .catch((error: unknown) => error);
    expect(reply).toEqual(refusal('proposal cannot contain whitespace'));
  });

  it('GraphQL: quorumType, scores before votes, author in any case, space voting defaults, types', async () => {
    const created = (await post(await capture({ ...(await noDelay()) }))).json as {
      id: string;
    };
    const read = await graphql<{
      proposal: {
        quorumType: string;
        scores: number[];
        scores_total: number;
        labels: string[];
        privacy: string;
      };
    }>(`{ proposal(id: "${created.id}") { quorumType scores scores_total labels privacy } }`);
    expect(read.data?.proposal).toEqual({
      quorumType: 'default',
      scores: [],
      scores_total: 0,
      labels: [],
      privacy: '',
    });

    const byAuthor = await graphql<{ proposals: { id: string }[] }>(
      `{ proposals(first: 1000, where: { author: "${address(0).toLowerCase()}" }) { id } }`,
    );
    expect(byAuthor.data?.proposals.map((p) => p.id)).toContain(created.id);
    const byAuthorIn = await graphql<{ proposals: { id: string }[] }>(
      `{ proposals(first: 1000, where: { author_in: ["${address(0).toUpperCase().replace('0X', '0x')}"] }) { id } }`,
    );
    expect(byAuthorIn.data?.proposals.map((p) => p.id)).toContain(created.id);
    expect((await graphql('{ proposals(where: { author: "0x12" }) { id } }')).errors?.[0]?.message).toBe(
      'Invalid addresses in author',
    );

    const spaces = await graphql<{ a: { voting: unknown }; b: { voting: unknown } }>(
      `{ a: space(id: "nodelay.eth") { voting { delay period quorum quorumType privacy } }
         b: space(id: "diffb.eth") { voting { delay period quorum quorumType privacy } } }`,
    );
    expect(spaces.data).toEqual({
      a: { voting: { delay: null, period: 3600, quorum: null, quorumType: 'default', privacy: 'any' } },
      b: { voting: { delay: 60, period: 3600, quorum: 100, quorumType: 'default', privacy: '' } },
    });

    const types = await graphql<{
      query: { fields: { name: string; args: { name: string; type: unknown }[] }[] };
      proposal: { fields: { name: string; type: unknown }[] };
      voting: { fields: { name: string; type: unknown }[] };
    }>(`{
      query: __type(name: "Query") { fields { name args { name type { kind ofType { name } } } } }
      proposal: __type(name: "Proposal") { fields { name type { kind ofType { kind ofType { name } } } } }
      voting: __type(name: "SpaceVoting") { fields { name type { kind ofType { name } } } }
    }`);
    const field = (list: { name: string }[] | undefined, name: string) => list?.find((f) => f.name === name);
    expect((field(types.data?.query.fields, 'proposal') as { args: unknown[] } | undefined)?.args).toEqual([
      { name: 'id', type: { kind: 'NON_NULL', ofType: { name: 'String' } } },
    ]);
    expect(field(types.data?.proposal.fields, 'labels')).toEqual({
      name: 'labels',
      type: { kind: 'NON_NULL', ofType: { kind: 'LIST', ofType: { name: 'String' } } },
    });
    expect(field(types.data?.proposal.fields, 'quorumType')).toEqual({
      name: 'quorumType',
      type: { kind: 'NON_NULL', ofType: { kind: 'SCALAR', ofType: null } },
    });
    expect(field(types.data?.voting.fields, 'quorumType')).toEqual({
      name: 'quorumType',
      type: { kind: 'NON_NULL', ofType: { name: 'String' } },
    });
  });

  it("the space's privacy setting: read back as set, and a proposal must use it unless it is 'any'", async () => {
    const voting = await graphql<Record<string, { voting: { privacy: string } }>>(
      `{ a: space(id: "nodelay.eth") { voting { privacy } } b: space(id: "private.eth") { voting { privacy } }
         c: space(id: "diffb.eth") { voting { privacy } } }`,
    );
    expect(voting.data).toEqual({
      a: { voting: { privacy: 'any' } },
      b: { voting: { privacy: '' } },
      c: { voting: { privacy: '' } },
    });
    expect((await post(await capture({ space: 'private.eth', privacy: 'shutter' }))).json).toEqual(
      refusal('not allowed to set privacy'),
    );
    const created = (await post(await capture({ ...(await noDelay()), privacy: 'shutter' }))).json as {
      id: string;
    };
    const read = await graphql<{ proposal: { privacy: string } }>(
      `{ proposal(id: "${created.id}") { privacy } }`,
    );
    expect(read.data?.proposal.privacy).toBe('shutter');
  });

  it('proposal state as hub.snapshot.org computes it: pending at the start second, active at the end second', async () => {
    const created = (await post(await capture())).json as { id: string };
    const state = async () =>
      (
        await graphql<{ proposal: { state: string; start: number; end: number } }>(
          `{ proposal(id: "${created.id}") { state start end } }`,
        )
      ).data!.proposal;
    const { start, end } = await state();
    const now = await clock();
    const at = async (t: number) => {
      clock.set(t);
      return (await state()).state;
    };
    expect([await at(start), await at(start + 1), await at(end), await at(end + 1)]).toEqual([
      'pending',
      'active',
      'active',
      'closed',
    ]);
    clock.set(now);
  });
});
