import { buildSchema, getIntrospectionQuery, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import { HUB_SCHEMA_SDL } from '../governance/hub/graphql.ts';
import { memoryHubChain } from '../governance/hub/memoryHub.ts';
import { QUERY_LIMITS, queryCostError } from '../governance/hub/queryCost.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { PROPOSAL_FIELDS, SPACE_FIELDS, VOTE_FIELDS } from '../governance/hubReplies.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { devAccount, devSpace } from '../governance/testing.ts';

type Reply = { status: number; body: { data?: Record<string, unknown>; errors?: { message: string }[] } };

const aliases = (n: number, field: (i: number) => string) =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field(i)}`).join(' ')} }`;
const tooCostly = (items: string) =>
  `query too costly: ${items} items requested (limit 10,000); lower "first" or use fewer aliases`;

/** A real hub over HTTP: what a costly query gets back, and that the agent's own queries still work. */
describe('local hub: the cost of one GraphQL query', () => {
  const token = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
  const chain = memoryHubChain(31337);
  const clock = manualClock(1_800_000_000);
  let hub: HubInstance;
  let proposal: string;

  const post = async (query: string, variables?: unknown): Promise<Reply> => {
    const response = await fetch(hub.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as Reply['body'] };
  };
  const refusal = async (query: string, variables?: unknown) => {
    const reply = await post(query, variables);
    expect(reply.status, query.slice(0, 80)).toBe(400);
    expect(reply.body.data).toBeUndefined();
    expect(reply.body.errors).toHaveLength(1);
    return reply.body.errors?.[0]?.message;
  };

  beforeAll(async () => {
    chain.setBalance(token, devAccount(1).address, 5n);
    chain.mine();
    hub = await startHub({
      spaces: [devSpace({ anvil: { chainId: 31337 }, token, decimals: 0, accounts: [devAccount(0)] })],
      rpcUrl: 'http://unused.invalid',
      chain,
      dbPath: ':memory:',
      clock,
      onError: () => {},
    });
    const author = createSnapshotClient({ hubUrl: hub.url, account: devAccount(0), clock });
    proposal = (
      await author.propose({
        space: 'treasury.eth',
        title: 'Rebalance',
        body: 'b',
        snapshot: 1,
        timing: { delay: 60, period: 3600 },
      })
    ).id;
    clock.advance(60);
    const voter = createSnapshotClient({ hubUrl: hub.url, account: devAccount(1), clock });
    await voter.vote({ space: 'treasury.eth', proposal, choice: 1 });
  });
  afterAll(() => hub?.stop());

  it("answers the agent's own queries: proposals pages, votes(first: 1000) pages, the space", async () => {
    const client = createSnapshotClient({ hubUrl: hub.url, account: devAccount(0), clock });
    expect(
      (await client.listProposals('treasury.eth', { first: 100, state: 'all' })).map((p) => p.id),
    ).toEqual([proposal]);
    expect((await client.getVotes(proposal)).map((v) => v.voter)).toEqual([devAccount(1).address]);
    expect((await client.getSpace('treasury.eth'))?.id).toBe('treasury.eth');
    for (const query of [
      `{ proposals(first: 100, where: { space: "treasury.eth" }) { ${PROPOSAL_FIELDS} } }`,
      `{ votes(first: 1000, skip: 0, where: { proposal: "${proposal}" }) { ${VOTE_FIELDS} } }`,
      `{ space(id: "treasury.eth") { ${SPACE_FIELDS} } }`,
      // Up to the limit exactly: 10 pages of 1000.
      aliases(10, () => 'votes(first: 1000) { id }'),
      `{ votes(first: 10) { id voter space { id name } proposal { id state scores votes space { id } } } }`,
      `{ votes { proposal { space { strategies { params } } } } }`,
      getIntrospectionQuery(),
    ]) {
      const reply = await post(query);
      expect(reply.status, query.slice(0, 80)).toBe(200);
      expect(reply.body.errors, query.slice(0, 80)).toBeUndefined();
    }
  });

  it('refuses aliases × list sizes over 10,000 items, saying how many and what to do', async () => {
    expect(await refusal(aliases(21, () => 'votes(first: 1000) { id }'))).toBe(tooCostly('21,000'));
    expect(await refusal(aliases(11, () => 'votes(first: 1000) { id }'))).toBe(tooCostly('11,000'));
    // The default page (20) counts too, and every root call counts at least one.
    const pages = Array.from({ length: 9 }, (_, i) => `p${i}: votes(first: 1000) { id }`).join(' ');
    expect(await refusal(`{ ${pages} ${aliases(51, () => 'votes { id }').slice(1, -1)} }`)).toBe(
      tooCostly('10,020'),
    );
    expect(
      await refusal(
        aliases(10, () => 'votes(first: 1000) { id }').replace('}', '} z: votes(first: 0) { id }'),
      ),
    ).toBe(tooCostly('10,001'));
    // A proposal's space is one more item each: 5 pages of 1000 with their space fit, 6 do not.
    expect((await post(aliases(5, () => 'proposals(first: 1000) { id space { id } }'))).status).toBe(200);
    expect(await refusal(aliases(6, () => 'proposals(first: 1000) { id space { id } }'))).toBe(
      tooCostly('12,000'),
    );
  });

  it('counts nested fan-out: per-row lookups, counts, row lists and nested aliases', async () => {
    expect(
      await refusal(
        '{ votes(first: 1000) { proposal { space { proposalsCount votesCount strategies { name } } } } }',
      ),
    ).toBe(tooCostly('13,000'));
    expect(
      await refusal(
        `{ votes(first: 1000) { ${Array.from({ length: 10 }, (_, i) => `p${i}: proposal { id }`).join(' ')} } }`,
      ),
    ).toBe(tooCostly('11,000'));
    expect(
      await refusal('{ proposals(first: 1000) { space { votesCount proposalsCount strategies { name } } } }'),
    ).toBe(tooCostly('12,000'));
  });

  it('counts variables, fragments (each use) and inline fragments', async () => {
    const byVariable = `query Pages($n: Int!) ${aliases(11, () => 'votes(first: $n) { id }')}`;
    expect(await refusal(byVariable, { n: 1000 })).toBe(tooCostly('11,000'));
    expect((await post(byVariable, { n: 10 })).status).toBe(200);
    // A default counts when the variable is left out.
    const byDefault = `query Pages($n: Int = 1000) ${aliases(11, () => 'votes(first: $n) { id }')}`;
    expect(await refusal(byDefault)).toBe(tooCostly('11,000'));
    expect((await post(byDefault, { n: 1 })).status).toBe(200);
    expect(
      await refusal(
        `${aliases(6, () => 'votes(first: 1000) { ...WithProposal }')} fragment WithProposal on Vote { id proposal { id } }`,
      ),
    ).toBe(tooCostly('12,000'));
    expect(
      await refusal(`${aliases(6, () => 'votes(first: 1000) { ... on Vote { proposal { id } } }')}`),
    ).toBe(tooCostly('12,000'));
    // Fragments multiply across levels: 1000 votes × 20 proposals × 20 spaces × 20 × 8 strategies.
    const S = `fragment S on Space { ${Array.from({ length: 20 }, (_, i) => `s${i}: strategies { name }`).join(' ')} }`;
    const P = `fragment P on Proposal { ${Array.from({ length: 20 }, (_, i) => `p${i}: space { ...S }`).join(' ')} }`;
    const V = `{ votes(first: 1000) { ${Array.from({ length: 20 }, (_, i) => `v${i}: proposal { ...P }`).join(' ')} } }`;
    expect(await refusal(`${V} ${P} ${S}`)).toBe(
      tooCostly((1000 * (1 + 20 * (1 + 20 * (1 + 20 * 8)))).toLocaleString('en-US')),
    );
    // A fragment spread twice into one selection is collected once by graphql-js, and counted once: sixty
    // fragments that each spread the next twice stay cheap, and so does counting them.
    const doubling = Array.from(
      { length: 60 },
      (_, i) => `fragment F${i} on Vote { a: proposal { id } ...F${i + 1} ...F${i + 1} }`,
    ).join(' ');
    const reply = await post(`{ votes(first: 1) { ...F0 } } ${doubling} fragment F60 on Vote { id }`);
    expect(reply.status).toBe(200);
    expect(reply.body.data).toEqual({ votes: [expect.objectContaining({ id: expect.any(String) })] });
  });

  it('counts introspection by what it would really return', async () => {
    const types = (n: number) =>
      `{ __schema { ${aliases(n, () => 'types { fields { args { name } } }').slice(1, -1)} } }`;
    expect((await post(types(2))).status).toBe(200);
    expect(await refusal(types(100))).toBe(tooCostly('more than 10,000'));
  });

  it("refuses a query deeper than 5, like hub.snapshot.org (graphql-depth-limit's message)", async () => {
    expect(
      await refusal('query Deep { votes { proposal { space { strategies { params { a { b } } } } } } }'),
    ).toBe("'Deep' exceeds maximum operation depth of 5");
    expect(
      await refusal(
        '{ votes { ...P } } fragment P on Vote { proposal { space { strategies { x { y { z } } } } } }',
      ),
    ).toBe("'' exceeds maximum operation depth of 5");
  });

  it('refuses more than 5 operations in one document, like hub.snapshot.org', async () => {
    const six = Array.from({ length: 6 }, (_, i) => `query Q${i} { votes(first: 1) { id } }`).join(' ');
    expect(await refusal(six)).toBe('The request exceeds the maximum number of query: 5');
  });

  it('stops parsing past 2,000 tokens, before any validation', async () => {
    const long = aliases(400, (i) => `vote(id: "${i}") { id }`);
    expect(await refusal(long)).toMatch(
      /^Syntax Error: Document contains more tha[nt] 2000 tokens\. Parsing aborted\.$/,
    );
  });

  it("refuses long *_in lists and negative pages with hub.snapshot.org's messages", async () => {
    const voters = JSON.stringify(Array.from({ length: 101 }, (_, i) => `0x${String(i).padStart(40, '0')}`));
    const reply = await post(`{ votes(where: { voter_in: ${voters} }) { id } }`);
    expect(reply.body.errors?.[0]?.message).toBe('The `voter_in` argument must not be greater than 100');
    const fine = await post(
      `{ votes(where: { voter_in: ${JSON.stringify(JSON.parse(voters).slice(1))} }) { id } }`,
    );
    expect(fine.body.errors).toBeUndefined();
    expect((await post('{ votes(first: -1) { id } }')).body.errors?.[0]?.message).toBe(
      'The `first` argument must be positive',
    );
    expect((await post('{ proposals(skip: -1) { id } }')).body.errors?.[0]?.message).toBe(
      'The `skip` argument must be positive',
    );
  });

  it('refuses the same way over GET', async () => {
    const url = new URL(hub.graphqlUrl);
    url.searchParams.set(
      'query',
      aliases(21, () => 'votes(first: 1000) { id }'),
    );
    const response = await fetch(url);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ errors: [{ message: tooCostly('21,000') }] });
  });
});

describe('queryCostError', () => {
  const schema = buildSchema(HUB_SCHEMA_SDL);
  const cost = (query: string, variables?: Record<string, unknown>) =>
    queryCostError(schema, parse(query), variables)?.message;

  it('a `first` above the page limit counts as the limit: that limit refuses it with its own message', () => {
    expect(cost('{ votes(first: 100000) { id } }')).toBeUndefined();
    expect(cost(aliases(11, () => 'votes(first: 100000) { id }'))).toBe(tooCostly('11,000'));
  });

  it('has the limits it documents', () => {
    expect(QUERY_LIMITS).toEqual({
      maxFirst: 1000,
      maxOperations: 5,
      maxDepth: 5,
      maxItems: 10_000,
      maxTokens: 2000,
    });
  });
});
