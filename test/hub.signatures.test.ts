import { keccak256, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, describe, expect, it } from 'vitest';
import { signatureFunctions } from '../governance/hub/nativeSecp256k1.ts';
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

  it('libsecp256k1 gives the same answers as viem: signers, refusals of odd signatures, byte-identical receipts', async () => {
    const native = signatureFunctions();
    const viem = signatureFunctions({ native: false });
    expect(native.native).toBe(true); // the prebuilt binary loads on this platform
    expect(viem.native).toBe(false);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const hex32 = (value: bigint) => value.toString(16).padStart(64, '0');
    for (let i = 0; i < 40; i++) {
      const key = generatePrivateKey();
      const account = privateKeyToAccount(key);
      const hash = keccak256(toHex(`vote ${i}`));
      const signature = await account.sign({ hash });
      const r = signature.slice(2, 66);
      const s = BigInt(`0x${signature.slice(66, 130)}`);
      const v = signature.slice(130);
      const flipped = v === '1b' ? '1c' : '1b';
      const cases: `0x${string}`[] = [
        signature,
        `0x${signature.slice(2).toUpperCase()}`,
        `0x${r}${hex32(n - s)}${flipped}`, // high s: recovery does not enforce low s
        `0x${r}${hex32(s)}${v === '1b' ? '00' : '01'}`,
        `0x${r}${hex32(s)}1d`,
        `0x${r}${hex32(s)}02`,
        `0x${'00'.repeat(32)}${hex32(s)}${v}`,
        `0x${r}${'00'.repeat(32)}${v}`,
        `0x${hex32(n)}${hex32(s)}${v}`,
        `0x${r}${hex32(n + 1n)}${v}`,
        `0x${'ff'.repeat(32)}${hex32(s)}${v}`,
        `0x${'05'.repeat(32)}${hex32(s)}${v}`, // r = 0x0505… is not an x on the curve for one of the parities
        `0x${signature.slice(2, 130)}`,
        `${signature}00`,
        `0x${signature.slice(2, 129)}z`,
      ];
      for (const candidate of cases) {
        expect(await native.recover(hash, candidate)).toBe(await viem.recover(hash, candidate));
      }
      expect(await native.recover(hash, signature)).toBe(account.address);
      const message = i % 2 ? signature : `receipt ${i} ✓`;
      expect(await native.signReceipt(key, message)).toBe(await account.signMessage({ message }));
    }
  });
});
