import { zeroAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { devAccount } from '../contracts/devAccounts.ts';
import {
  apiKitTransactionService,
  memoryTransactionService,
  verifiedSignatures,
} from '../contracts/transactionService.ts';

const hash = `0x${'12'.repeat(32)}` as const;

describe('transaction service adapters', () => {
  it('the api-kit adapter loads offline and reports an unreachable service clearly', async () => {
    const service = apiKitTransactionService({ chainId: 1, txServiceUrl: 'http://127.0.0.1:9/api' });
    await expect(service.confirmations(hash)).rejects.toThrow(/the Safe Transaction Service did not answer/);
  });

  it('the in-memory adapter keeps confirmations per safeTxHash, and only valid signatures count', async () => {
    const service = memoryTransactionService();
    const [a, b, c] = [devAccount(1), devAccount(2), devAccount(3)];
    await service.propose({
      safe: zeroAddress,
      safeTx: {
        to: zeroAddress,
        value: 0n,
        data: '0x',
        operation: 0,
        safeTxGas: 0n,
        baseGas: 0n,
        gasPrice: 0n,
        gasToken: zeroAddress,
        refundReceiver: zeroAddress,
        nonce: 0n,
      },
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
