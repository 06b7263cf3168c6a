import {
  type Address,
  createPublicClient,
  decodeFunctionResult,
  encodeFunctionData,
  type Hex,
  http,
  numberToHex,
  parseAbi,
} from 'viem';
import { rpcRequestTimeoutMs } from '../../contracts/chainClients.ts';
import { redactUrl } from '../../shared/errors.ts';
import { HubError } from '../errors.ts';

/** What the hub needs from a chain: block existence, token balances at a block, EIP-1271 checks. */
export type HubChain = {
  chainId: () => Promise<number>;
  latestBlock: () => Promise<number>;
  /** True when `block` is mined (the sequencer's `invalid snapshot block` check). */
  blockExists: (block: number) => Promise<boolean>;
  /** ERC-20 balance of `holder` at `block` (eth_call balanceOf at that block). */
  balanceOf: (token: Address, holder: Address, block: number) => Promise<bigint>;
  /** EIP-1271: `isValidSignature(hash, sig)` on a contract signer returns the magic value. False for EOAs. */
  isValidSignature: (signer: Address, hash: Hex, signature: Hex) => Promise<boolean>;
};

const ERC20 = parseAbi(['function balanceOf(address owner) view returns (uint256)']);
const ERC1271 = parseAbi(['function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)']);
const MAGIC_VALUE = '0x1626ba7e';
const CACHE_LIMIT = 200_000;

/**
 * The hub's chain over JSON-RPC (anvil or any real chain). Balances at a mined block never change, so they are
 * cached per (token, holder, block) in this instance.
 */
export function rpcHubChain(rpcUrl: string): HubChain {
  const client = createPublicClient({
    transport: http(rpcUrl, {
      retryCount: 2,
      timeout: rpcRequestTimeoutMs(rpcUrl),
      batch: { batchSize: 200, wait: 0 },
    }),
  });
  const balances = new Map<string, Promise<bigint>>();
  let latestKnown = -1;
  return {
    chainId: async () => {
      try {
        return await client.getChainId();
      } catch (error) {
        throw new HubError(`cannot reach the chain at ${redactUrl(rpcUrl)}`, {
          cause: error,
          hint: 'start anvil (treasury devnet) or pass the right --rpc',
        });
      }
    },
    latestBlock: async () => Number(await client.getBlockNumber({ cacheTime: 0 })),
    blockExists: async (block) => {
      if (block <= latestKnown) return true;
      const latest = Number(await client.getBlockNumber({ cacheTime: 0 }));
      latestKnown = Math.max(latestKnown, latest);
      return block <= latest && block >= 0;
    },
    balanceOf: (token, holder, block) => {
      const key = `${token}:${holder}:${block}`;
      let pending = balances.get(key);
      if (!pending) {
        // readContract's own steps (encode, eth_call at the block, decode; '0x' throws) without the rest of
        // viem's call action: this read runs once per vote.
        pending = (async () => {
          const data = encodeFunctionData({ abi: ERC20, functionName: 'balanceOf', args: [holder] });
          const result = await client.request({
            method: 'eth_call',
            params: [{ to: token, data }, numberToHex(block)],
          });
          return decodeFunctionResult({ abi: ERC20, functionName: 'balanceOf', data: result || '0x' });
        })();
        if (balances.size >= CACHE_LIMIT) balances.clear();
        balances.set(key, pending);
        pending.catch(() => balances.delete(key));
      }
      return pending;
    },
    isValidSignature: async (signer, hash, signature) => {
      const code = await client.getCode({ address: signer });
      if (!code || code === '0x') return false;
      try {
        const result = await client.readContract({
          address: signer,
          abi: ERC1271,
          functionName: 'isValidSignature',
          args: [hash, signature],
        });
        return result.toLowerCase() === MAGIC_VALUE;
      } catch {
        return false;
      }
    },
  };
}
