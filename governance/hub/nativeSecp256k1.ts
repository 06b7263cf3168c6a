import { createRequire } from 'node:module';
import { type Address, type Hex, hashMessage, hexToBytes, recoverAddress } from 'viem';
import { publicKeyToAddress, signMessage } from 'viem/accounts';

/** The two calls the hub needs from libsecp256k1 (npm `secp256k1`, prebuilt binaries shipped in the package). */
type Libsecp256k1 = {
  ecdsaRecover: (signature: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean) => Uint8Array;
  ecdsaSign: (msg32: Uint8Array, privateKey: Uint8Array) => { signature: Uint8Array; recid: number };
};

/**
 * The native binding, or undefined when no prebuilt binary fits this platform. `secp256k1/bindings.js` never
 * falls back to the package's pure-JS (elliptic) build: without the binary the hub keeps viem's noble code.
 */
function loadLibsecp256k1(): Libsecp256k1 | undefined {
  try {
    return createRequire(import.meta.url)('secp256k1/bindings.js') as Libsecp256k1;
  } catch {
    return undefined;
  }
}

const HEX_SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
const HEX_HASH = /^0x[0-9a-fA-F]{64}$/;

/** Signature work of the hub: ECDSA recovery and EIP-191 receipts, with the same results as viem. */
export type SignatureFunctions = {
  /** True when libsecp256k1 is in use (~0.05 ms per recovery instead of ~3 ms in JS). */
  native: boolean;
  /** viem `recoverAddress({ hash, signature })`, or undefined where viem throws. */
  recover: (hash: Hex, signature: Hex) => Promise<Address | undefined>;
  /** viem `signMessage({ message, privateKey })`: RFC 6979 nonces, low s, v = 27 | 28; byte-identical. */
  signReceipt: (privateKey: Hex, message: string) => Promise<Hex>;
};

async function viemRecover(hash: Hex, signature: Hex): Promise<Address | undefined> {
  try {
    return await recoverAddress({ hash, signature });
  } catch {
    return undefined;
  }
}

/**
 * Recovery and receipts with libsecp256k1 when its binary loads, else viem (noble). The native path only takes
 * what viem reads the same way: a 32-byte hash and a 65-byte hex signature with v ∈ {0, 1, 27, 28}; anything
 * else goes to viem itself, so odd inputs get viem's exact answer.
 */
export function signatureFunctions(options: { native?: boolean } = {}): SignatureFunctions {
  const lib = options.native === false ? undefined : loadLibsecp256k1();
  if (!lib) {
    return {
      native: false,
      recover: viemRecover,
      signReceipt: (privateKey, message) => signMessage({ message, privateKey }),
    };
  }
  const keys = new Map<Hex, Uint8Array>();
  return {
    native: true,
    recover: async (hash, signature) => {
      if (typeof signature !== 'string' || typeof hash !== 'string') return viemRecover(hash, signature);
      if (!HEX_SIGNATURE.test(signature) || !HEX_HASH.test(hash)) return viemRecover(hash, signature);
      const v = Number.parseInt(signature.slice(130), 16);
      const recid = v === 0 || v === 27 ? 0 : v === 1 || v === 28 ? 1 : undefined;
      if (recid === undefined) return undefined; // viem: 'Invalid yParityOrV value'
      try {
        const publicKey = lib.ecdsaRecover(
          hexToBytes(signature.slice(0, 130) as Hex),
          recid,
          hexToBytes(hash),
          false,
        );
        return publicKeyToAddress(`0x${Buffer.from(publicKey).toString('hex')}`);
      } catch {
        return undefined; // r or s out of range, r not on the curve, point at infinity: noble throws too
      }
    },
    signReceipt: async (privateKey, message) => {
      let key = keys.get(privateKey);
      if (!key) {
        key = hexToBytes(privateKey);
        keys.set(privateKey, key);
      }
      const { signature, recid } = lib.ecdsaSign(hexToBytes(hashMessage(message)), key);
      return `0x${Buffer.from(signature).toString('hex')}${recid ? '1c' : '1b'}`;
    },
  };
}
