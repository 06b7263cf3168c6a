import { type Address, getAddress, type Hex, recoverAddress } from 'viem';
import { z } from 'zod';
import { ChainError, ConfigError, redactUrl } from '../shared/errors.ts';
import {
  type BackoffPolicy,
  classifyReply,
  DEFAULT_BACKOFF,
  humanDuration,
  type RetryReason,
  realSleep,
  retriesSpent,
  type Sleep,
  withBackoff,
} from '../shared/httpRetry.ts';
import { type SafeTxData, safeTxToJson } from './safeTransaction.ts';

/**
 * Where the Safe's other owners add their signatures (production: the Safe Transaction Service). The agent
 * proposes the voted transaction with its own signature; co-signers confirm in their wallets; the agent reads
 * the confirmations back and executes once the threshold is met. Two adapters: `safeTransactionService` (the
 * HTTP API, as @safe-global/api-kit calls it) and `memoryTransactionService` (tests and local runs).
 */
export type OwnerSignature = { owner: Address; signature: Hex };

export type TransactionService = {
  name: string;
  /** Proposes `safeTx` with the sender's signature; proposing the same safeTxHash again is a no-op. */
  propose: (input: {
    safe: Address;
    safeTx: SafeTxData;
    safeTxHash: Hex;
    sender: Address;
    senderSignature: Hex;
  }) => Promise<void>;
  /** The owners' signatures collected so far for `safeTxHash` (empty when unknown). */
  confirmations: (safeTxHash: Hex) => Promise<OwnerSignature[]>;
};

/** Keeps only signatures that recover to their owner over safeTxHash (an EIP-712 digest): forged ones never count. */
export async function verifiedSignatures(
  safeTxHash: Hex,
  signatures: OwnerSignature[],
): Promise<OwnerSignature[]> {
  const valid: OwnerSignature[] = [];
  for (const s of signatures) {
    try {
      if ((await recoverAddress({ hash: safeTxHash, signature: s.signature })) === getAddress(s.owner))
        valid.push(s);
    } catch {
      // malformed signature: not counted
    }
  }
  return valid;
}

export function memoryTransactionService(): TransactionService & {
  confirm: (safeTxHash: Hex, owner: Address, signature: Hex) => void;
  proposed: (safeTxHash: Hex) => boolean;
} {
  const store = new Map<string, Map<Address, Hex>>();
  return {
    name: 'memory',
    async propose(input) {
      const key = input.safeTxHash.toLowerCase();
      const confirmations = store.get(key) ?? new Map<Address, Hex>();
      confirmations.set(getAddress(input.sender), input.senderSignature);
      store.set(key, confirmations);
    },
    async confirmations(safeTxHash) {
      return [...(store.get(safeTxHash.toLowerCase()) ?? new Map()).entries()].map(([owner, signature]) => ({
        owner,
        signature,
      }));
    },
    confirm(safeTxHash, owner, signature) {
      const confirmations = store.get(safeTxHash.toLowerCase());
      if (!confirmations) throw new Error(`unknown transaction ${safeTxHash}`);
      confirmations.set(getAddress(owner), signature);
    },
    proposed: (safeTxHash) => store.has(safeTxHash.toLowerCase()),
  };
}

/** Where api-kit finds the hosted service: `https://api.safe.global/tx-service/<shortName>/api`. */
export const HOSTED_TRANSACTION_SERVICE = 'https://api.safe.global/tx-service';

/**
 * The chains of the hosted Transaction Service and their short names, as @safe-global/api-kit 5.0.3 lists them
 * (src/utils/config.ts; a test compares this copy with the installed api-kit).
 */
export const HOSTED_TRANSACTION_SERVICE_CHAINS: Readonly<Record<number, string>> = {
  1: 'eth',
  10: 'oeth',
  50: 'xdc',
  56: 'bnb',
  100: 'gno',
  130: 'unichain',
  137: 'pol',
  143: 'monad',
  146: 'sonic',
  196: 'okb',
  204: 'opbnb',
  232: 'lens',
  324: 'zksync',
  480: 'wc',
  677: 'bot',
  988: 'stable',
  999: 'hyper',
  1001: 'kairos',
  1672: 'pharos',
  1874: 'wch-sepolia',
  3338: 'peaq',
  4217: 'tempo',
  4326: 'mega',
  4663: 'robinhood',
  5000: 'mantle',
  5003: 'mnt-sep',
  5042: 'arc',
  8217: 'kaia',
  8453: 'base',
  9745: 'plasma',
  10143: 'monad-testnet',
  10200: 'chi',
  16661: '0g',
  25363: 'fluent',
  42161: 'arb1',
  42220: 'celo',
  42431: 'tempo-moderato',
  43111: 'hemi',
  43114: 'avax',
  46630: 'robinhood-testnet',
  57073: 'ink',
  59144: 'linea',
  80069: 'bep',
  80094: 'berachain',
  84532: 'basesep',
  102030: 'ctc',
  534352: 'scr',
  747474: 'katana',
  5042002: 'arc-testnet',
  11142220: 'celo-sep',
  11155111: 'sep',
  1313161554: 'aurora',
};

const SAFE_API_DOCS = 'https://developer.safe.global';

/** Whether a Transaction Service URL is Safe's hosted one (api-kit requires a key for these domains). */
export function isHostedTransactionService(url: string): boolean {
  return url.includes('api.safe.global') || url.includes('api.5afe.dev');
}

/**
 * The service's base URL (ending in `/api`) for a config, with api-kit's rule: Safe's hosted service
 * (api.safe.global) needs an API key; a self-hosted `txServiceUrl` does not.
 */
export function transactionServiceBaseUrl(options: {
  chainId: number;
  txServiceUrl?: string;
  apiKey?: string;
}): string {
  if (options.txServiceUrl) {
    if (isHostedTransactionService(options.txServiceUrl) && !options.apiKey) {
      throw new ConfigError(
        'TREASURY_SAFE_API_KEY is not set: the hosted Safe Transaction Service requires one',
        {
          hint: `get a key at ${SAFE_API_DOCS} and export TREASURY_SAFE_API_KEY, or set execution.transactionServiceUrl to a self-hosted service`,
        },
      );
    }
    return options.txServiceUrl.replace(/\/+$/, '');
  }
  if (!options.apiKey) {
    throw new ConfigError(
      'TREASURY_SAFE_API_KEY is not set: the hosted Safe Transaction Service requires one',
      {
        hint: `get a key at ${SAFE_API_DOCS} and export TREASURY_SAFE_API_KEY, or set execution.transactionServiceUrl to a self-hosted service`,
      },
    );
  }
  const shortName = HOSTED_TRANSACTION_SERVICE_CHAINS[options.chainId];
  if (!shortName) {
    throw new ConfigError(`Safe hosts no Transaction Service for chain ${options.chainId}`, {
      hint: 'run your own (safe-global/safe-transaction-service) and set execution.transactionServiceUrl',
    });
  }
  return `${HOSTED_TRANSACTION_SERVICE}/${shortName}/api`;
}

const ConfirmationsReplySchema = z.object({
  confirmations: z
    .array(z.object({ owner: z.string(), signature: z.string().nullable() }))
    .nullable()
    .optional(),
});

const SafeInfoReplySchema = z.object({
  nonce: z.union([z.string(), z.number()]),
  threshold: z.number(),
  owners: z.array(z.string()),
  version: z.string().nullable().optional(),
});

/** The `detail` (DRF) or `message` of a reply body, or a short excerpt of it. */
function detailOf(body: string | undefined): string {
  if (!body) return '';
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    for (const key of ['detail', 'message', 'nonFieldErrors', 'data']) {
      const value = parsed[key];
      if (typeof value === 'string') return value;
      if (Array.isArray(value) && typeof value[0] === 'string') return value.join('; ');
    }
  } catch {
    // an HTML page from a gateway
  }
  return body.replace(/\s+/g, ' ').slice(0, 160);
}

/**
 * What to say when the service keeps refusing: which service, what limit, what to do. Safe's documentation
 * (docs.safe.global/core-api/api-authentication): 2 requests/s and 5,000 a month without a key, 5/s and 50,000
 * a month on the free plan with one; quota headers X-RateLimit-Limit/-Remaining/-Reset (seconds), X-RateLimit-Plan;
 * a used-up monthly quota answers 429 `{"detail": "Monthly quota exceeded."}`.
 */
export function safeServiceLimitAdvice(input: {
  baseUrl: string;
  reason: RetryReason;
  attempts: number;
  waitedMs: number;
  askedMs?: number;
  hasApiKey: boolean;
}): { problem: string; hint: string } {
  const host = new URL(redactUrl(input.baseUrl)).host;
  const { reason } = input;
  const { tried, waitedOrAsked } = retriesSpent(input);
  if (reason.status === undefined) {
    return {
      problem: `the Safe Transaction Service did not answer at ${host} (${tried})`,
      hint: 'check execution.transactionServiceUrl and the network; retrying later is safe (proposing the same safeTxHash twice is a no-op)',
    };
  }
  const detail = detailOf(reason.body);
  const status = `HTTP ${reason.status}${detail ? ` "${detail}"` : ''}`;
  const header = (name: string) => reason.headers?.get(name) ?? undefined;
  if (reason.status === 429) {
    const limit = header('x-ratelimit-limit');
    const reset = Number(header('x-ratelimit-reset'));
    const plan = header('x-ratelimit-plan');
    const rps = header('x-consumer-rps');
    if (/monthly quota/i.test(detail)) {
      return {
        problem: `the Safe Transaction Service (${host}) refuses every request: ${status}`,
        hint: `the account's monthly quota${limit ? ` of ${limit} requests` : ''} is used up${Number.isFinite(reset) && reset > 0 ? ` until it resets in ${humanDuration(reset * 1000)}` : ''}: upgrade the plan at ${SAFE_API_DOCS}, or wait for the reset (nothing was proposed)`,
      };
    }
    return {
      problem: `the Safe Transaction Service (${host}) is rate-limiting this agent: ${status}, ${waitedOrAsked}`,
      hint: input.hasApiKey
        ? `the plan's limit is reached${plan ? ` (plan ${plan}${rps ? `, ${rps} requests/s` : ''})` : ''}: run cycles less often (schedule.cron) or upgrade the plan at ${SAFE_API_DOCS}`
        : `without an API key the service allows about 2 requests a second and 5,000 a month: set TREASURY_SAFE_API_KEY (get one at ${SAFE_API_DOCS}), or run cycles less often (schedule.cron)`,
    };
  }
  return {
    problem: `the Safe Transaction Service (${host}) kept failing: ${status}, ${tried}`,
    hint: 'the service is down or overloaded: retrying later is safe (proposing the same safeTxHash twice is a no-op)',
  };
}

export type SafeTransactionServiceOptions = {
  chainId: number;
  /** A self-hosted service (`https://…/api`); default: Safe's hosted one for the chain, which needs `apiKey`. */
  txServiceUrl?: string;
  /** TREASURY_SAFE_API_KEY: sent as `Authorization: Bearer <key>`, as api-kit sends it. Never logged. */
  apiKey?: string;
  fetch?: typeof globalThis.fetch;
  sleep?: Sleep;
  retry?: Partial<BackoffPolicy>;
};

/**
 * The Safe Transaction Service over HTTP, with the requests @safe-global/api-kit 5.0.3 makes (a test sends the
 * same calls through api-kit and this adapter to one server and compares them):
 * - `getTransaction`: GET `{base}/v2/multisig-transactions/{safeTxHash}/` (404: unknown);
 * - `proposeTransaction`: POST `{base}/v2/safes/{safe}/multisig-transactions/` with the SafeTx fields,
 *   `contractTransactionHash`, `sender`, `signature`, `origin` (201, empty body).
 * Unlike api-kit, it sees the replies' headers: 429 and 5xx are retried honouring Retry-After, a used-up monthly
 * quota is reported at once, and a lasting limit says which limit and what to do. 401/403 are not retried.
 */
export type SafeServiceInfo = { nonce: number; threshold: number; owners: Address[]; version: string | null };

export function safeTransactionService(options: SafeTransactionServiceOptions): TransactionService & {
  /** `GET {base}/v1/safes/{safe}/`: the Safe as the service indexed it, or null when it does not know it. */
  safeInfo: (safe: Address) => Promise<SafeServiceInfo | null>;
} {
  const base = transactionServiceBaseUrl(options);
  const fetchFn = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? realSleep;
  const policy: BackoffPolicy = { ...DEFAULT_BACKOFF, ...options.retry };
  const hasApiKey = !!options.apiKey;
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'Content-Type': 'application/json',
    ...(options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {}),
  };

  /** One request with backoff; the final reply (any status but 429/425/5xx), or a ChainError saying why not. */
  async function request(
    what: string,
    init: { method: 'GET' | 'POST'; path: string; body?: unknown },
    beforeRetry?: () => Promise<Response | undefined>,
  ): Promise<Response> {
    const url = `${base}${init.path}`;
    const outcome = await withBackoff(
      async (n) => {
        if (n > 1 && beforeRetry) {
          const settled = await beforeRetry();
          if (settled) return { done: settled };
        }
        try {
          const reply = await fetchFn(url, {
            method: init.method,
            headers,
            body: init.body === undefined ? undefined : JSON.stringify(init.body),
          });
          const classified = await classifyReply(reply);
          // A used-up monthly quota will not clear by waiting a few seconds: report it now.
          if (
            'retry' in classified &&
            classified.retry.status === 429 &&
            /monthly quota/i.test(classified.retry.body ?? '')
          ) {
            return {
              done: new Response(classified.retry.body, { status: 429, headers: classified.retry.headers }),
            };
          }
          return classified;
        } catch (error) {
          return { retry: { error } };
        }
      },
      policy,
      sleep,
    );
    if ('gaveUp' in outcome) {
      const { problem, hint } = safeServiceLimitAdvice({
        baseUrl: base,
        reason: outcome.gaveUp,
        attempts: outcome.attempts,
        waitedMs: outcome.waitedMs,
        askedMs: outcome.askedMs,
        hasApiKey,
      });
      throw new ChainError(`${what}: ${problem}`, { cause: outcome.gaveUp.error, hint });
    }
    const reply = outcome.done;
    if (reply.status === 429) {
      const body = await reply.text().catch(() => '');
      const { problem, hint } = safeServiceLimitAdvice({
        baseUrl: base,
        reason: { status: 429, body, headers: reply.headers },
        attempts: 1,
        waitedMs: 0,
        hasApiKey,
      });
      throw new ChainError(`${what}: ${problem}`, { hint });
    }
    if (reply.status === 401 || reply.status === 403) {
      const detail = detailOf(await reply.text().catch(() => ''));
      throw new ChainError(
        `${what}: the Safe Transaction Service refused the request (HTTP ${reply.status}${detail ? ` "${detail}"` : ''})`,
        {
          hint: hasApiKey
            ? `TREASURY_SAFE_API_KEY was refused: check it at ${SAFE_API_DOCS} (keys expire and can be revoked)`
            : `the service requires an API key: set TREASURY_SAFE_API_KEY (get one at ${SAFE_API_DOCS})`,
        },
      );
    }
    return reply;
  }

  /** The transaction as the service has it, or null when it does not know the safeTxHash. */
  async function getTransaction(safeTxHash: Hex) {
    const reply = await request('reading a transaction from the Safe Transaction Service', {
      method: 'GET',
      path: `/v2/multisig-transactions/${safeTxHash}/`,
    });
    if (reply.status === 404) {
      await reply.body?.cancel().catch(() => {});
      return null;
    }
    const text = await reply.text().catch(() => '');
    if (!reply.ok) {
      throw new ChainError(
        `the Safe Transaction Service answered HTTP ${reply.status} for ${safeTxHash}: ${detailOf(text)}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = ConfirmationsReplySchema.safeParse(json);
    if (!parsed.success) {
      throw new ChainError('the Safe Transaction Service replied with a transaction of an unexpected shape', {
        details: z.prettifyError(parsed.error).split('\n'),
        hint: 'is execution.transactionServiceUrl right (it ends in /api)?',
      });
    }
    return parsed.data;
  }

  return {
    name: `safe-transaction-service ${redactUrl(base)}`,
    async safeInfo(safe) {
      const reply = await request('reading the Safe from the Safe Transaction Service', {
        method: 'GET',
        path: `/v1/safes/${getAddress(safe)}/`,
      });
      if (reply.status === 404) {
        await reply.body?.cancel().catch(() => {});
        return null;
      }
      const text = await reply.text().catch(() => '');
      const parsed = SafeInfoReplySchema.safeParse(
        (() => {
          try {
            return JSON.parse(text);
          } catch {
            return undefined;
          }
        })(),
      );
      if (!reply.ok || !parsed.success) {
        throw new ChainError(
          `the Safe Transaction Service answered HTTP ${reply.status} for the Safe: ${detailOf(text)}`,
          { hint: 'is execution.transactionServiceUrl right (it ends in /api)?' },
        );
      }
      return {
        nonce: Number(parsed.data.nonce),
        threshold: parsed.data.threshold,
        owners: parsed.data.owners.map((o) => getAddress(o)),
        version: parsed.data.version ?? null,
      };
    },
    async propose(input) {
      if (await getTransaction(input.safeTxHash)) return; // already proposed
      const body = {
        ...safeTxToJson(input.safeTx),
        operation: input.safeTx.operation,
        contractTransactionHash: input.safeTxHash,
        sender: getAddress(input.sender),
        signature: input.senderSignature,
        origin: 'dao-treasury-agent',
      };
      const reply = await request(
        'proposing to the Safe Transaction Service',
        { method: 'POST', path: `/v2/safes/${getAddress(input.safe)}/multisig-transactions/`, body },
        // A reply lost after the service stored it: find the transaction instead of posting it again.
        async () =>
          (await getTransaction(input.safeTxHash)) ? new Response(null, { status: 201 }) : undefined,
      );
      const text = await reply.text().catch(() => '');
      if (!reply.ok) {
        throw new ChainError(
          `the Safe Transaction Service refused the proposal (HTTP ${reply.status}): ${detailOf(text)}`,
          {
            hint: 'the transaction, its signature or the sender (an owner of the Safe) is not what the service expects',
          },
        );
      }
    },
    async confirmations(safeTxHash) {
      const tx = await getTransaction(safeTxHash);
      return (tx?.confirmations ?? [])
        .filter((c): c is { owner: string; signature: string } => !!c.signature)
        .map((c) => ({ owner: getAddress(c.owner), signature: c.signature as Hex }));
    },
  };
}
