import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { getAddress, type Hex, zeroAddress } from 'viem';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readSecrets, redactSecrets } from '../agent/secrets.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import type { SafeTxData } from '../contracts/safeTransaction.ts';
import {
  HOSTED_TRANSACTION_SERVICE_CHAINS,
  memoryTransactionService,
  safeTransactionService,
  verifiedSignatures,
} from '../contracts/transactionService.ts';
import { ChainError, ConfigError } from '../shared/errors.ts';
import {
  type FakeSafeTransactionService,
  MONTHLY_QUOTA_REPLY,
  rateLimitReply,
  startFakeSafeTransactionService,
} from './support/fakeSafeTransactionService.ts';

const hash = `0x${'12'.repeat(32)}` as const;
const KEY = 'eyJhbGciOiJIUzI1NiJ9.test-safe-api-key.signature';
const SAFE = getAddress('0x5298a93734c3d979ef1f23f78ebb871879a21f22');
const safeTx: SafeTxData = {
  to: '0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D',
  value: 0n,
  data: '0xdeadbeef',
  operation: 0,
  safeTxGas: 0n,
  baseGas: 0n,
  gasPrice: 0n,
  gasToken: zeroAddress,
  refundReceiver: zeroAddress,
  nonce: 7n,
};
const [agent, stewardA] = [devAccount(1), devAccount(2)];

describe('transaction service adapters', () => {
  it('the HTTP adapter reports an unreachable service clearly, after its attempts', async () => {
    const slept: number[] = [];
    const service = safeTransactionService({
      chainId: 1,
      txServiceUrl: 'http://127.0.0.1:9/api',
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    const error = await service.confirmations(hash).catch((e) => e);
    expect(error).toBeInstanceOf(ChainError);
    expect(error.message).toMatch(
      /the Safe Transaction Service did not answer at 127\.0\.0\.1:9 \(5 attempts/,
    );
    expect(slept).toEqual([500, 1000, 2000, 4000]);
  });

  it('the in-memory adapter keeps confirmations per safeTxHash, and only valid signatures count', async () => {
    const service = memoryTransactionService();
    const [a, b, c] = [devAccount(1), devAccount(2), devAccount(3)];
    await service.propose({
      safe: zeroAddress,
      safeTx: { ...safeTx, to: zeroAddress, data: '0x', nonce: 0n },
      safeTxHash: hash,
      sender: a.address,
      senderSignature: await a.sign({ hash }),
    });
    service.confirm(hash, b.address, await b.sign({ hash }));
    service.confirm(hash, c.address, await b.sign({ hash })); // c's name, b's signature
    const all = await service.confirmations(hash);
    expect(all.map((s) => s.owner)).toEqual([a.address, b.address, c.address]);
    expect((await verifiedSignatures(hash, all)).map((s) => s.owner)).toEqual([a.address, b.address]);
    expect(await service.confirmations(`0x${'34'.repeat(32)}`)).toEqual([]);
  });
});

describe("api-kit's rule for keys (SafeApiKit constructor, api-kit 5.0.3)", () => {
  it('Safe’s hosted service needs TREASURY_SAFE_API_KEY; a self-hosted URL does not', () => {
    expect(() => safeTransactionService({ chainId: 1 })).toThrow(ConfigError);
    expect(() => safeTransactionService({ chainId: 1 })).toThrow(/TREASURY_SAFE_API_KEY is not set/);
    expect(() =>
      safeTransactionService({ chainId: 1, txServiceUrl: 'https://api.safe.global/tx-service/eth/api' }),
    ).toThrow(/TREASURY_SAFE_API_KEY is not set.*developer\.safe\.global/s);
    expect(safeTransactionService({ chainId: 1, apiKey: KEY }).name).toBe(
      'safe-transaction-service https://api.safe.global/tx-service/eth/api',
    );
    expect(safeTransactionService({ chainId: 8453, apiKey: KEY }).name).toMatch(/tx-service\/base\/api$/);
    expect(safeTransactionService({ chainId: 1, txServiceUrl: 'http://127.0.0.1:1/api' }).name).toBe(
      'safe-transaction-service http://127.0.0.1:1/api',
    );
    expect(() => safeTransactionService({ chainId: 31337, apiKey: KEY })).toThrow(
      /Safe hosts no Transaction Service for chain 31337 → run your own/,
    );
  });

  it("the hosted chains are api-kit's list", async () => {
    const require = createRequire(import.meta.url);
    const dist = await readFile(require.resolve('@safe-global/api-kit'), 'utf8');
    const theirs = Object.fromEntries(
      [...dist.matchAll(/\{ chainId: (\d+)n, shortName: "([^"]+)" \}/g)].map((m) => [Number(m[1]), m[2]]),
    );
    expect(Object.keys(theirs).length).toBeGreaterThan(10);
    expect(HOSTED_TRANSACTION_SERVICE_CHAINS).toEqual(theirs);
  });

  it('TREASURY_SAFE_API_KEY and TREASURY_SNAPSHOT_API_KEY are secrets: read from the environment, redacted', () => {
    const secrets = readSecrets({
      TREASURY_SAFE_API_KEY: ` ${KEY} `,
      TREASURY_SNAPSHOT_API_KEY: 'snap-key-123456',
    });
    expect(secrets.safeApiKey).toBe(KEY);
    expect(secrets.snapshotApiKey).toBe('snap-key-123456');
    expect(redactSecrets(`Authorization: Bearer ${KEY}; x-api-key: snap-key-123456`, secrets)).toBe(
      'Authorization: Bearer ***; x-api-key: ***',
    );
  });
});

describe('the Safe Transaction Service over HTTP (contract test against a local stand-in)', () => {
  let fake: FakeSafeTransactionService;
  let slept: number[];
  const service = (apiKey: string | null = KEY) =>
    safeTransactionService({
      chainId: 1,
      txServiceUrl: fake.url,
      apiKey: apiKey ?? undefined,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
  let n = 0;
  /** A fresh transaction each time (nonce n), signed by the agent. */
  async function input() {
    const safeTxHash = `0x${(++n).toString(16).padStart(64, '0')}` as Hex;
    return {
      safe: SAFE,
      safeTx: { ...safeTx, nonce: BigInt(n) },
      safeTxHash,
      sender: agent.address,
      senderSignature: await agent.sign({ hash: safeTxHash }),
    };
  }

  beforeAll(async () => {
    fake = await startFakeSafeTransactionService({ apiKey: KEY });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
    slept = [];
  });

  it('proposes with the key as a bearer token and reads the confirmations back', async () => {
    const tx = await input();
    await service().propose(tx);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /api/v2/multisig-transactions/${tx.safeTxHash}/`,
      `POST /api/v2/safes/${SAFE}/multisig-transactions/`,
    ]);
    for (const r of fake.requests) expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(fake.requests[1]!.body).toEqual({
      to: safeTx.to,
      value: '0',
      data: '0xdeadbeef',
      operation: 0,
      safeTxGas: '0',
      baseGas: '0',
      gasPrice: '0',
      gasToken: zeroAddress,
      refundReceiver: zeroAddress,
      nonce: String(n),
      contractTransactionHash: tx.safeTxHash,
      sender: agent.address,
      signature: tx.senderSignature,
      origin: 'dao-treasury-agent',
    });
    fake.confirm(tx.safeTxHash, stewardA.address, await stewardA.sign({ hash: tx.safeTxHash }));
    const confirmations = await service().confirmations(tx.safeTxHash);
    expect(confirmations.map((c) => c.owner)).toEqual([agent.address, stewardA.address]);
    expect(await verifiedSignatures(tx.safeTxHash, confirmations)).toHaveLength(2);
    // Proposing again is a no-op (one GET, no POST); an unknown hash has no confirmations.
    fake.requests.length = 0;
    await service().propose(tx);
    expect(fake.requests.map((r) => r.method)).toEqual(['GET']);
    expect(await service().confirmations(`0x${'ab'.repeat(32)}`)).toEqual([]);
    expect(slept).toEqual([]);
  });

  it('sends what api-kit 5.0.3 sends, to the same endpoints', async () => {
    const tx = await input();
    await service().propose(tx);
    await service().confirmations(tx.safeTxHash);
    const ours = fake.requests.splice(0);
    const m = (await import('@safe-global/api-kit')) as unknown as { default: { default?: unknown } };
    const SafeApiKit = (m.default.default ?? m.default) as new (
      config: Record<string, unknown>,
    ) => {
      getTransaction: (hash: string) => Promise<unknown>;
      proposeTransaction: (props: Record<string, unknown>) => Promise<void>;
    };
    const kit = new SafeApiKit({ chainId: 1n, txServiceUrl: fake.url, apiKey: KEY });
    const other = await input(); // same transaction shape, a hash the service does not know yet
    await kit.getTransaction(other.safeTxHash).catch(() => undefined); // 404, as our first request
    await kit.proposeTransaction({
      safeAddress: SAFE,
      safeTransactionData: {
        to: other.safeTx.to,
        value: '0',
        data: other.safeTx.data,
        operation: 0,
        safeTxGas: '0',
        baseGas: '0',
        gasPrice: '0',
        gasToken: zeroAddress,
        refundReceiver: zeroAddress,
        nonce: String(other.safeTx.nonce),
      },
      safeTxHash: other.safeTxHash,
      senderAddress: other.sender,
      senderSignature: other.senderSignature,
      origin: 'dao-treasury-agent',
    });
    await kit.getTransaction(other.safeTxHash);
    const theirs = fake.requests.splice(0);
    const shape = (r: (typeof ours)[number], h: string) => ({
      method: r.method,
      path: r.path.replace(h, '{hash}'),
      authorization: r.headers.authorization,
      contentType: r.headers['content-type'],
      body:
        r.body && typeof r.body === 'object'
          ? { ...(r.body as object), contractTransactionHash: '{hash}', signature: '{sig}', nonce: '{n}' }
          : r.body,
    });
    expect(theirs.map((r) => shape(r, other.safeTxHash))).toEqual(ours.map((r) => shape(r, tx.safeTxHash)));
  });

  it('429 with Retry-After: waits what the service asks, then succeeds', async () => {
    const tx = await input();
    fake.inject(rateLimitReply(3), rateLimitReply(1));
    await service().propose(tx);
    expect(slept).toEqual([3000, 1000]);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('5xx without Retry-After: exponential backoff', async () => {
    fake.inject(
      { status: 503, body: '<html>Service Unavailable</html>', headers: { 'content-type': 'text/html' } },
      { status: 502, body: '<html>Bad Gateway</html>', headers: { 'content-type': 'text/html' } },
    );
    expect(await service().confirmations(hash)).toEqual([]);
    expect(slept).toEqual([500, 1000]);
  });

  it('a proposal stored but whose reply was lost is found, not posted twice', async () => {
    const tx = await input();
    fake.state.loseNextProposeReply = true;
    await service().propose(tx);
    expect(fake.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'GET']);
    expect(slept).toEqual([500]);
  });

  it('a lasting per-second limit: one clear message (which service, what limit, what to do)', async () => {
    const tx = await input();
    fake.inject(...Array.from({ length: 5 }, () => rateLimitReply()));
    const error = await service()
      .propose(tx)
      .catch((e) => e);
    expect(error).toBeInstanceOf(ChainError);
    expect(error.message.split('\n')[0]).toBe(
      `reading a transaction from the Safe Transaction Service: the Safe Transaction Service (${new URL(fake.url).host}) is rate-limiting this agent: HTTP 429 "Request was throttled.", 5 attempts over 8 s → the plan's limit is reached: run cycles less often (schedule.cron) or upgrade the plan at https://developer.safe.global`,
    );
    expect(slept).toEqual([500, 1000, 2000, 4000]);
    expect(error.message).not.toContain(KEY);
  });

  it('without a key, the same limit says to get one', async () => {
    fake.state.apiKey = undefined;
    try {
      fake.inject(...Array.from({ length: 2 }, () => rateLimitReply()));
      const error = await safeTransactionService({
        chainId: 1,
        txServiceUrl: fake.url,
        retry: { attempts: 2 },
        sleep: async () => {},
      })
        .confirmations(hash)
        .catch((e) => e);
      expect(error.message).toMatch(
        /rate-limiting this agent: HTTP 429 .* → without an API key the service allows about 2 requests a second and 5,000 a month: set TREASURY_SAFE_API_KEY/,
      );
    } finally {
      fake.state.apiKey = KEY;
    }
  });

  it('a used-up monthly quota is reported at once, with when it resets', async () => {
    const tx = await input();
    fake.inject(MONTHLY_QUOTA_REPLY);
    const error = await service()
      .propose(tx)
      .catch((e) => e);
    expect(fake.requests).toHaveLength(1);
    expect(slept).toEqual([]);
    expect(error.message.split('\n')[0]).toMatch(
      /refuses every request: HTTP 429 "Monthly quota exceeded\." → the account's monthly quota of 50000 requests is used up until it resets in 14 days: upgrade the plan at https:\/\/developer\.safe\.global, or wait for the reset \(nothing was proposed\)$/,
    );
  });

  it('401 without the bearer key, or with a wrong one: not retried, says what to set', async () => {
    const missing = await service(null)
      .confirmations(hash)
      .catch((e) => e);
    expect(missing.message).toMatch(
      /refused the request \(HTTP 401 "Authentication credentials were not provided\."\) → the service requires an API key: set TREASURY_SAFE_API_KEY/,
    );
    const wrong = await service('not-the-key')
      .confirmations(hash)
      .catch((e) => e);
    expect(wrong.message).toMatch(/HTTP 401 .* → TREASURY_SAFE_API_KEY was refused: check it/);
    expect(wrong.message).not.toContain('not-the-key');
    expect(fake.requests).toHaveLength(2);
    expect(slept).toEqual([]);
  });
});
