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

/** A node on this machine (anvil): answers fast when the machine is idle, late (never lost) when it is busy. */
export function isLocalRpc(rpcUrl: string): boolean {
  return /127\.0\.0\.1|localhost|\[::1\]/.test(rpcUrl);
}

/**
 * How long one JSON-RPC request may take. Remote: viem's 10 s, with retries. Local: no retries (a refused
 * connection means anvil is gone) and 2 minutes, since a node on a machine loaded to the hilt answers late.
 */
export function rpcRequestTimeoutMs(rpcUrl: string): number {
  return isLocalRpc(rpcUrl) ? 120_000 : 10_000;
}

function transportFor(rpcUrl: string) {
  return http(rpcUrl, { retryCount: isLocalRpc(rpcUrl) ? 0 : 3, timeout: rpcRequestTimeoutMs(rpcUrl) });
}

/** A public client with a short polling interval on local chains (viem's 4 s default keeps scripts alive). */
export function makePublicClient(chainId: number, rpcUrl: string): PublicClient<Transport, Chain> {
  return createPublicClient({
    chain: chainFor(chainId, rpcUrl),
    transport: transportFor(rpcUrl),
    pollingInterval: isLocalRpc(rpcUrl) ? 20 : 2_000,
  });
}

export function makeWalletClient(
  chainId: number,
  rpcUrl: string,
  account: Account,
): WalletClient<Transport, Chain, Account> {
  return createWalletClient({
    chain: chainFor(chainId, rpcUrl),
    transport: transportFor(rpcUrl),
    account,
    pollingInterval: isLocalRpc(rpcUrl) ? 20 : 2_000,
  });
}
