import { createRequire } from 'node:module';
import { concatHex, type Hex, keccak256 } from 'viem';
import { messageId, type SignedData, SNAPSHOT_DOMAIN } from '../snapshotProtocol.ts';

type TypedDataEncoder = { hash: (value: Record<string, unknown>) => string };
type EthersHash = {
  _TypedDataEncoder: {
    from: (types: SignedData['types']) => TypedDataEncoder;
    hashDomain: (domain: SignedData['domain']) => string;
  };
};

const SNAPSHOT_DOMAIN_JSON = JSON.stringify(SNAPSHOT_DOMAIN);
const MAX_ENCODERS = 64;

/**
 * `messageId` (snapshot.js `utils.getHash` = ethers `_TypedDataEncoder.hash(domain, types, message)`) without
 * rebuilding the same encoder and domain hash for every message: the Snapshot domain's hash is computed once,
 * the encoder once per `types`, both with the ethers module snapshot.js itself loads. Anything else (another
 * domain, StarkNet messages) goes to `messageId` unchanged. One per sequencer.
 */
export function createMessageHasher(): (data: SignedData & { primaryType?: unknown }) => Hex {
  const ethers = createRequire(createRequire(import.meta.url).resolve('@snapshot-labs/snapshot.js'))(
    '@ethersproject/hash',
  ) as EthersHash;
  const encoder = ethers._TypedDataEncoder;
  let domainHash: Hex | undefined;
  const encoders = new Map<string, TypedDataEncoder>();
  return (data) => {
    if ('StarkNetDomain' in data.types || JSON.stringify(data.domain) !== SNAPSHOT_DOMAIN_JSON) {
      return messageId(data);
    }
    const key = JSON.stringify(data.types);
    let typed = encoders.get(key);
    if (!typed) {
      typed = encoder.from(data.types);
      if (encoders.size >= MAX_ENCODERS) encoders.clear();
      encoders.set(key, typed);
    }
    domainHash ??= encoder.hashDomain(data.domain) as Hex;
    return keccak256(concatHex(['0x1901', domainHash, typed.hash(data.message) as Hex]));
  };
}
