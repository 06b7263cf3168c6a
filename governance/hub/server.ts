import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { type Clock, chainClock, systemClock } from '../clock.ts';
import { HubError } from '../errors.ts';
import { type HubChain, rpcHubChain } from './chain.ts';
import { createHubGraphql } from './graphql.ts';
import { createHubRoutes } from './routes.ts';
import { abortableSleep, createScores } from './scores.ts';
import { createSequencer, type ProposalLimits } from './sequencer.ts';
import {
  inlineSignaturePool,
  nativeSignatures,
  type SignaturePool,
  workerSignaturePool,
} from './signaturePool.ts';
import { loadSpacesFile, parseSpaces, type Space, type SpaceInput } from './spaces.ts';
import { HubStore } from './store.ts';

export type StartHubOptions = {
  /** TCP port on `host`; 0 or absent picks a free one. */
  port?: number;
  host?: string;
  /** Spaces as data, or the path of a spaces file (JSON or YAML). */
  spaces: SpaceInput[] | Space[] | string;
  /** JSON-RPC of the chain the spaces live on (voting power, snapshot blocks, EIP-1271). */
  rpcUrl: string;
  /** SQLite file; everything the hub accepted lives there (`:memory:` for a throw-away hub). */
  dbPath: string;
  /**
   * "Now" for the hub's checks and `state`: `'chain'` (default) = latest block time of `rpcUrl`, so moving
   * anvil's time moves the hub; `'system'` = wall clock; or any Clock (tests).
   */
  clock?: Clock | 'chain' | 'system';
  /** Replaces the JSON-RPC chain adapter (tests of EIP-1271, other chains). */
  chain?: HubChain;
  limits?: Partial<ProposalLimits>;
  /** Requests per minute per IP on the message and scores endpoints before HTTP 429 (0 = no limit, the default). */
  rateLimitPerMinute?: number;
  /**
   * The hold of a scores request made less than 60 s after a proposal's end (`GET /scores/{id}` waits until
   * 60 s after it, like the real sequencer). Default: a timer, ended when the hub stops. Tests pass one that
   * moves their clock.
   */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Worker threads for signature recovery and receipts. Default 0 when libsecp256k1 loads (~0.05 ms per
   * signature: a thread hop costs more); without it CPUs − 2 from 4 CPUs up, at most 4; else 0.
   */
  workers?: number;
  /** Unexpected errors (HTTP 500) are reported here; default: printed to stderr. */
  onError?: (error: unknown) => void;
  /**
   * Told of every answered request: method, path (without the query), status and milliseconds; never a body,
   * a signature or an address. `treasury hub` logs one line each with it.
   */
  onRequest?: (request: HubRequestLog) => void;
};

export type HubRequestLog = { method: string; path: string; status: number; ms: number };

export type HubInstance = {
  /** Where `Client712` posts (the root URL). GraphQL is at `${url}/graphql`. */
  url: string;
  graphqlUrl: string;
  port: number;
  relayer: `0x${string}`;
  /** Stops accepting connections, waits for open requests, closes the database. Safe to call twice. */
  stop: () => Promise<void>;
};

const MAX_BODY = 2_000_000;

function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'access-control-allow-origin': '*',
  });
  response.end(text);
}

/**
 * Starts the Snapshot-compatible hub: POST / takes what snapshot.js `Client712` sends, /graphql serves the hub's
 * queries. Checks the chain and the spaces before listening; on any start-up failure nothing is left open.
 */
export async function startHub(options: StartHubOptions): Promise<HubInstance> {
  const spaces =
    typeof options.spaces === 'string' ? await loadSpacesFile(options.spaces) : parseSpaces(options.spaces);
  const chain = options.chain ?? rpcHubChain(options.rpcUrl);
  const chainId = await chain.chainId();
  for (const space of spaces) {
    if (space.network !== String(chainId)) {
      throw new HubError(
        `space ${space.id} is on network ${space.network}, but the RPC is chain ${chainId}`,
        {
          hint: 'fix the space\'s "network" or pass the right --rpc',
        },
      );
    }
  }
  const clock =
    typeof options.clock === 'function'
      ? options.clock
      : options.clock === 'system'
        ? systemClock
        : chainClock(options.rpcUrl);

  const store = new HubStore(options.dbPath);
  let server: Server | undefined;
  // JS recovery (~3 ms) pays for threads from 4 CPUs up: one core for the main thread, one for the chain node.
  const workers =
    options.workers ??
    (nativeSignatures() || availableParallelism() < 4 ? 0 : Math.min(4, availableParallelism() - 2));
  const signatures: SignaturePool = workers > 0 ? workerSignaturePool(workers) : inlineSignaturePool();
  try {
    let key = store.getMeta('relayer_key') as `0x${string}` | undefined;
    if (!key) {
      key = generatePrivateKey();
      store.setMeta('relayer_key', key);
    }
    const relayer = privateKeyToAccount(key);
    const onError = options.onError ?? ((error: unknown) => process.stderr.write(`hub: ${String(error)}\n`));
    const sequencer = createSequencer({
      store,
      spaces,
      chain,
      clock,
      relayer: { address: relayer.address, privateKey: key },
      signatures,
      limits: options.limits,
      onError,
    });
    const graphql = createHubGraphql({ store, spaces, clock });
    const hold = abortableSleep();
    const scores = createScores({ store, clock, sleep: options.sleep ?? hold.sleep, onError });
    const routes = createHubRoutes({
      sequencer,
      graphql,
      scores,
      info: () => ({
        name: 'dao-treasury-agent hub (snapshot-compatible)',
        network: spaces.map((s) => s.network)[0] ?? null,
        relayer: relayer.address,
        spaces: spaces.map((s) => s.id),
      }),
    });
    const rateLimit = options.rateLimitPerMinute ?? 0;
    const hits = new Map<string, number[]>();
    const limited = (request: IncomingMessage, url: URL) =>
      (url.pathname === '/' && request.method === 'POST') ||
      (request.method === 'GET' && /^\/(api\/)?scores\//.test(url.pathname));

    const handle = async (request: IncomingMessage, response: ServerResponse) => {
      const url = new URL(request.url ?? '/', 'http://hub.local');
      if (rateLimit > 0 && limited(request, url)) {
        const ip = request.socket.remoteAddress ?? '';
        const now = Date.now();
        const recent = (hits.get(ip) ?? []).filter((t) => now - t < 60_000);
        recent.push(now);
        hits.set(ip, recent);
        if (recent.length > rateLimit) {
          send(response, 429, { error: 'client_error', error_description: 'too many requests' });
          return;
        }
      }
      const body = request.method === 'POST' ? await readBody(request) : '';
      const reply = await routes({
        method: request.method ?? 'GET',
        url,
        contentType: request.headers['content-type'] ?? null,
        body,
      });
      response.writeHead(reply.status, {
        ...reply.headers,
        'content-length': Buffer.byteLength(reply.body),
      });
      response.end(reply.body);
    };

    const onRequest = options.onRequest;
    server = createServer((request, response) => {
      if (onRequest) {
        const started = performance.now();
        response.once('finish', () =>
          onRequest({
            method: request.method ?? 'GET',
            path: new URL(request.url ?? '/', 'http://hub.local').pathname,
            status: response.statusCode,
            ms: Math.round(performance.now() - started),
          }),
        );
      }
      handle(request, response).catch((error) => {
        onError(error);
        if (!response.headersSent)
          send(response, 500, { error: 'server_error', error_description: 'internal error' });
      });
    });
    server.keepAliveTimeout = 30_000;
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server?.once('error', (error: NodeJS.ErrnoException) => {
        reject(
          new HubError(
            error.code === 'EADDRINUSE'
              ? `port ${options.port} is already in use`
              : `cannot listen on ${host}:${options.port}: ${error.message}`,
            { cause: error, hint: 'pass another --port, or stop what listens there' },
          ),
        );
      });
      server?.listen(options.port ?? 0, host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const url = `http://${host}:${port}`;
    let stopped: Promise<void> | undefined;
    const running = server;
    return {
      url,
      graphqlUrl: `${url}/graphql`,
      port,
      relayer: relayer.address,
      stop: () => {
        hold.abort();
        stopped ??= new Promise<void>((resolve) => {
          running.close(() => {
            store.close();
            signatures.close().then(resolve, resolve);
          });
          running.closeIdleConnections();
        });
        return stopped;
      },
    };
  } catch (error) {
    server?.close();
    store.close();
    await signatures.close();
    throw error;
  }
}
