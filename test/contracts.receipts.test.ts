import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Chain,
  type Hex,
  HttpRequestError,
  type PublicClient,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
  type Transport,
} from 'viem';
import { describe, expect, it } from 'vitest';
import { isLocalRpc, makePublicClient, rpcRequestTimeoutMs } from '../contracts/chainClients.ts';
import { ConfirmationTimeoutError, waitForReceipt } from '../contracts/receipts.ts';
import { ChainError } from '../shared/errors.ts';

const HASH = `0x${'ab'.repeat(32)}` as Hex;
const RECEIPT = { transactionHash: HASH, status: 'success' } as TransactionReceipt;

/** A client whose `getTransactionReceipt` answers from `replies` in turn (the last one repeats). */
function fakeClient(replies: (() => TransactionReceipt)[]) {
  let calls = 0;
  const client = {
    pollingInterval: 1,
    getTransactionReceipt: async () => replies[Math.min(calls++, replies.length - 1)]!(),
  } as unknown as PublicClient<Transport, Chain>;
  return { client, calls: () => calls };
}
const notFound = () => {
  throw new TransactionReceiptNotFoundError({ hash: HASH });
};
const refused = () => {
  throw new HttpRequestError({ url: 'http://127.0.0.1:8545', details: 'fetch failed' });
};

describe('waiting for a receipt (contracts/receipts.ts)', () => {
  it('asks again until the receipt is there, through missing receipts and a few read errors', async () => {
    const { client, calls } = fakeClient([notFound, notFound, refused, notFound, () => RECEIPT]);
    await expect(waitForReceipt(client, { hash: HASH, step: 'posting prices' })).resolves.toBe(RECEIPT);
    expect(calls()).toBe(5);
  });

  it('gives up after its timeout with an error that names the step, the transaction and what to do', async () => {
    const { client } = fakeClient([notFound]);
    const error = await waitForReceipt(client, {
      hash: HASH,
      step: 'executing the Safe transaction 0x12',
      hint: 'run the agent again',
      timeoutMs: 30,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfirmationTimeoutError);
    expect(error).toBeInstanceOf(ChainError);
    const timeout = error as ConfirmationTimeoutError;
    expect(timeout.step).toBe('executing the Safe transaction 0x12');
    expect(timeout.hash).toBe(HASH);
    expect(timeout.message).toMatch(
      /^executing the Safe transaction 0x12: transaction 0xabab.* was not confirmed within \d+ s → run the agent again$/,
    );
  });

  it('stops on read errors that persist, naming the step', async () => {
    const { client, calls } = fakeClient([refused]);
    const error = await waitForReceipt(client, { hash: HASH, step: 'deploying PolicySwapper' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ChainError);
    expect(error).not.toBeInstanceOf(ConfirmationTimeoutError);
    expect((error as ChainError).shortMessage).toBe(
      `deploying PolicySwapper: cannot read the receipt of ${HASH}`,
    );
    expect(calls()).toBe(9);
  });
});

describe('a busy machine is not a failure: no short fixed timeouts towards a local chain', () => {
  it('gives requests to a node on this machine minutes, and keeps viem defaults elsewhere', () => {
    expect(isLocalRpc('http://127.0.0.1:8545')).toBe(true);
    expect(isLocalRpc('http://localhost:8545')).toBe(true);
    expect(isLocalRpc('https://eth.example.org')).toBe(false);
    expect(rpcRequestTimeoutMs('http://127.0.0.1:8545')).toBeGreaterThanOrEqual(60_000);
    expect(rpcRequestTimeoutMs('https://eth.example.org')).toBe(10_000);
    const client = makePublicClient(31337, 'http://127.0.0.1:8545');
    expect(client.transport.timeout).toBeGreaterThanOrEqual(60_000);
    expect(client.transport.retryCount).toBe(0);
  });

  it("no code of the agent, the demo or the devnet waits with viem's waitForTransactionReceipt (180 s, no step)", () => {
    const root = join(import.meta.dirname, '..');
    const offenders: string[] = [];
    for (const dir of ['agent', 'contracts', 'governance', 'strategies', 'config']) {
      for (const file of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
        if (!file.endsWith('.ts') || `${dir}/${file}` === 'governance/testing.ts') continue; // a test harness
        if (/\.waitForTransactionReceipt\(/.test(readFileSync(join(root, dir, file), 'utf8')))
          offenders.push(`${dir}/${file}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
