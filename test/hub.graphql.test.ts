import { parse } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { manualClock } from '../governance/clock.ts';
import { createHubGraphql } from '../governance/hub/graphql.ts';
import { leanExecute } from '../governance/hub/leanExecute.ts';
import { parseSpaces } from '../governance/hub/spaces.ts';
import { HubStore, type ProposalRow } from '../governance/hub/store.ts';

const SPACE = parseSpaces([
  {
    id: 'treasury.eth',
    name: 'Treasury DAO',
    network: '31337',
    admins: ['0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'],
    members: [],
    filters: { onlyMembers: true },
    voting: { delay: 60, period: 3600, type: 'basic', quorum: 100 },
    strategies: [
      {
        name: 'erc20-balance-of',
        params: { address: '0x5FbDB2315678afecb367f032d93F642f64180aa3', decimals: 18, symbol: 'GOV' },
      },
    ],
  },
]);

function proposalRow(id: string, created: number): ProposalRow {
  return {
    id,
    ipfs: `bafk${id}`,
    author: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
    created,
    updated: 0,
    space: 'treasury.eth',
    network: '31337',
    symbol: 'GOV',
    type: 'basic',
    strategies: JSON.stringify([
      {
        name: 'erc20-balance-of',
        network: '31337',
        params: { address: '0x5FbDB2315678afecb367f032d93F642f64180aa3', decimals: 18, symbol: 'GOV' },
      },
    ]),
    plugins: '{"treasuryAgent":{"nonce":3}}',
    title: `Proposal ${id}`,
    body: 'body',
    discussion: '',
    choices: '["For","Against","Abstain"]',
    labels: '[]',
    start: created + 60,
    end: created + 3660,
    quorum: 100,
    quorum_type: '',
    privacy: '',
    snapshot: 12,
    app: 'treasury-agent',
    scores: '[]',
    scores_by_strategy: '[]',
    scores_state: 'pending',
    scores_total: 0,
    scores_updated: 0,
    votes: 0,
  };
}

describe('hub GraphQL lean execution', () => {
  const store = new HubStore(':memory:');
  afterAll(() => store.close());
  const clock = manualClock(1_700_000_000);
  const message = (id: string) => ({
    id,
    ipfs: `bafk${id}`,
    address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
    version: '0.1.4',
    timestamp: 1_700_000_000,
    space: 'treasury.eth',
    type: 'proposal',
    sig: '0x',
    receipt: '0x',
  });
  store.addProposal(proposalRow('0xp1', 1_700_000_000 - 100), message('0xp1'));
  store.addProposal(proposalRow('0xp2', 1_700_000_000 - 50), message('0xp2'));
  for (let i = 0; i < 60; i++) {
    const id = `0xv${String(i).padStart(3, '0')}`;
    const vp = i % 7 === 0 ? 0.1 + i : 1 + i * 2.5;
    store.addVote(
      {
        id,
        ipfs: `bafk${id}`,
        voter: `0x${String(i).padStart(40, '0')}`,
        created: 1_700_000_000 - 40 + (i % 9),
        space: 'treasury.eth',
        proposal: i % 4 ? '0xp1' : '0xp2',
        choice: String((i % 3) + 1),
        metadata: i % 5 ? '{}' : '{"note":[1,"x"]}',
        reason: i % 2 ? 'because' : '',
        app: i % 3 ? '' : 'snapshot',
        vp,
        vp_by_strategy: JSON.stringify([vp]),
        vp_state: 'final',
      },
      { ...message(id), type: 'vote' },
      (i % 3) + 1,
      [vp],
    );
  }
  const lean = createHubGraphql({ store, spaces: SPACE, clock });
  const reference = createHubGraphql({ store, spaces: SPACE, clock, lean: false });

  const requests: { query: string; variables?: unknown; operationName?: string }[] = [
    {
      query: `{ votes(first: 1000, where: { proposal: "0xp1" }, orderBy: "created", orderDirection: desc) { id ipfs voter created choice vp vp_by_strategy vp_state reason app } }`,
    },
    {
      query: `query Votes($proposal: String!, $skip: Int!) { votes(first: 10, skip: $skip, where: { proposal: $proposal }, orderBy: "vp", orderDirection: asc) { id voter vp choice metadata created space { id name } proposal { id state scores votes } } }`,
      variables: { proposal: '0xp2', skip: 2 },
      operationName: 'Votes',
    },
    {
      query: `{ proposal(id: "0xp1") { id ipfs state type choices scores scores_by_strategy scores_total scores_state scores_updated quorum quorumType votes end snapshot network author updated plugins strategies { name network params } space { id } } }`,
    },
    {
      query: `{ proposals(first: 20, where: { space: "treasury.eth" }, orderBy: "created", orderDirection: desc) { id ipfs title body choices start end snapshot state author created updated type app plugins scores_state space { id } } }`,
    },
    {
      query: `query Space($id: String!) { space(id: $id) { id name network symbol admins moderators members filters { minScore onlyMembers } strategies { name network params } voting { delay period type quorum quorumType blind hideAbstain privacy aliased } proposalsCount votesCount } }`,
      variables: { id: 'treasury.eth' },
    },
    {
      query: `{ a: votes(first: 2) { __typename key: id } b: vote(id: "0xv004") { id choice } c: vote(id: "none") { id } }`,
    },
    { query: `{ spaces { id } proposals(where: { state: "active" }) { id state } }` },
    // Everything below must come back from graphql-js, errors included.
    { query: `{ votes(first: 1001) { id } }` },
    { query: `{ votes(skip: 5001) { id } }` },
    { query: `{ votes(orderBy: "voter") { id } }` },
    { query: `{ proposals(where: { state: "soon" }) { id } }` },
    { query: `query V($n: Int!) { votes(first: $n) { id } }`, variables: { n: 'ten' } },
    { query: `query V($n: Int!) { votes(first: $n) { id } }` },
    { query: `query V($n: Int!) { votes(first: $n) { id } }`, variables: { n: 3 }, operationName: 'Other' },
    { query: `query A { votes(first: 1) { id } } query B { votes(first: 2) { id } }`, operationName: 'B' },
    { query: `{ votes(first: 2) { ...F } } fragment F on Vote { id vp }` },
    { query: `{ votes(first: 2) { id @include(if: false) vp } }` },
    { query: `{ votes(first: 2) { id id vp } }` },
    { query: `{ __typename votes(first: 1) { id } }` },
    { query: `{ __schema { queryType { name } } }` },
    { query: `{ votes { nope } }` },
    { query: `{ votes(first: 1) { id }` },
    { query: '' },
    // Refused before either executor runs: cost, depth, operations.
    { query: `{ ${Array.from({ length: 11 }, (_, i) => `a${i}: votes(first: 1000) { id }`).join(' ')} }` },
    {
      query: `query P($n: Int!) { ${Array.from({ length: 6 }, (_, i) => `a${i}: votes(first: $n) { proposal { id } }`).join(' ')} }`,
      variables: { n: 1000 },
    },
    { query: `{ votes { proposal { space { strategies { params { a { b } } } } } } }` },
    { query: Array.from({ length: 6 }, (_, i) => `query Q${i} { votes(first: 1) { id } }`).join(' ') },
  ];

  it('refuses costly queries the same on both paths, before executing', async () => {
    for (const request of requests.slice(-4)) {
      const reply = await lean.run(request);
      expect(reply.status).toBe(400);
      expect(reply.body.errors?.[0]?.message).toMatch(/^(query too costly|'' exceeds|The request exceeds)/);
    }
  });

  it('answers exactly like graphql-js (data and errors)', async () => {
    for (const time of [1_700_000_000, 1_700_000_000 + 7200]) {
      clock.set(time);
      for (const request of requests) {
        const expected = JSON.stringify(await reference.run(request));
        expect(JSON.stringify(await lean.run(request)), request.query).toBe(expected);
      }
    }
  });

  it('takes the plain queries itself and leaves the rest to graphql-js', () => {
    const handled = requests.slice(0, 13).map((request) =>
      Boolean(
        leanExecute({
          schema: lean.schema,
          document: parse(request.query),
          rootValue: lean.root,
          contextValue: { now: 1_700_000_000 },
          variableValues: request.variables,
          operationName: request.operationName,
        }),
      ),
    );
    expect(handled).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('group commits: a failing message rolls back only its own writes', async () => {
    const before = store.getProposal('0xp2')!.votes;
    const vote = (id: string, voter: string) => ({
      id,
      ipfs: `bafk${id}`,
      voter,
      created: 1_700_000_000,
      space: 'treasury.eth',
      proposal: '0xp2',
      choice: '1',
      metadata: '{}',
      reason: '',
      app: '',
      vp: 5,
      vp_by_strategy: '[5]',
      vp_state: 'final',
    });
    const results = await Promise.allSettled([
      store.commit(() => store.addVote(vote('0xg1', '0xg1'), { ...message('0xg1'), type: 'vote' }, 1, [5])),
      store.commit(() => {
        store.addVote(vote('0xg2', '0xg2'), { ...message('0xg2'), type: 'vote' }, 1, [5]);
        throw new Error('refused after writing');
      }),
      store.commit(() => store.addVote(vote('0xg3', '0xg3'), { ...message('0xg1'), type: 'vote' }, 1, [5])),
      store.commit(() => store.addVote(vote('0xg4', '0xg4'), { ...message('0xg4'), type: 'vote' }, 1, [5])),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(
      /UNIQUE constraint failed: messages\.id/,
    );
    expect(store.messageExists('0xg2')).toBe(false);
    expect(store.getVote('0xp2', '0xg2')).toBeUndefined();
    expect(store.getVote('0xp2', '0xg3')).toBeUndefined();
    expect(store.getProposal('0xp2')!.votes).toBe(before + 2);
    const reopened = store.listVotes({
      where: [{ column: 'proposal', op: '=', value: '0xp2' }],
      first: 1000,
      skip: 0,
      orderBy: 'created',
      orderDirection: 'desc',
    });
    expect(reopened.filter((v) => v.id.startsWith('0xg')).map((v) => v.id)).toEqual(['0xg4', '0xg1']);
  });

  it('lists a replacing vote, not the row it replaced (rows are cached by id)', async () => {
    const page = () =>
      store.listVotes({
        where: [{ column: 'voter', op: '=', value: '0xg1' }],
        first: 10,
        skip: 0,
        orderBy: 'created',
        orderDirection: 'desc',
      });
    expect(page().map((v) => [v.id, v.choice])).toEqual([['0xg1', '1']]);
    const later = {
      ...page()[0]!,
      id: '0xg1b',
      ipfs: 'bafk0xg1b',
      created: 1_700_000_001,
      choice: '2',
    };
    await store.commit(() => store.addVote(later, { ...message('0xg1b'), type: 'vote' }, 2, [5]));
    expect(page().map((v) => [v.id, v.choice])).toEqual([['0xg1b', '2']]);
  });
});
