import { keccak256, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, describe, expect, it } from 'vitest';
import { inlineSignaturePool, workerSignaturePool } from '../governance/hub/signaturePool.ts';

describe('hub signature pool', () => {
  const pool = workerSignaturePool(2);
  afterAll(() => pool.close());

  it('recovers the same signers in worker threads as inline, and refuses garbage', async () => {
    const inline = inlineSignaturePool();
    const accounts = Array.from({ length: 6 }, () => privateKeyToAccount(generatePrivateKey()));
    const hashes = accounts.map((_, i) => keccak256(toHex(`message ${i}`)));
    const signatures = await Promise.all(accounts.map((a, i) => a.sign({ hash: hashes[i]! })));
    const viaWorkers = await Promise.all(hashes.map((h, i) => pool.recover(h, signatures[i]!)));
    expect(viaWorkers).toEqual(accounts.map((a) => a.address));
    expect(await Promise.all(hashes.map((h, i) => inline.recover(h, signatures[i]!)))).toEqual(viaWorkers);
    // Another message: a different (wrong) signer, never the account.
    expect(await pool.recover(hashes[1]!, signatures[0]!)).not.toBe(accounts[0]!.address);
    expect(await pool.recover(hashes[0]!, '0x1234')).toBeUndefined();
    expect(await inline.recover(hashes[0]!, '0x1234')).toBeUndefined();
  });

  it('signs receipts like viem signMessage', async () => {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    expect(await pool.signReceipt(key, '0xabc')).toBe(await account.signMessage({ message: '0xabc' }));
  });
});
