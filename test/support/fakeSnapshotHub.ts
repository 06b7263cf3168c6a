import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { messageId, type SignedData } from '../../governance/snapshotProtocol.ts';

/**
 * A local stand-in for hub.snapshot.org and seq.snapshot.org, with their access rules as their sources have them:
 * - snapshot-hub src/helpers/keycard.ts: the key is read from the `x-api-key` header (or `?apiKey=`); an unknown
 *   key gets 401 `{"error":"client_error","error_description":"invalid api key"}`; a valid key skips the
 *   per-IP limiter (src/helpers/rateLimit.ts) and its replies carry X-Api-Key-Limit/-Remaining/-Reset.
 * - Over the limit (express-rate-limit, 100 requests/min per IP, standardHeaders): 429
 *   `{"error":"client_error","error_description":"too many requests, refer to https://docs.snapshot.box/tools/api/api-keys#limits"}`
 *   (the sequencer's text says docs.snapshot.org) with RateLimit-Limit/-Remaining/-Reset and Retry-After.
 * - POST /graphql answers `{data}`; POST / (the sequencer) answers `{id, ipfs, relayer}`; GET /api/scores/{id}
 *   answers `{result: true}`.
 * Limits here are not counted: replies are injected (`limit(n)` answers the next n requests with a 429).
 */
export type HubRequest = { method: string; path: string; headers: IncomingHttpHeaders; body: unknown };
export type InjectedHubReply = { status: number; body: string; headers?: Record<string, string> };

export const HUB_TOO_MANY = JSON.stringify({
  error: 'client_error',
  error_description: 'too many requests, refer to https://docs.snapshot.box/tools/api/api-keys#limits',
});
export const SEQUENCER_TOO_MANY = JSON.stringify({
  error: 'client_error',
  error_description: 'too many requests, refer to https://docs.snapshot.org/tools/api/api-keys#limits',
});

/** The 429 express-rate-limit sends (standard headers, Retry-After in seconds). */
export function tooManyRequests(body = HUB_TOO_MANY, retryAfterSeconds = 60): InjectedHubReply {
  return {
    status: 429,
    body,
    headers: {
      'ratelimit-limit': '100',
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(retryAfterSeconds),
      'retry-after': String(retryAfterSeconds),
    },
  };
}

export type FakeSnapshotHub = {
  url: string;
  requests: HubRequest[];
  inject: (...replies: InjectedHubReply[]) => void;
  /** Spaces `space(id)` returns (as the real hub formats them). */
  spaces: Map<string, Record<string, unknown>>;
  close: () => Promise<void>;
};

export async function startFakeSnapshotHub(options: { validKeys?: string[] } = {}): Promise<FakeSnapshotHub> {
  const requests: HubRequest[] = [];
  const injected: InjectedHubReply[] = [];
  const spaces = new Map<string, Record<string, unknown>>();
  const proposals = new Map<string, Record<string, unknown>>();
  const validKeys = new Set(options.validKeys ?? []);

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
    const url = new URL(req.url ?? '/', 'http://hub');
    requests.push({ method: req.method ?? 'GET', path: url.pathname, headers: req.headers, body });
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(json));
    };
    const key =
      (req.headers['x-api-key'] as string | undefined) ?? url.searchParams.get('apiKey') ?? undefined;
    if (key !== undefined && !validKeys.has(key)) {
      return reply(401, { error: 'client_error', error_description: 'invalid api key' });
    }
    const keyHeaders: Record<string, string> = key
      ? { 'x-api-key-limit': '2000000', 'x-api-key-remaining': '1999990', 'x-api-key-reset': '2592000' }
      : {};
    const next = injected.shift();
    if (next) {
      res.writeHead(next.status, {
        'content-type': 'application/json; charset=utf-8',
        ...keyHeaders,
        ...next.headers,
      });
      return res.end(next.body);
    }
    if (req.method === 'POST' && url.pathname === '/graphql') {
      const { query, variables } = body as { query: string; variables: Record<string, unknown> };
      if (/\bspace\(id:/.test(query)) {
        return reply(200, { data: { space: spaces.get(String(variables.id)) ?? null } }, keyHeaders);
      }
      if (/\bproposal\(id:/.test(query)) {
        return reply(200, { data: { proposal: proposals.get(String(variables.id)) ?? null } }, keyHeaders);
      }
      if (/\bvotes\(/.test(query)) return reply(200, { data: { votes: [] } }, keyHeaders);
      if (/\bproposals\(/.test(query)) return reply(200, { data: { proposals: [] } }, keyHeaders);
      return reply(400, { errors: [{ message: 'Cannot query field on type "Query".' }] });
    }
    if (req.method === 'POST' && url.pathname === '/') {
      const envelope = body as { address: string; data: SignedData };
      const id = messageId(envelope.data);
      return reply(200, {
        id,
        ipfs: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku',
        relayer: { address: '0x8BBE4Ac64246d600BC2889ef5d83809D138F03DF', receipt: `0x${'11'.repeat(65)}` },
      });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/api/scores/')) return reply(200, { result: true });
    return reply(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject: (...replies) => injected.push(...replies),
    spaces,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
