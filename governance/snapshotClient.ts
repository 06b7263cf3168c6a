import type { LocalAccount } from 'viem';
import { z } from 'zod';
import { redactUrl } from '../shared/errors.ts';
import {
  type BackoffPolicy,
  classifyReply,
  DEFAULT_BACKOFF,
  type RetryReason,
  realSleep,
  retriesSpent,
  retryAfterMs,
  withBackoff,
} from '../shared/httpRetry.ts';
import { type Clock, systemClock } from './clock.ts';
import { GovernanceError, HubRejectedError } from './errors.ts';
import {
  HubErrorReplySchema,
  type HubProposal,
  HubProposalSchema,
  type HubSpace,
  HubSpaceSchema,
  type HubVote,
  HubVoteSchema,
  IngestReceiptSchema,
  PROPOSAL_FIELDS,
  ScoresRequestReplySchema,
  SPACE_FIELDS,
  VOTE_FIELDS,
} from './hubReplies.ts';
import type { Client712, SignedData } from './snapshotProtocol.ts';

/**
 * snapshot.js (with ethers v5 and ajv) costs about a second of CPU to load; reading the hub is plain GraphQL over
 * fetch and needs none of it. It is imported the first time a message is prepared, signed or sent.
 */
const snapshotProtocol = () => import('./snapshotProtocol.ts');

export type SnapshotClientOptions = {
  /** `https://hub.snapshot.org` (messages go to seq.snapshot.org, as snapshot.js does) or the local hub's URL. */
  hubUrl: string;
  /** The key that signs (EIP-712) proposals, votes and cancels. */
  account: LocalAccount;
  /** Message timestamps come from here: the chain clock locally, the wall clock in production. */
  clock?: Clock;
  fetch?: typeof globalThis.fetch;
  /**
   * Snapshot API key (TREASURY_SNAPSHOT_API_KEY), sent as `x-api-key` on every request: hub.snapshot.org reads
   * that header (or `?apiKey=`) and, for a valid key, lifts its 100 requests/min per IP limit (snapshot-hub
   * src/helpers/keycard.ts, rateLimit.ts). seq.snapshot.org ignores it today. Never logged.
   */
  apiKey?: string;
  /**
   * Attempts per request (GraphQL read, message, scores request), and the backoff between them (doubling from
   * base, capped at maxDelayMs; a Retry-After is honoured up to maxRetryAfterMs, beyond which the client gives
   * up at once and says so).
   */
  retry?: Partial<BackoffPolicy>;
  /** Waits between attempts (tests pass one that records instead). */
  sleep?: (ms: number) => Promise<void>;
  /** `app` field of messages (≤ 24 chars). */
  app?: string;
};

export type ProposeInput = {
  space: string;
  title: string;
  body: string;
  /** Block whose balances give voting power. */
  snapshot: number;
  /** Object (stringified) or a JSON string; must be a JSON object. */
  plugins?: Record<string, unknown> | string;
  choices?: string[];
  discussion?: string;
  labels?: string[];
  /** The space's exact settings (start = timestamp + delay, end = start + period), or explicit times. */
  timing: { delay: number; period: number } | { start: number; end: number };
};

export type Receipt = {
  /** The message id (EIP-712 digest), computed before sending and checked against the reply. */
  id: `0x${string}`;
  ipfs: string | null;
  relayer: { address: string; receipt: string } | null;
  /** True when a retry found the message already accepted (the hub's reply was lost). */
  recovered: boolean;
};

export type ProposalScores = {
  id: string;
  state: 'pending' | 'active' | 'closed' | null;
  scoresState: string | null;
  /** True once the proposal is closed and its scores are final. */
  final: boolean;
  choices: string[];
  scores: number[];
  scoresTotal: number;
  quorum: number;
  votes: number;
};

export type VoteInput = { space: string; proposal: string; choice: number; reason?: string };

/**
 * A message ready to sign, with its id: store it (JSON) before sending, so a crash between sending and recording
 * can resume with `send(prepared)` — the same id is never applied twice.
 */
export type PreparedMessage = {
  kind: 'proposal' | 'vote' | 'cancel';
  id: `0x${string}`;
  from: `0x${string}`;
  message: Record<string, unknown>;
};

export type SnapshotClient = {
  address: `0x${string}`;
  /** Validates and fixes the message (timestamp from the clock) and computes its id; nothing is signed or sent. */
  prepareProposal: (input: ProposeInput) => Promise<PreparedMessage>;
  prepareVote: (input: VoteInput) => Promise<PreparedMessage>;
  prepareCancel: (input: { space: string; proposal: string }) => Promise<PreparedMessage>;
  /** Signs with Client712 and sends; if the hub already has this id (e.g. after a crash), returns `recovered`. */
  send: (message: PreparedMessage) => Promise<Receipt>;
  propose: (input: ProposeInput) => Promise<Receipt>;
  /** Basic voting: 1 = For, 2 = Against, 3 = Abstain. */
  vote: (input: VoteInput) => Promise<Receipt>;
  cancel: (input: { space: string; proposal: string }) => Promise<Receipt>;
  getProposal: (id: string) => Promise<HubProposal | null>;
  listProposals: (
    space: string,
    options?: { first?: number; skip?: number; state?: 'pending' | 'active' | 'closed' | 'all' },
  ) => Promise<HubProposal[]>;
  /** All votes of a proposal (pages of 1000), newest first. */
  getVotes: (proposal: string) => Promise<HubVote[]>;
  getVote: (id: string) => Promise<HubVote | null>;
  /**
   * The proposal's scores. Once it is closed with `scores_state: pending`, first asks the hub for final scores
   * (`requestFinalScores`) and reads again; `final` is true only when the hub's copy says final. Never throws
   * because final scores are not ready yet: `final: false`, and the next call tries again.
   */
  getScores: (proposal: string) => Promise<ProposalScores | null>;
  /**
   * Asks the hub to compute final scores, as snapshot.org's proposal page does: `GET {hubUrl}/api/scores/{id}`
   * (hub.snapshot.org redirects to the sequencer). The hub holds the request until 60 s after the end. Retries
   * 429, 425, 5xx, network failures and "not yet" (`{result: false}`, `{error}`) with backoff, honouring
   * Retry-After, up to `retry.attempts`. True when the hub answered `{result: true}`; false otherwise (never
   * throws).
   */
  requestFinalScores: (proposal: string) => Promise<boolean>;
  getSpace: (id: string) => Promise<HubSpace | null>;
};

const ProposeInputSchema = z.object({
  space: z.string().min(1),
  title: z.string().min(1).max(256),
  body: z.string().max(10_000, 'body is over 10,000 characters (the hub limit)'),
  snapshot: z.number().int().nonnegative(),
  choices: z.array(z.string().min(1).max(256)).min(2).max(3),
  discussion: z.string().max(256),
  labels: z.array(z.string()).max(10),
  plugins: z.string().refine((text) => {
    try {
      const value = JSON.parse(text);
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    } catch {
      return false;
    }
  }, 'plugins must be a JSON object (invalid JSON silently becomes {} on the hub)'),
});

type Kind = 'proposal' | 'vote' | 'cancel';

/** The EIP-712 types of each kind of message, and the message id, from snapshot.js (loaded on first use). */
async function protocolFor(kind: Kind) {
  const protocol = await snapshotProtocol();
  const types: SignedData['types'] = {
    proposal: protocol.proposalTypes,
    vote: protocol.voteTypes,
    cancel: protocol.cancelProposalTypes,
  }[kind];
  const id = (message: Record<string, unknown>) =>
    protocol.messageId({ domain: { ...protocol.SNAPSHOT_DOMAIN }, types, message });
  return { protocol, types, id };
}

/** The bridge snapshot.js expects: an ethers-v5-style `_signTypedData`, backed by a viem account. */
export function viemTypedDataSigner(account: LocalAccount) {
  return {
    _signTypedData: (
      domain: Record<string, unknown>,
      types: Record<string, { name: string; type: string }[]>,
      message: Record<string, unknown>,
    ) =>
      account.signTypedData({
        domain,
        types,
        primaryType: Object.keys(types)[0] ?? '',
        message,
      } as Parameters<LocalAccount['signTypedData']>[0]),
  };
}

function graphqlUrl(hubUrl: string): string {
  return `${hubUrl.replace(/\/+$/, '')}/graphql`;
}

/** Where snapshot.org's page asks for final scores: the hub itself (`/api`), not the sequencer. */
function scoresUrl(hubUrl: string, proposal: string): string {
  return `${hubUrl.replace(/\/+$/, '')}/api/scores/${encodeURIComponent(proposal)}`;
}

const HUB_LIMITS_DOC = 'https://docs.snapshot.box/tools/api/api-keys';

/** The `error_description` of a hub reply body (`{error, error_description}`), or a short excerpt of it. */
function replyText(body: string | undefined): string {
  if (!body) return '';
  try {
    const parsed = JSON.parse(body) as { error_description?: unknown; errors?: { message?: unknown }[] };
    if (typeof parsed.error_description === 'string') return parsed.error_description;
    if (typeof parsed.errors?.[0]?.message === 'string') return parsed.errors[0].message;
  } catch {
    // not JSON: an HTML error page from a proxy
  }
  return body.replace(/\s+/g, ' ').slice(0, 120);
}

/**
 * What to say when a Snapshot service keeps refusing: which service, what limit, what to do. `messages` = the
 * sequencer (POST of signed messages), else the hub (GraphQL, scores).
 */
export function snapshotLimitAdvice(input: {
  url: string;
  messages: boolean;
  reason: RetryReason;
  attempts: number;
  waitedMs: number;
  askedMs?: number;
  hasApiKey: boolean;
}): { problem: string; hint: string } {
  const host = new URL(redactUrl(input.url)).host;
  const { reason } = input;
  const said = replyText(reason.body);
  const { tried, waitedOrAsked: waitAsked } = retriesSpent(input);
  if (reason.status === undefined) {
    return {
      problem: `cannot reach ${host} (${tried})`,
      hint: 'check governance.hubUrl and the network; retrying later is safe',
    };
  }
  const status = `HTTP ${reason.status}${said ? ` "${said}"` : ''}`;
  if (reason.status === 429) {
    if (input.messages) {
      return {
        problem: `${host} is rate-limiting this agent: ${status}, ${waitAsked}`,
        hint: `the sequencer accepts about 100 requests a minute per IP address, with or without an API key (${HUB_LIMITS_DOC}#limits): run the next cycle later (resending is safe: the same message id is never applied twice), and space out agents that share this IP (schedule.cron)`,
      };
    }
    const remaining = reason.headers?.get('x-api-key-remaining');
    return {
      problem: `${host} is rate-limiting this agent: ${status}, ${waitAsked}`,
      hint: input.hasApiKey
        ? `the API key's limit is used up${remaining !== null && remaining !== undefined ? ` (X-Api-Key-Remaining ${remaining})` : ''}: run cycles less often (schedule.cron) or ask Snapshot for a higher limit (${HUB_LIMITS_DOC})`
        : `without an API key the hub allows about 100 requests a minute per IP address: set TREASURY_SNAPSHOT_API_KEY (get a key: ${HUB_LIMITS_DOC}), or run cycles less often (schedule.cron)`,
    };
  }
  if (reason.status === 425) {
    return {
      problem: `${host} kept answering ${status} (the same message still being processed), ${waitAsked}`,
      hint: 'run the next cycle later: it finds the message if it was accepted, and never applies it twice',
    };
  }
  return {
    problem: `${host} kept failing: ${status}, ${waitAsked}`,
    hint: 'the Snapshot service is down or overloaded: retrying later is safe (the same message id is never applied twice)',
  };
}

/**
 * A Snapshot client: signs with snapshot.js `Client712` (real EIP-712 via a viem account), reads with the hub's
 * GraphQL, validates every reply. Sending retries 429/5xx/network failures with backoff, and before any
 * re-send asks the hub whether the message was already accepted.
 */
export function createSnapshotClient(options: SnapshotClientOptions): SnapshotClient {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? realSleep;
  const policy: BackoffPolicy = { ...DEFAULT_BACKOFF, ...options.retry };
  const attempts = policy.attempts;
  const baseDelay = policy.baseDelayMs;
  const maxDelay = policy.maxDelayMs;
  const hasApiKey = !!options.apiKey;
  /** Every request's headers: JSON, and the API key when there is one (as hub.snapshot.org reads it). */
  const headers = (json: boolean): Record<string, string> => ({
    accept: 'application/json',
    ...(json ? { 'content-type': 'application/json' } : {}),
    ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}),
  });
  const account = options.account;
  const app = options.app ?? 'treasury-agent';
  const gqlUrl = graphqlUrl(options.hubUrl);

  async function query<T>(
    text: string,
    variables: Record<string, unknown>,
    schema: z.ZodType<T>,
  ): Promise<T> {
    const body = JSON.stringify({ query: text, variables });
    const outcome = await withBackoff(
      async () => {
        try {
          return await classifyReply(await fetchFn(gqlUrl, { method: 'POST', headers: headers(true), body }));
        } catch (error) {
          return { retry: { error } };
        }
      },
      policy,
      sleep,
    );
    if ('gaveUp' in outcome) {
      const { problem, hint } = snapshotLimitAdvice({
        url: gqlUrl,
        messages: false,
        reason: outcome.gaveUp,
        attempts: outcome.attempts,
        waitedMs: outcome.waitedMs,
        askedMs: outcome.askedMs,
        hasApiKey,
      });
      throw new GovernanceError(`the hub's GraphQL did not answer: ${problem}`, {
        cause: outcome.gaveUp.error,
        hint,
      });
    }
    const response = outcome.done;
    if (response.status === 401) {
      const said = replyText(await response.text().catch(() => ''));
      throw new GovernanceError(`the hub refused the request: HTTP 401${said ? ` "${said}"` : ''}`, {
        hint: hasApiKey
          ? 'TREASURY_SNAPSHOT_API_KEY is not a valid Snapshot API key: fix it, or unset it to use the public limit'
          : 'the hub asks for an API key: set TREASURY_SNAPSHOT_API_KEY',
      });
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch (error) {
      throw new GovernanceError(`the hub's GraphQL replied with non-JSON (HTTP ${response.status})`, {
        cause: error,
      });
    }
    const envelope = z
      .object({ data: z.unknown().optional(), errors: z.array(z.object({ message: z.string() })).optional() })
      .safeParse(json);
    if (!envelope.success) {
      throw new GovernanceError("the hub's GraphQL reply is not {data, errors}", {
        details: z.prettifyError(envelope.error).split('\n'),
      });
    }
    if (envelope.data.errors?.length) {
      throw new GovernanceError(`the hub's GraphQL refused the query: ${envelope.data.errors[0]?.message}`);
    }
    const parsed = schema.safeParse(envelope.data.data);
    if (!parsed.success) {
      throw new GovernanceError('the hub replied with data of an unexpected shape', {
        details: z.prettifyError(parsed.error).split('\n'),
        hint: 'is the hub URL right? the reply is treated as untrusted input',
      });
    }
    return parsed.data;
  }

  const getProposal = async (id: string) =>
    (
      await query(
        `query Proposal($id: String!) { proposal(id: $id) { ${PROPOSAL_FIELDS} } }`,
        { id },
        z.object({ proposal: HubProposalSchema.nullable() }),
      )
    ).proposal;

  const getVote = async (id: string) =>
    (
      await query(
        `query Vote($id: String!) { votes(first: 1, where: { id: $id }) { ${VOTE_FIELDS} } }`,
        { id },
        z.object({ votes: z.array(HubVoteSchema).nullable() }),
      )
    ).votes?.[0] ?? null;

  /** Whether a message that may have been lost was in fact applied. */
  async function wasAccepted(kind: Kind, id: string, data: SignedData): Promise<boolean> {
    if (kind === 'proposal') return (await getProposal(id)) !== null;
    if (kind === 'vote') return (await getVote(id)) !== null;
    return (await getProposal(String(data.message.proposal))) === null;
  }

  /** Exponential backoff without a Retry-After: base × 2^(attempt−1), capped at maxDelayMs. */
  function delay(attempt: number): number {
    return Math.min(baseDelay * 2 ** (attempt - 1), maxDelay);
  }

  /** One scores request: done (the hub's answer), or retry after `retryAfter` ms (undefined = backoff). */
  async function scoresAttempt(
    proposal: string,
  ): Promise<{ done: boolean } | { retry: true; retryAfter?: number }> {
    let response: Response;
    try {
      response = await fetchFn(scoresUrl(options.hubUrl, proposal), {
        method: 'GET',
        headers: headers(false),
      });
    } catch {
      return { retry: true };
    }
    if (response.status === 429 || response.status === 425 || response.status >= 500) {
      await response.body?.cancel().catch(() => {});
      return { retry: true, retryAfter: retryAfterMs(response.headers.get('retry-after'), Date.now()) };
    }
    const json: unknown = await response.json().catch(() => undefined);
    const reply = ScoresRequestReplySchema.safeParse(json);
    // Any other status, or a reply of another shape (a hub without the endpoint, a proxy page): not ours to retry.
    if (!response.ok || !reply.success) return { done: false };
    if ('result' in reply.data) return reply.data.result ? { done: true } : { retry: true };
    return { retry: true }; // {error: 'failed'}: computing failed on the hub (e.g. its score API); try again
  }

  async function requestFinalScores(proposal: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await scoresAttempt(proposal);
      if ('done' in outcome) return outcome.done;
      if (attempt >= attempts) return false;
      const wait = outcome.retryAfter ?? Math.min(baseDelay * 2 ** (attempt - 1), maxDelay);
      // Honour Retry-After: if the hub asks for longer than we wait, stop here; the next call tries again.
      if (wait > maxDelay) return false;
      await sleep(wait);
    }
  }

  /**
   * Sends one signed envelope; the id is computed before sending and must match the reply. 429/425/5xx and
   * network failures are retried (Retry-After honoured up to `retry.maxRetryAfterMs`); before any re-send the
   * hub is asked whether the message was already accepted.
   */
  async function sendEnvelope(
    url: string,
    kind: Kind,
    envelope: { data: SignedData },
    signed?: { text: string; id: `0x${string}` },
  ): Promise<Receipt> {
    const expectedId =
      signed && JSON.stringify(envelope.data) === signed.text
        ? signed.id
        : (await snapshotProtocol()).messageId(envelope.data);
    let lastProblem: unknown;
    let lastReason: RetryReason | undefined;
    let askedMs: number | undefined;
    let wait = 0;
    let waitedMs = 0;
    let attempt = 0;
    for (; attempt < attempts; attempt++) {
      if (attempt > 0) {
        await sleep(wait);
        waitedMs += wait;
        try {
          if (await wasAccepted(kind, expectedId, envelope.data)) {
            return { id: expectedId, ipfs: null, relayer: null, recovered: true };
          }
        } catch (error) {
          // Cannot tell whether it was accepted: do not re-send blind; wait and ask again.
          lastProblem = error;
          wait = delay(attempt);
          continue;
        }
      }
      let response: Response;
      try {
        response = await fetchFn(url, {
          method: 'POST',
          headers: headers(true),
          body: JSON.stringify(envelope),
        });
      } catch (error) {
        lastProblem = error;
        lastReason = { error };
        wait = delay(attempt + 1);
        continue;
      }
      const text = await response.text().catch(() => '');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (response.ok) {
        const receipt = IngestReceiptSchema.safeParse(json);
        if (!receipt.success) {
          throw new GovernanceError('the hub accepted the message but its reply has an unexpected shape', {
            details: z.prettifyError(receipt.error).split('\n'),
          });
        }
        if (receipt.data.id.toLowerCase() !== expectedId.toLowerCase()) {
          throw new GovernanceError(`the hub replied with id ${receipt.data.id}, expected ${expectedId}`, {
            hint: 'the hub did not store the message that was signed; do not rely on this proposal',
          });
        }
        return { id: expectedId, ipfs: receipt.data.ipfs, relayer: receipt.data.relayer, recovered: false };
      }
      const refusal = HubErrorReplySchema.safeParse(json);
      if (response.status === 429 || response.status === 425 || response.status >= 500) {
        lastProblem = new HubRejectedError(
          response.status,
          refusal.success ? refusal.data.error : 'http_error',
          refusal.success ? refusal.data.error_description : response.statusText,
        );
        const asked = retryAfterMs(response.headers.get('retry-after'), Date.now());
        lastReason = { status: response.status, body: text, headers: response.headers, retryAfterMs: asked };
        if (asked !== undefined && asked > policy.maxRetryAfterMs) {
          askedMs = asked;
          attempt++;
          break;
        }
        wait = asked ?? delay(attempt + 1);
        continue;
      }
      if (refusal.success && refusal.data.error_description === 'duplicate message') {
        // The hub has a message with exactly this id: ours, sent before (a retry, or a resume after a crash).
        return { id: expectedId, ipfs: null, relayer: null, recovered: true };
      }
      throw new HubRejectedError(
        response.status,
        refusal.success ? refusal.data.error : 'http_error',
        refusal.success
          ? refusal.data.error_description
          : `unexpected reply ${JSON.stringify(json ?? text)?.slice(0, 200)}`,
      );
    }
    const advice = lastReason
      ? snapshotLimitAdvice({
          url,
          messages: true,
          reason: lastReason,
          attempts: attempt,
          waitedMs,
          askedMs,
          hasApiKey,
        })
      : undefined;
    throw new GovernanceError(
      `the hub did not accept the ${kind} after ${attempt} attempts${advice ? `: ${advice.problem}` : ''}`,
      {
        cause: lastProblem,
        details: [`message id ${expectedId}`],
        hint:
          advice?.hint ??
          'the hub may be down or rate-limiting; retrying later is safe (the same id is never applied twice)',
      },
    );
  }

  /**
   * snapshot.js Client712 whose transport is `sendEnvelope` (so status codes, retries and fetch are ours).
   * `signed` is what the signer signed, if it signed the digest computed beforehand (see `signAndSend`).
   */
  function clientFor(
    kind: Kind,
    Base: typeof Client712,
    signed: () => { text: string; id: `0x${string}` } | undefined,
  ) {
    let result: Receipt | undefined;
    class Client extends Base {
      override async send(envelope: { data: SignedData }) {
        result = await sendEnvelope(this.address, kind, envelope, signed());
        return result;
      }
    }
    return { client: new Client(options.hubUrl), result: () => result };
  }

  /**
   * The signer snapshot.js calls. The message id is the EIP-712 digest, computed once before snapshot.js is called;
   * hashing a 10,000-character body is most of the cost of signing, so when snapshot.js asks to sign exactly the
   * expected (domain, types, message), the signer signs that digest instead of hashing it again. Anything else is
   * signed as asked, and the id check after sending refuses it.
   */
  function digestSigner(expected: { text: string; id: `0x${string}` }) {
    let signed: typeof expected | undefined;
    const fallback = viemTypedDataSigner(account);
    return {
      signed: () => signed,
      signer: {
        _signTypedData: async (
          domain: Record<string, unknown>,
          types: Record<string, { name: string; type: string }[]>,
          message: Record<string, unknown>,
        ) => {
          if (account.sign && JSON.stringify({ domain, types, message }) === expected.text) {
            signed = expected;
            return account.sign({ hash: expected.id });
          }
          return fallback._signTypedData(domain, types, message);
        },
      },
    };
  }

  async function signAndSend(
    kind: Kind,
    message: Record<string, unknown>,
    call: (client: InstanceType<typeof Client712>, web3: never, from: string) => Promise<unknown>,
  ): Promise<Receipt> {
    const { protocol, types, id } = await protocolFor(kind);
    const expectedId = id(message);
    const { signer, signed } = digestSigner({
      text: JSON.stringify({ domain: { ...protocol.SNAPSHOT_DOMAIN }, types, message }),
      id: expectedId,
    });
    const { client, result } = clientFor(kind, protocol.Client712, signed);
    await call(client, signer as never, account.address);
    const receipt = result();
    if (!receipt) throw new GovernanceError(`snapshot.js did not send the ${kind}`);
    if (receipt.id !== expectedId) {
      throw new GovernanceError(
        `snapshot.js signed a different ${kind} (id ${receipt.id}, expected ${expectedId})`,
      );
    }
    return receipt;
  }

  async function prepareProposal(input: ProposeInput): Promise<PreparedMessage> {
    const timestamp = await clock();
    const start = 'delay' in input.timing ? timestamp + input.timing.delay : input.timing.start;
    const end = 'delay' in input.timing ? start + input.timing.period : input.timing.end;
    const checked = ProposeInputSchema.safeParse({
      space: input.space,
      title: input.title,
      body: input.body,
      snapshot: input.snapshot,
      choices: input.choices ?? [...(await snapshotProtocol()).BASIC_CHOICES],
      discussion: input.discussion ?? '',
      labels: input.labels ?? [],
      plugins: typeof input.plugins === 'string' ? input.plugins : JSON.stringify(input.plugins ?? {}),
    });
    if (!checked.success) {
      throw new GovernanceError('the proposal is not valid; nothing was signed', {
        details: z.prettifyError(checked.error).split('\n'),
      });
    }
    const p = checked.data;
    const message = {
      from: account.address,
      space: p.space,
      timestamp,
      type: 'basic',
      title: p.title,
      body: p.body,
      discussion: p.discussion,
      choices: p.choices,
      labels: p.labels,
      start,
      end,
      snapshot: p.snapshot,
      plugins: p.plugins,
      privacy: '',
      app,
    };
    return await prepared('proposal', message);
  }

  async function prepareVote(input: VoteInput): Promise<PreparedMessage> {
    if (!Number.isInteger(input.choice) || input.choice < 1) {
      throw new GovernanceError(`choice must be 1 (For), 2 (Against) or 3 (Abstain), got ${input.choice}`);
    }
    return prepared('vote', {
      from: account.address,
      space: input.space,
      timestamp: await clock(),
      proposal: input.proposal,
      choice: input.choice,
      reason: input.reason ?? '',
      app,
      metadata: '{}',
    });
  }

  async function prepareCancel(input: { space: string; proposal: string }): Promise<PreparedMessage> {
    return prepared('cancel', {
      from: account.address,
      space: input.space,
      timestamp: await clock(),
      proposal: input.proposal,
    });
  }

  /** Signs (deterministically: same message, same signature) and sends a prepared message with Client712. */
  async function send(message: PreparedMessage): Promise<Receipt> {
    if (message.from !== account.address) {
      throw new GovernanceError(
        `the prepared ${message.kind} is from ${message.from}, not ${account.address}`,
      );
    }
    const { id: idOf } = await protocolFor(message.kind);
    if (idOf(message.message) !== message.id) {
      throw new GovernanceError(`the prepared ${message.kind} does not hash to its id ${message.id}`, {
        hint: 'the stored message was altered; prepare it again',
      });
    }
    const copy = structuredClone(message.message);
    return signAndSend(message.kind, copy, (client, web3, from) =>
      message.kind === 'proposal'
        ? client.proposal(web3, from, copy as never)
        : message.kind === 'vote'
          ? client.vote(web3, from, copy as never)
          : client.cancelProposal(web3, from, copy as never),
    );
  }

  async function prepared(kind: Kind, message: Record<string, unknown>): Promise<PreparedMessage> {
    const { id } = await protocolFor(kind);
    return { kind, id: id(message), from: account.address, message };
  }

  return {
    address: account.address,
    prepareProposal,
    prepareVote,
    prepareCancel,
    send,
    propose: async (input) => send(await prepareProposal(input)),
    vote: async (input) => send(await prepareVote(input)),
    cancel: async (input) => send(await prepareCancel(input)),
    getProposal,
    getVote,

    async listProposals(space, listOptions = {}) {
      const result = await query(
        `query Proposals($space: String!, $first: Int!, $skip: Int!, $state: String) {
          proposals(first: $first, skip: $skip, where: { space: $space, state: $state }, orderBy: "created", orderDirection: desc) { ${PROPOSAL_FIELDS} } }`,
        {
          space,
          first: listOptions.first ?? 100,
          skip: listOptions.skip ?? 0,
          state: listOptions.state === 'all' ? undefined : listOptions.state,
        },
        z.object({ proposals: z.array(HubProposalSchema).nullable() }),
      );
      return result.proposals ?? [];
    },

    async getVotes(proposal) {
      const all: HubVote[] = [];
      for (let skip = 0; skip <= 5000; skip += 1000) {
        const page = await query(
          `query Votes($proposal: String!, $skip: Int!) {
            votes(first: 1000, skip: $skip, where: { proposal: $proposal }, orderBy: "created", orderDirection: desc) { ${VOTE_FIELDS} } }`,
          { proposal, skip },
          z.object({ votes: z.array(HubVoteSchema).nullable() }),
        );
        all.push(...(page.votes ?? []));
        if ((page.votes ?? []).length < 1000) break;
      }
      return all;
    },

    requestFinalScores,

    async getScores(proposal) {
      let p = await getProposal(proposal);
      if (p?.state === 'closed' && p.scores_state === 'pending' && (await requestFinalScores(proposal))) {
        p = await getProposal(proposal);
      }
      if (!p) return null;
      return {
        id: p.id,
        state: p.state,
        scoresState: p.scores_state,
        final: p.state === 'closed' && p.scores_state === 'final',
        choices: p.choices,
        scores: p.scores ?? [],
        scoresTotal: p.scores_total ?? 0,
        quorum: p.quorum,
        votes: p.votes ?? 0,
      };
    },

    async getSpace(id) {
      const result = await query(
        `query Space($id: String!) { space(id: $id) { ${SPACE_FIELDS} } }`,
        { id },
        z.object({ space: HubSpaceSchema.nullable() }),
      );
      return result.space;
    },
  };
}
