import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem';

/**
 * The canonical Multicall3 address (the same on every public chain that has it). The devnet has none: reads
 * there use viem's deployless multicall (the same Multicall3 code, run in an eth_call).
 */
export const MULTICALL3_ADDRESS = '0xcA11bde05977b3631167028862bE2a173976CA11' as const;

export function chainFor(chainId: number, rpcUrl: string): Chain {
  const hasMulticall3 = chainId !== 31337;
  return defineChain({
    id: chainId,
    name: chainId === 31337 ? 'devnet' : `chain-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
    ...(hasMulticall3 ? { contracts: { multicall3: { address: MULTICALL3_ADDRESS } } } : {}),
  });
}

/** A public client with a short polling interval on local chains (viem's 4 s default keeps scripts alive). */
export function makePublicClient(chainId: number, rpcUrl: string): PublicClient<Transport, Chain> {
  const local = /127\.0\.0\.1|localhost/.test(rpcUrl);
  return createPublicClient({
    chain: chainFor(chainId, rpcUrl),
    transport: http(rpcUrl, { retryCount: local ? 0 : 3 }),
    pollingInterval: local ? 20 : 2_000,
  });
}

export function makeWalletClient(
  chainId: number,
  rpcUrl: string,
  account: Account,
): WalletClient<Transport, Chain, Account> {
  const local = /127\.0\.0\.1|localhost/.test(rpcUrl);
  return createWalletClient({
    chain: chainFor(chainId, rpcUrl),
    transport: http(rpcUrl, { retryCount: local ? 0 : 3 }),
    account,
    pollingInterval: local ? 20 : 2_000,
  });
}
