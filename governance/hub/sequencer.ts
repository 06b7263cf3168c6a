import { createHash } from 'node:crypto';
import { type Address, formatUnits, getAddress, type Hex } from 'viem';
import type { Clock } from '../clock.ts';
import { ensNormalize, messageKind, SNAPSHOT_DOMAIN, snapshotJs } from '../snapshotProtocol.ts';
import type { HubChain } from './chain.ts';
import { rawCid } from './cid.ts';
import { createMessageHasher } from './messageHasher.ts';
import { inlineSignaturePool, type SignaturePool } from './signaturePool.ts';
import type { Space } from './spaces.ts';
import type { HubStore, MessageRow, ProposalRow } from './store.ts';

/** The hub's answer to one POSTed message: the HTTP status and the JSON body. */
export type IngestReply = { status: number; body: unknown };

export type ProposalLimits = {
  perDay: number;
  perMonth: number;
  activePerAuthor: number;
  bodyLength: number;
};

export const DEFAULT_LIMITS: ProposalLimits = {
  perDay: 10,
  perMonth: 150,
  activePerAuthor: 20,
  bodyLength: 10_000,
};

export type SequencerOptions = {
  store: HubStore;
  spaces: Space[];
  chain: HubChain;
  clock: Clock;
  /** Signs receipts (`relayer.receipt`), like the real sequencer's relayer key. */
  relayer: { address: Address; privateKey: Hex };
  /** Where signatures are recovered and receipts signed (worker threads in the HTTP hub). */
  signatures?: SignaturePool;
  limits?: Partial<ProposalLimits>;
  /** Told about unexpected failures (replied to as HTTP 500). */
  onError?: (error: unknown) => void;
};

/** A refusal with the real sequencer's wording. */
class Refusal {
  constructor(
    readonly description: string,
    readonly status = 400,
  ) {}
}

const refuse = (description: string, status = 400): never => {
  throw new Refusal(description, status);
};

const SIX_DAYS = 6 * 24 * 3600;
const MAX_AHEAD = 300;
const MAX_CHOICES = 500;

/** The envelope the sequencer accepts (checked with snapshot.js' own ajv, `address` format = checksummed). */
const ENVELOPE_SCHEMA = {
  type: 'object',
  properties: {
    address: { type: 'string', format: 'address' },
    sig: { type: ['string', 'array'] },
    data: {
      type: 'object',
      properties: {
        domain: {
          type: 'object',
          properties: { name: { type: 'string' }, version: { type: 'string' } },
          required: ['name', 'version'],
        },
        types: { type: 'object' },
        message: {
          type: 'object',
          properties: {
            from: { type: 'string', format: 'address' },
            timestamp: { type: 'number' },
            space: { type: 'string', pattern: '^[^ ]+$' },
          },
          required: ['from', 'timestamp'],
        },
        primaryType: { type: 'string' },
      },
      required: ['domain', 'types', 'message'],
      additionalProperties: false,
    },
  },
  required: ['address', 'sig', 'data'],
  additionalProperties: false,
};

type Envelope = {
  address: Address;
  sig: Hex | string[];
  data: {
    domain: Record<string, string | number>;
    types: Record<string, { name: string; type: string }[]>;
    message: Record<string, unknown> & { from: string; timestamp: number; space?: string };
  };
};

function jsonParse<T>(text: unknown, fallback: T): T {
  try {
    return typeof text === 'string' ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

/** lodash-style kebab-case, as the sequencer applies to `app`. */
export function kebabCase(value: string): string {
  return value
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .join('-')
    .toLowerCase();
}

const isMember = (space: Space, address: string) =>
  [...space.members, ...space.admins, ...space.moderators].some(
    (m) => m.toLowerCase() === address.toLowerCase(),
  );

/** The space's privacy rule for a proposal or update (`not allowed to set privacy`); unset = 'any'. */
function checkPrivacy(space: Space, privacy: string | undefined) {
  const required = space.voting.privacy ?? 'any';
  if (privacy !== undefined && required !== 'any' && required !== privacy)
    refuse('not allowed to set privacy');
}

/** The privacy stored with a proposal: the space's, unless it allows any (then the proposal's, default ''). */
function storedPrivacy(space: Space, privacy: string | undefined): string {
  const required = space.voting.privacy ?? 'any';
  return required === 'any' ? (privacy ?? '') : required;
}

/**
 * The sequencer: checks a POSTed message the way snapshot-sequencer does (same order, same messages, the same
 * snapshot.js functions) and stores its effect. One instance per hub; no global state.
 */
export function createSequencer(options: SequencerOptions) {
  const { store, chain, clock, relayer } = options;
  const signatures = options.signatures ?? inlineSignaturePool();
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const spaces = new Map(options.spaces.map((space) => [space.id, space]));
  const inFlight = new Set<string>();
  const messageId = createMessageHasher();

  async function votingPower(
    strategies: Space['strategies'],
    voter: Address,
    block: number,
  ): Promise<{ vp: number; byStrategy: number[] }> {
    const byStrategy = await Promise.all(
      strategies.map(async (strategy) => {
        const raw = await chain.balanceOf(strategy.params.address, voter, block);
        // erc20-balance-of: parseFloat(formatUnits(balance, decimals))
        return Number.parseFloat(formatUnits(raw, strategy.params.decimals));
      }),
    );
    return { vp: byStrategy.reduce((a, b) => a + b, 0), byStrategy };
  }

  /**
   * EOA: recover the signer from the message id, which is the EIP-712 digest `utils.getHash` computed (what
   * `utils.verify` checks with ethers' verifyTypedData). Otherwise EIP-1271 `isValidSignature(id, sig)` on chain.
   */
  async function verifySignature(envelope: Envelope, id: Hex): Promise<boolean> {
    if (typeof envelope.sig !== 'string') return false;
    const recovered = await signatures.recover(id, envelope.sig);
    if (recovered && recovered.toLowerCase() === envelope.address.toLowerCase()) return true;
    try {
      return await chain.isValidSignature(envelope.address, id, envelope.sig);
    } catch {
      return false;
    }
  }

  function messageRow(envelope: Envelope, id: Hex, ipfs: string, receipt: string, type: string): MessageRow {
    return {
      id,
      ipfs,
      address: envelope.address,
      version: SNAPSHOT_DOMAIN.version,
      timestamp: envelope.data.message.timestamp,
      space: String(envelope.data.message.space ?? ''),
      type,
      sig: String(envelope.sig),
      receipt,
    };
  }

  async function proposal(envelope: Envelope, space: Space, id: Hex, now: number) {
    const message = envelope.data.message;
    const created = Number(message.timestamp);
    const payload = {
      name: message.title,
      body: message.body,
      discussion: message.discussion || '',
      choices: message.choices,
      labels: message.labels || [],
      start: message.start,
      end: message.end,
      snapshot: message.snapshot,
      metadata: { plugins: jsonParse<unknown>(message.plugins, {}) },
      type: message.type,
      app: kebabCase(String(message.app || '')),
      privacy: message.privacy as string | undefined,
    };
    const valid = snapshotJs.utils.validateSchema(snapshotJs.schemas.proposal, payload, {
      snapshotEnv: 'default',
      spaceType: 'default',
    });
    if (valid !== true) refuse('wrong proposal format');
    const start = Number(payload.start);
    const end = Number(payload.end);
    const choices = payload.choices as string[];
    if (end <= now) refuse('proposal end date must be in the future');
    if (payload.type === 'basic' && choices.length !== 2 && choices.length !== 3) {
      refuse('wrong choices for basic type voting');
    }
    if (space.voting.delay && start !== created + space.voting.delay) refuse('invalid voting delay');
    if (space.voting.period && end - start !== space.voting.period) refuse('invalid voting period');
    if (space.voting.type && payload.type !== space.voting.type) refuse('invalid voting type');
    checkPrivacy(space, payload.privacy);
    const authorized = isMember(space, envelope.address);
    if (space.filters.onlyMembers && !authorized) refuse('only space authors can propose');
    if (!authorized && space.filters.minScore > 0) {
      let score: number;
      try {
        const latest = await chain.latestBlock();
        score = (await votingPower(space.strategies, envelope.address, latest)).vp;
      } catch {
        return refuse('failed to check validation');
      }
      if (score < space.filters.minScore) refuse('validation failed');
    }
    let exists: boolean;
    try {
      exists = await chain.blockExists(Number(payload.snapshot));
    } catch {
      return refuse('unable to fetch block');
    }
    if (!exists) refuse('invalid snapshot block');
    const counts = store.proposalCounts(space.id, envelope.address, now);
    if (counts.day >= limits.perDay || counts.month >= limits.perMonth) refuse('proposal limit reached');
    if (!authorized && counts.activeByAuthor >= limits.activePerAuthor) {
      refuse('active proposal limit reached for author');
    }
    if (String(payload.body).length > limits.bodyLength) {
      refuse(`proposal body length can not exceed ${limits.bodyLength} characters`);
    }
    if (choices.length > MAX_CHOICES) refuse(`number of choices can not exceed ${MAX_CHOICES}`);

    return (ipfs: string, receipt: string) => {
      const strategies = space.strategies.map((s) => ({ ...s, network: s.network ?? space.network }));
      const row: ProposalRow = {
        id,
        ipfs,
        author: envelope.address,
        created,
        updated: 0,
        space: space.id,
        network: space.network,
        symbol: space.symbol ?? space.strategies[0]?.params.symbol ?? '',
        type: String(payload.type),
        strategies: JSON.stringify(strategies),
        plugins: JSON.stringify(payload.metadata.plugins ?? {}),
        title: String(payload.name),
        body: String(payload.body),
        discussion: String(payload.discussion),
        choices: JSON.stringify(choices),
        labels: JSON.stringify(payload.labels),
        start,
        end,
        quorum: space.voting.quorum,
        quorum_type: '',
        privacy: storedPrivacy(space, payload.privacy),
        snapshot: Number(payload.snapshot),
        app: payload.app,
        scores: '[]',
        scores_by_strategy: '[]',
        scores_state: 'pending',
        scores_total: 0,
        scores_updated: 0,
        votes: 0,
      };
      store.addProposal(row, messageRow(envelope, id, ipfs, receipt, 'proposal'));
    };
  }

  async function vote(envelope: Envelope, space: Space, id: Hex, kind: string, now: number) {
    const message = envelope.data.message;
    if (typeof message.metadata === 'string' && message.metadata.length > 2000) refuse('too large metadata');
    let choice = message.choice;
    if (kind === 'vote-string') {
      if (!store.getProposal(String(message.proposal))) refuse('unknown proposal');
      choice = jsonParse<unknown>(message.choice, message.choice);
    }
    const payload = {
      proposal: message.proposal,
      choice,
      reason: message.reason || '',
      app: kebabCase(String(message.app || '')),
      metadata: jsonParse<unknown>(message.metadata, {}),
    };
    const valid = snapshotJs.utils.validateSchema(snapshotJs.schemas.vote, payload);
    if (valid !== true) refuse('wrong vote format');
    const proposalRow = store.getProposal(String(payload.proposal));
    if (!proposalRow || proposalRow.space !== space.id) return refuse('unknown proposal');
    const msgTs = Number(message.timestamp);
    if (
      msgTs > proposalRow.end ||
      proposalRow.start > msgTs ||
      now > proposalRow.end ||
      proposalRow.start > now
    ) {
      refuse('not in voting window');
    }
    const choices = JSON.parse(proposalRow.choices) as string[];
    const votingClass = snapshotJs.utils.voting[proposalRow.type as keyof typeof snapshotJs.utils.voting];
    if (!votingClass?.isValidChoice(payload.choice as never, choices)) refuse('invalid choice');
    let power: { vp: number; byStrategy: number[] };
    try {
      const strategies = JSON.parse(proposalRow.strategies) as Space['strategies'];
      power = await votingPower(strategies, envelope.address, proposalRow.snapshot);
    } catch {
      return refuse('failed to check voting power');
    }
    if (power.vp === 0) refuse('no voting power');
    return (ipfs: string, receipt: string) => {
      const refused = store.addVote(
        {
          id,
          ipfs,
          voter: getAddress(envelope.address),
          created: msgTs,
          space: space.id,
          proposal: proposalRow.id,
          choice: JSON.stringify(payload.choice),
          metadata: JSON.stringify(payload.metadata ?? {}),
          reason: String(payload.reason),
          app: payload.app,
          vp: power.vp,
          vp_by_strategy: JSON.stringify(power.byStrategy),
          vp_state: 'final',
        },
        messageRow(envelope, id, ipfs, receipt, 'vote'),
        typeof payload.choice === 'number' ? payload.choice : 0,
        power.byStrategy,
      );
      if (refused) refuse(refused);
    };
  }

  /** update-proposal: the author edits title, body, choices or plugins before the start; the id stays. */
  function update(envelope: Envelope, space: Space, id: Hex, now: number) {
    const message = envelope.data.message;
    const payload = {
      proposal: message.proposal,
      name: message.title,
      body: message.body,
      discussion: message.discussion || '',
      choices: message.choices,
      labels: message.labels || [],
      metadata: { plugins: jsonParse<unknown>(message.plugins, {}) },
      type: message.type,
      privacy: message.privacy as string | undefined,
    };
    const valid = snapshotJs.utils.validateSchema(snapshotJs.schemas.updateProposal, payload, {
      snapshotEnv: 'default',
      spaceType: 'default',
    });
    if (valid !== true) refuse('wrong proposal format');
    const row = store.getProposal(String(payload.proposal));
    if (!row || row.space !== space.id) return refuse('unknown proposal');
    if (row.start < now) refuse('proposal already started');
    const choices = payload.choices as string[];
    if (payload.type === 'basic' && choices.length !== 2 && choices.length !== 3) {
      refuse(`wrong choices for "${String(payload.type)}" type voting`);
    }
    if (row.author !== envelope.address) refuse('Not the author');
    checkPrivacy(space, payload.privacy);
    if (space.voting.type && payload.type !== space.voting.type) refuse('space voting type mismatch');
    // No body-length check: the real sequencer has none for updates.
    return (ipfs: string, receipt: string) => {
      store.updateProposal(
        row.id,
        {
          ipfs,
          updated: Number(message.timestamp),
          type: String(payload.type),
          plugins: JSON.stringify(payload.metadata.plugins ?? {}),
          title: String(payload.name),
          body: String(payload.body),
          discussion: String(payload.discussion),
          choices: JSON.stringify(choices),
          labels: JSON.stringify(payload.labels),
          privacy: storedPrivacy(space, payload.privacy),
        },
        messageRow(envelope, id, ipfs, receipt, 'update-proposal'),
      );
    };
  }

  function cancel(envelope: Envelope, space: Space, id: Hex) {
    const proposalId = String(envelope.data.message.proposal ?? '');
    const row = store.getProposal(proposalId);
    if (!row || row.space !== space.id) return refuse('unknown proposal');
    const address = envelope.address.toLowerCase();
    const allowed =
      space.admins.some((a) => a.toLowerCase() === address) ||
      space.moderators.some((m) => m.toLowerCase() === address) ||
      row.author === envelope.address;
    if (!allowed) refuse('not authorized to archive proposal');
    return (ipfs: string, receipt: string) => {
      store.deleteProposal(proposalId, messageRow(envelope, id, ipfs, receipt, 'delete-proposal'));
    };
  }

  /** The checks of snapshot-sequencer's `src/ingestor.ts`, in its order, then the message kind's own. */
  async function process(body: unknown, json: string): Promise<IngestReply> {
    if (snapshotJs.utils.validateSchema(ENVELOPE_SCHEMA, body) !== true) refuse('wrong envelope format');
    const envelope = body as Envelope;
    const now = await clock();
    const { domain, message } = envelope.data;
    if (json.length > 1e5) refuse('too large message');
    if (message.timestamp > now + MAX_AHEAD || message.timestamp < now - SIX_DAYS) refuse('wrong timestamp');
    if (typeof message.proposal === 'string' && message.proposal.includes(' ')) {
      refuse('proposal cannot contain whitespace');
    }
    if (domain.name !== SNAPSHOT_DOMAIN.name || domain.version !== SNAPSHOT_DOMAIN.version)
      refuse('wrong domain');
    const { EIP712Domain: _ignored, ...types } = envelope.data.types;
    envelope.data.types = types;
    const kind = messageKind(types);
    if (
      !kind ||
      !['proposal', 'update-proposal', 'vote', 'vote-array', 'vote-string', 'delete-proposal'].includes(kind)
    ) {
      refuse('wrong types');
    }
    const spaceId = message.space;
    if (spaceId && (spaceId.startsWith('s:') || !spaceId.includes(':'))) {
      let valid: boolean;
      try {
        valid = ensNormalize(spaceId) === spaceId.toLowerCase();
      } catch {
        valid = false;
      }
      if (!valid) refuse('Invalid space id');
    }
    if (!spaceId) refuse('unknown space');
    // Space ids are case-insensitive (the real hub's MySQL compares them so); ours are stored lowercase.
    const space = spaces.get(String(spaceId).toLowerCase());
    if (!space) return refuse('unknown space');
    // Another address may act for `from` only through an alias, and this hub has none.
    if (envelope.address !== message.from) refuse('wrong alias');
    let id: Hex;
    try {
      id = messageId(envelope.data);
      if (!(await verifySignature(envelope, id))) refuse('signature validation failed');
    } catch (error) {
      if (error instanceof Refusal) throw error;
      // A typed field missing or of the wrong shape: ethers cannot encode it, so nothing was signed.
      return refuse('signature validation failed');
    }
    if (store.messageExists(id)) refuse('duplicate message');

    let commit: (ipfs: string, receipt: string) => void;
    if (kind === 'proposal') commit = await proposal(envelope, space, id, now);
    else if (kind === 'delete-proposal') commit = cancel(envelope, space, id);
    else if (kind === 'update-proposal') commit = update(envelope, space, id, now);
    else commit = await vote(envelope, space, id, kind ?? 'vote', now);

    const ipfs = rawCid(
      JSON.stringify({ address: envelope.address, sig: envelope.sig, hash: id, data: envelope.data }),
    );
    const receipt = await signatures.signReceipt(relayer.privateKey, String(envelope.sig));
    try {
      await store.commit(() => commit(ipfs, receipt));
    } catch (error) {
      if (error instanceof Refusal) throw error;
      if (/UNIQUE constraint failed: messages\.id/.test(String((error as Error)?.message)))
        refuse('duplicate message');
      throw error;
    }
    return { status: 200, body: { id, ipfs, relayer: { address: relayer.address, receipt } } };
  }

  return {
    /**
     * Checks and applies one POSTed message (the parsed JSON body); never throws for bad input (it becomes a
     * 400 reply). A copy of a body still being processed is answered HTTP 425, as the sequencer's
     * `duplicateRequestPreventor` does (keyed by the body's JSON).
     */
    async ingest(body: unknown): Promise<IngestReply> {
      const json = JSON.stringify(body ?? {});
      const key = createHash('sha256').update(json).digest('hex');
      if (inFlight.has(key)) {
        return {
          status: 425,
          body: { error: 'client_error', error_description: 'request already being processed' },
        };
      }
      inFlight.add(key);
      try {
        return await process(body, json);
      } catch (error) {
        if (error instanceof Refusal) {
          return {
            status: error.status,
            body: { error: 'client_error', error_description: error.description },
          };
        }
        options.onError?.(error);
        return { status: 500, body: { error: 'server_error', error_description: 'internal error' } };
      } finally {
        inFlight.delete(key);
      }
    },
  };
}

export type Sequencer = ReturnType<typeof createSequencer>;
