import { createHash } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * A CIDv1 (raw codec, sha2-256, base32 "b…") of `text`: a real content identifier for what the hub stored.
 * The local hub does not pin to IPFS; the id lets anyone check a copy of the envelope.
 */
export function rawCid(text: string): string {
  const digest = createHash('sha256').update(text).digest();
  // version 1, codec raw (0x55), multihash sha2-256 (0x12) of 32 bytes (0x20)
  return `b${base32(new Uint8Array([0x01, 0x55, 0x12, 0x20, ...digest]))}`;
}
