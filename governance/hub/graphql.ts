import {
  buildSchema,
  type DocumentNode,
  type ExecutionResult,
  execute,
  GraphQLError,
  parse,
  validate,
} from 'graphql';
import { getAddress, isAddress } from 'viem';
import type { Clock } from '../clock.ts';
import { leanExecute } from './leanExecute.ts';
import { QUERY_LIMITS, queryCostError } from './queryCost.ts';
import { proposalState } from './scores.ts';
import type { Space } from './spaces.ts';
import type { Condition, HubStore, ProposalRow, VoteRow } from './store.ts';

/** The subset of hub.snapshot.org's GraphQL schema the hub serves, with the same names and types. */
export const HUB_SCHEMA_SDL = /* GraphQL */ `
scalar Any

enum OrderDirection { asc desc }

type Query {
  space(id: String!): Space
  spaces(first: Int! = 20, skip: Int! = 0, where: SpaceWhere, orderBy: String, orderDirection: OrderDirection): [Space]
  proposal(id: String!): Proposal
  proposals(first: Int! = 20, skip: Int! = 0, where: ProposalWhere, orderBy: String, orderDirection: OrderDirection): [Proposal]
  vote(id: String!): Vote
  votes(first: Int! = 20, skip: Int! = 0, where: VoteWhere, orderBy: String, orderDirection: OrderDirection): [Vote]
}

input SpaceWhere { id: String, id_in: [String] }

input ProposalWhere {
  id: String, id_in: [String], ipfs: String, space: String, space_in: [String], author: String, author_in: [String],
  network: String, network_in: [String], title_contains: String, type: String, type_in: [String],
  app: String, app_not: String, app_in: [String], app_not_in: [String],
  created: Int, created_in: [Int], created_gt: Int, created_gte: Int, created_lt: Int, created_lte: Int,
  updated: Int, updated_in: [Int], updated_gt: Int, updated_gte: Int, updated_lt: Int, updated_lte: Int,
  start: Int, start_in: [Int], start_gt: Int, start_gte: Int, start_lt: Int, start_lte: Int,
  end: Int, end_in: [Int], end_gt: Int, end_gte: Int, end_lt: Int, end_lte: Int,
  scores_state: String, scores_state_in: [String], state: String
}

input VoteWhere {
  id: String, id_in: [String], ipfs: String, ipfs_in: [String], space: String, space_in: [String],
  voter: String, voter_in: [String], proposal: String, proposal_in: [String], reason: String, reason_not: String,
  reason_in: [String], reason_not_in: [String], app: String, app_not: String, app_in: [String], app_not_in: [String],
  created: Int, created_in: [Int], created_gt: Int, created_gte: Int, created_lt: Int, created_lte: Int,
  vp: Float, vp_in: [Float], vp_gt: Float, vp_gte: Float, vp_lt: Float, vp_lte: Float, vp_state: String, vp_state_in: [String]
}

type Strategy { name: String!, network: String, params: Any }
type SpaceFilters { minScore: Float, onlyMembers: Boolean }
type SpaceVoting {
  delay: Int, period: Int, type: String, quorum: Float, quorumType: String!, blind: Boolean, hideAbstain: Boolean,
  privacy: String, aliased: Boolean
}

type Space {
  id: String!, name: String, about: String, network: String, symbol: String, admins: [String], moderators: [String],
  members: [String], filters: SpaceFilters, strategies: [Strategy], voting: SpaceVoting, proposalsCount: Int,
  votesCount: Int
}

type Proposal {
  id: String!, ipfs: String, author: String!, created: Int!, updated: Int, space: Space, network: String!,
  symbol: String!, type: String, strategies: [Strategy]!, plugins: Any!, title: String!, body: String,
  discussion: String!, choices: [String]!, labels: [String]!, start: Int!, end: Int!, quorum: Float!,
  quorumType: String!, privacy: String, snapshot: Int, state: String, link: String, app: String, scores: [Float],
  scores_by_strategy: Any, scores_state: String, scores_total: Float, scores_updated: Int, votes: Int,
  flagged: Boolean
}

type Vote {
  id: String!, ipfs: String, voter: String!, created: Int!, space: Space!, proposal: Proposal, choice: Any!,
  metadata: Any, reason: String, app: String, vp: Float, vp_by_strategy: [Float], vp_state: String
}
`;

const MAX_FIRST = QUERY_LIMITS.maxFirst;
const MAX_SKIP = 5000;
/** hub.snapshot.org's limit on the length of every `*_in` list (proposals' `space_in`: 10,000). */
const MAX_IN = 100;
const MAX_IN_BY_KEY: Record<string, number> = { space_in: 10_000 };
/** Query texts longer than this are parsed each time rather than kept (500 of 2 MB would hold 1 GB). */
const MAX_CACHED_QUERY = 16_384;

type Args = {
  first?: number;
  skip?: number;
  where?: Record<string, unknown> | null;
  orderBy?: string | null;
  orderDirection?: 'asc' | 'desc' | null;
};

type Context = { now: number };

/** hub.snapshot.org's argument limits, with its messages (src/graphql/helpers.ts `checkLimits`). */
function checkLimits(args: Args, type: 'spaces' | 'proposals' | 'votes') {
  if ((args.first ?? 0) > MAX_FIRST)
    throw new GraphQLError(`The \`first\` argument must not be greater than ${MAX_FIRST}`);
  if ((args.skip ?? 0) > MAX_SKIP)
    throw new GraphQLError(`The \`skip\` argument must not be greater than ${MAX_SKIP}`);
  for (const [key, value] of Object.entries(args.where ?? {})) {
    const limit = (type === 'proposals' && MAX_IN_BY_KEY[key]) || MAX_IN;
    if (key.endsWith('_in') && Array.isArray(value) && value.length > limit)
      throw new GraphQLError(`The \`${key}\` argument must not be greater than ${limit}`);
  }
  for (const key of ['first', 'skip'] as const) {
    if ((args[key] ?? 0) < 0) throw new GraphQLError(`The \`${key}\` argument must be positive`);
  }
}

const SUFFIXES: [string, Condition['op']][] = [
  ['_not_in', 'not in'],
  ['_in', 'in'],
  ['_gte', '>='],
  ['_gt', '>'],
  ['_lte', '<='],
  ['_lt', '<'],
  ['_contains', 'contains'],
  ['_not', '!='],
];

/** Filters on addresses: given in any case, compared checksummed (the real hub's `formatAddresses`). */
const ADDRESS_FIELDS = new Set(['author', 'voter']);
/** Filters on space ids: the real hub's MySQL compares them case-insensitively; ours are stored lowercase. */
const SPACE_FIELDS = new Set(['space']);

function normalizeValue(column: string, value: unknown): unknown {
  const each = (item: unknown) => {
    if (typeof item !== 'string' || item === '') return item;
    if (SPACE_FIELDS.has(column)) return item.toLowerCase();
    if (ADDRESS_FIELDS.has(column)) {
      if (!isAddress(item, { strict: false })) throw new GraphQLError(`Invalid addresses in ${column}`);
      return getAddress(item);
    }
    return item;
  };
  return Array.isArray(value) ? value.map(each) : each(value);
}

function conditions(where: Record<string, unknown> | null | undefined, now: number): Condition[] {
  const out: Condition[] = [];
  for (const [key, value] of Object.entries(where ?? {})) {
    if (value === null || value === undefined) continue;
    if (key === 'state') {
      // As hub.snapshot.org filters (strict comparisons: a proposal is in none of them at its start or end second).
      if (value === 'pending') out.push({ column: 'start', op: '>', value: now });
      else if (value === 'active') {
        out.push({ column: 'start', op: '<', value: now }, { column: 'end', op: '>', value: now });
      } else if (value === 'closed') out.push({ column: 'end', op: '<', value: now });
      else if (value !== 'all' && value !== '') throw new GraphQLError(`unknown state ${String(value)}`);
      continue;
    }
    const suffix = SUFFIXES.find(([s]) => key.endsWith(s));
    const column = suffix ? key.slice(0, -suffix[0].length) : key;
    const op = suffix ? suffix[1] : '=';
    out.push({ column, op, value: normalizeValue(column, value) } as Condition);
  }
  return out;
}

/** The hub's GraphQL endpoint: parses, validates and executes queries with graphql-js over the SQLite store. */
export function createHubGraphql(options: {
  store: HubStore;
  spaces: Space[];
  clock: Clock;
  /** false = graphql-js for every query (tests compare the lean path with it). */
  lean?: boolean;
}) {
  const { store, clock } = options;
  const schema = buildSchema(HUB_SCHEMA_SDL);
  // `Any` keeps graphql-js' defaults for a custom scalar: values pass through as JSON.
  const spaces = new Map(options.spaces.map((space) => [space.id, space]));
  /** Parsed (and, once its cost passed, validated) documents by query text. */
  const documents = new Map<
    string,
    | { document: DocumentNode; validation?: readonly GraphQLError[]; errors?: undefined }
    | { errors: GraphQLError[]; document?: undefined }
  >();

  function spaceObject(id: string) {
    const space = spaces.get(id);
    if (!space) return { id, name: id };
    // Defaults as the real hub's `formatSpace` applies them (0 and '' read back as null).
    return {
      id: space.id,
      name: space.name,
      about: space.about,
      network: space.network,
      symbol: space.symbol ?? space.strategies[0]?.params.symbol ?? '',
      admins: space.admins,
      moderators: space.moderators,
      members: space.members,
      filters: space.filters,
      strategies: space.strategies.map((s) => ({ ...s, network: s.network ?? space.network })),
      voting: {
        delay: space.voting.delay || null,
        period: space.voting.period || null,
        type: space.voting.type || null,
        quorum: space.voting.quorum || null,
        quorumType: 'default',
        blind: false,
        hideAbstain: false,
        privacy: space.voting.privacy || '',
        aliased: false,
      },
      proposalsCount: () => store.countProposals(space.id),
      votesCount: () => store.countVotes(space.id),
    };
  }

  /**
   * A proposal as the real hub's `formatProposal` returns it. Reading never changes scores: they stay
   * `pending` after the end until `GET /scores/{id}` is requested (governance/hub/scores.ts).
   */
  function proposalObject(row: ProposalRow, now: number) {
    return {
      id: row.id,
      ipfs: row.ipfs,
      author: row.author,
      created: row.created,
      updated: row.updated || null,
      space: () => spaceObject(row.space),
      network: row.network,
      symbol: row.symbol,
      type: row.type,
      strategies: JSON.parse(row.strategies),
      plugins: JSON.parse(row.plugins),
      title: row.title,
      body: row.body,
      discussion: row.discussion,
      choices: JSON.parse(row.choices) as string[],
      labels: JSON.parse(row.labels) ?? [],
      start: row.start,
      end: row.end,
      quorum: row.quorum,
      quorumType: row.quorum_type || 'default',
      privacy: row.privacy || '',
      snapshot: row.snapshot,
      state: proposalState(row, now),
      link: `https://snapshot.box/#/s:${row.space}/proposal/${row.id}`,
      app: row.app,
      scores: JSON.parse(row.scores) as number[],
      scores_by_strategy: JSON.parse(row.scores_by_strategy),
      scores_state: row.scores_state,
      scores_total: row.scores_total,
      scores_updated: row.scores_updated,
      votes: row.votes,
      flagged: false,
    };
  }

  // Stored rows are immutable and shared (the store caches pages): their JSON columns are parsed once.
  const parsedVotes = new WeakMap<VoteRow, { choice: unknown; metadata: unknown; vp_by_strategy: unknown }>();

  function voteObject(row: VoteRow, now: number) {
    let parsed = parsedVotes.get(row);
    if (!parsed) {
      parsed = {
        choice: JSON.parse(row.choice),
        metadata: JSON.parse(row.metadata),
        vp_by_strategy: JSON.parse(row.vp_by_strategy),
      };
      parsedVotes.set(row, parsed);
    }
    return {
      id: row.id,
      ipfs: row.ipfs,
      voter: row.voter,
      created: row.created,
      space: () => spaceObject(row.space),
      proposal: () => {
        const p = store.getProposal(row.proposal);
        return p ? proposalObject(p, now) : null;
      },
      choice: parsed.choice,
      metadata: parsed.metadata,
      reason: row.reason,
      app: row.app,
      vp: row.vp,
      vp_by_strategy: parsed.vp_by_strategy,
      vp_state: row.vp_state,
    };
  }

  const ORDER = {
    proposals: ['created', 'start', 'end', 'votes', 'scores_total', 'updated'],
    votes: ['created', 'vp'],
  };

  function order(args: Args, allowed: string[]) {
    const orderBy = args.orderBy ?? 'created';
    if (!allowed.includes(orderBy)) throw new GraphQLError(`orderBy must be one of ${allowed.join(', ')}`);
    return { orderBy, orderDirection: args.orderDirection ?? 'desc' } as const;
  }

  const root = {
    space: ({ id }: { id: string }) => (spaces.has(id.toLowerCase()) ? spaceObject(id.toLowerCase()) : null),
    spaces: (args: Args & { where?: { id?: string | null; id_in?: (string | null)[] | null } }) => {
      checkLimits(args, 'spaces');
      let list = [...spaces.keys()];
      const id = args.where?.id?.toLowerCase();
      const idIn = args.where?.id_in?.map((i) => i?.toLowerCase());
      if (id) list = list.filter((s) => s === id);
      if (idIn) list = list.filter((s) => idIn.includes(s));
      return list.slice(args.skip ?? 0, (args.skip ?? 0) + (args.first ?? 20)).map(spaceObject);
    },
    proposal: ({ id }: { id: string }, context: Context) => {
      const row = store.getProposal(id);
      return row ? proposalObject(row, context.now) : null;
    },
    proposals: (args: Args, context: Context) => {
      checkLimits(args, 'proposals');
      return store
        .listProposals({
          where: conditions(args.where, context.now),
          first: args.first ?? 20,
          skip: args.skip ?? 0,
          ...order(args, ORDER.proposals),
        })
        .map((row) => proposalObject(row, context.now));
    },
    vote: ({ id }: { id: string }, context: Context) => {
      const row = store.listVotes({
        where: [{ column: 'id', op: '=', value: id }],
        first: 1,
        skip: 0,
        orderBy: 'created',
        orderDirection: 'desc',
      })[0];
      return row ? voteObject(row, context.now) : null;
    },
    votes: (args: Args, context: Context) => {
      checkLimits(args, 'votes');
      return store
        .listVotes({
          where: conditions(args.where, context.now),
          first: args.first ?? 20,
          skip: args.skip ?? 0,
          ...order(args, ORDER.votes),
        })
        .map((row) => voteObject(row, context.now));
    },
  };

  return {
    schema,
    /** The root resolvers (tests run the lean executor on them directly). */
    root,
    /** Executes one GraphQL request; the reply is what goes back as JSON (`{data}` or `{errors}`). */
    async run(request: {
      query?: unknown;
      variables?: unknown;
      operationName?: unknown;
    }): Promise<{ status: number; body: ExecutionResult }> {
      if (typeof request.query !== 'string' || request.query.length === 0) {
        return { status: 400, body: { errors: [new GraphQLError('Must provide query string.')] } };
      }
      let entry = documents.get(request.query);
      if (!entry) {
        try {
          entry = { document: parse(request.query, { maxTokens: QUERY_LIMITS.maxTokens }) };
        } catch (error) {
          entry = { errors: [error instanceof GraphQLError ? error : new GraphQLError(String(error))] };
        }
        if (request.query.length <= MAX_CACHED_QUERY) {
          if (documents.size > 500) documents.clear();
          documents.set(request.query, entry);
        }
      }
      if (entry.errors) return { status: 400, body: { errors: entry.errors } };
      const variables = request.variables ?? undefined;
      // What the request may cost is checked first: before validation (whose work grows with the document)
      // and before either executor.
      const refusal = queryCostError(
        schema,
        entry.document,
        typeof variables === 'object' && variables !== null ? (variables as Record<string, unknown>) : {},
      );
      if (refusal) return { status: 400, body: { errors: [refusal] } };
      entry.validation ??= validate(schema, entry.document);
      if (entry.validation.length) return { status: 400, body: { errors: [...entry.validation] } };
      const document = entry.document;
      const now = await clock();
      const request_ = {
        schema,
        document,
        rootValue: root,
        contextValue: { now } satisfies Context,
        variableValues: variables as Record<string, unknown> | undefined,
        operationName: typeof request.operationName === 'string' ? request.operationName : undefined,
      };
      // Plain queries skip graphql-js's per-field machinery; anything else, or any error, runs graphql-js.
      const result = (options.lean !== false && leanExecute(request_)) || (await execute(request_));
      return { status: 200, body: result };
    },
  };
}
