import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Address, getAddress, type Hex } from 'viem';

/**
 * A local stand-in for the Safe Transaction Service (safe-global/safe-transaction-service behind api.safe.global)
 * with the endpoints api-kit calls for proposing and reading a transaction, their reply shapes and status codes:
 * - GET  /api/v2/multisig-transactions/{safeTxHash}/ → 200 the transaction (v2 shape) | 404 DRF `{"detail": …}`
 * - POST /api/v2/safes/{safe}/multisig-transactions/ → 201, empty body | 422 `{"nonFieldErrors": […]}`
 * - GET  /api/v1/safes/{safe}/ → 200 the Safe as the service indexed it
 * - GET  /api/v1/about/ → 200 `{name, version, …}`
 * With `apiKey` set, a request without `Authorization: Bearer <apiKey>` gets 401 (DRF's messages; the hosted
 * gateway's exact wording is not published). Replies can be injected in front of the real ones (429 with Safe's
 * quota headers, 5xx), and `loseNextProposeReply` stores a proposal but answers 502, as a gateway that lost it.
 */
export type FakeRequest = {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
};

export type InjectedReply = { status: number; body: string; headers?: Record<string, string> };

type StoredTx = {
  safe: Address;
  body: Record<string, unknown>;
  confirmations: { owner: Address; signature: Hex; submissionDate: string }[];
};

export type FakeSafeTransactionService = {
  /** Base URL as configured (`execution.transactionServiceUrl`): ends in /api. */
  url: string;
  requests: FakeRequest[];
  inject: (...replies: InjectedReply[]) => void;
  /** Adds an owner's confirmation, as a co-signer's wallet does. */
  confirm: (safeTxHash: Hex, owner: Address, signature: Hex) => void;
  /** The Safe as `GET /v1/safes/{safe}/` reports it. */
  safes: Map<
    string,
    { owners: Address[]; threshold: number; nonce: number; modules: Address[]; guard: Address }
  >;
  state: { apiKey?: string; loseNextProposeReply: boolean };
  close: () => Promise<void>;
};

/** The 429 Safe's documentation shows when an account's monthly quota is used up. */
export const MONTHLY_QUOTA_REPLY: InjectedReply = {
  status: 429,
  body: JSON.stringify({ detail: 'Monthly quota exceeded.' }),
  headers: {
    'x-ratelimit-limit': '50000',
    'x-ratelimit-remaining': '0',
    'x-ratelimit-reset': '1209600',
    'x-ratelimit-plan': 'builder',
  },
};

/** A per-second limit: 429 with Retry-After. */
export function rateLimitReply(retryAfterSeconds?: number): InjectedReply {
  return {
    status: 429,
    body: JSON.stringify({ detail: 'Request was throttled.' }),
    headers: {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4990',
      'x-ratelimit-reset': '2591751',
      ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
    },
  };
}

export async function startFakeSafeTransactionService(
  options: { apiKey?: string } = {},
): Promise<FakeSafeTransactionService> {
  const requests: FakeRequest[] = [];
  const injected: InjectedReply[] = [];
  const store = new Map<string, StoredTx>();
  const safes: FakeSafeTransactionService['safes'] = new Map();
  const state = { apiKey: options.apiKey, loseNextProposeReply: false };

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
    const reply = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
        'x-ratelimit-limit': '50000',
        'x-ratelimit-remaining': '49994',
        'x-ratelimit-reset': '2591751',
        ...headers,
      });
      res.end(json === undefined ? '' : JSON.stringify(json));
    };

    if (state.apiKey !== undefined) {
      const auth = req.headers.authorization;
      if (!auth) return reply(401, { detail: 'Authentication credentials were not provided.' });
      if (auth !== `Bearer ${state.apiKey}`)
        return reply(401, { detail: 'Incorrect authentication credentials.' });
    }
    const next = injected.shift();
    if (next) {
      res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      return res.end(next.body);
    }

    let m = /^\/api\/v2\/multisig-transactions\/(0x[0-9a-fA-F]{64})\/$/.exec(path);
    if (m && req.method === 'GET') {
      const tx = store.get(m[1]!.toLowerCase());
      if (!tx) return reply(404, { detail: 'No MultisigTransaction matches the given query.' });
      return reply(200, transactionJson(m[1] as Hex, tx));
    }
    m = /^\/api\/v2\/safes\/(0x[0-9a-fA-F]{40})\/multisig-transactions\/$/.exec(path);
    if (m && req.method === 'POST') {
      const b = body as Record<string, unknown>;
      const hash = String(b?.contractTransactionHash ?? '').toLowerCase();
      if (!/^0x[0-9a-f]{64}$/.test(hash) || typeof b.signature !== 'string' || typeof b.sender !== 'string') {
        return reply(422, { nonFieldErrors: ['Invalid data'] });
      }
      if (getAddress(m[1]!) !== m[1]) return reply(422, { safe: ['Checksum address validation failed'] });
      store.set(hash, {
        safe: m[1] as Address,
        body: b,
        confirmations: [
          {
            owner: getAddress(b.sender),
            signature: b.signature as Hex,
            submissionDate: new Date(0).toISOString(),
          },
        ],
      });
      if (state.loseNextProposeReply) {
        state.loseNextProposeReply = false;
        res.writeHead(502, { 'content-type': 'text/html' });
        return res.end('<html><body>502 Bad Gateway</body></html>');
      }
      return reply(201);
    }
    m = /^\/api\/v1\/safes\/(0x[0-9a-fA-F]{40})\/$/.exec(path);
    if (m && req.method === 'GET') {
      const safe = safes.get(getAddress(m[1]!));
      if (!safe) return reply(404, { detail: 'Not found.' });
      return reply(200, {
        address: getAddress(m[1]!),
        nonce: String(safe.nonce),
        threshold: safe.threshold,
        owners: safe.owners,
        singleton: '0x41675C099F32341bf84BFc5382aF534df5C7461a',
        modules: safe.modules,
        fallbackHandler: '0xfd0732Dc9E303f09fCEf3a7388Ad10A83459Ec99',
        guard: safe.guard,
        version: '1.4.1',
      });
    }
    if (path === '/api/v1/about/' && req.method === 'GET') {
      return reply(200, {
        name: 'Safe Transaction Service',
        version: '5.x',
        api_version: 'v1',
        secure: true,
      });
    }
    return reply(404, { detail: 'Not found.' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api`,
    requests,
    inject: (...replies) => injected.push(...replies),
    confirm(safeTxHash, owner, signature) {
      const tx = store.get(safeTxHash.toLowerCase());
      if (!tx) throw new Error(`unknown ${safeTxHash}`);
      tx.confirmations.push({
        owner: getAddress(owner),
        signature,
        submissionDate: new Date(0).toISOString(),
      });
    },
    safes,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `GET /v2/multisig-transactions/{hash}/` as the service answers it (fields of its v2 serializer). */
function transactionJson(safeTxHash: Hex, tx: StoredTx) {
  const b = tx.body;
  return {
    safe: tx.safe,
    to: b.to,
    value: b.value,
    data: b.data,
    operation: b.operation,
    gasToken: b.gasToken,
    safeTxGas: b.safeTxGas,
    baseGas: b.baseGas,
    gasPrice: b.gasPrice,
    refundReceiver: b.refundReceiver,
    nonce: b.nonce,
    executionDate: null,
    submissionDate: new Date(0).toISOString(),
    modified: new Date(0).toISOString(),
    blockNumber: null,
    transactionHash: null,
    safeTxHash,
    proposer: b.sender,
    proposedByDelegate: null,
    executor: null,
    isExecuted: false,
    isSuccessful: null,
    ethGasPrice: null,
    maxFeePerGas: null,
    maxPriorityFeePerGas: null,
    gasUsed: null,
    fee: null,
    origin: b.origin ?? null,
    dataDecoded: null,
    confirmationsRequired: 2,
    confirmations: tx.confirmations.map((c) => ({
      owner: c.owner,
      submissionDate: c.submissionDate,
      transactionHash: null,
      signature: c.signature,
      signatureType: 'EOA',
    })),
    trusted: true,
    signatures: null,
  };
}
