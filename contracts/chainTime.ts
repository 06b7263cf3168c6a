import type { Chain, PublicClient, Transport } from 'viem';

/**
 * Moves a local chain's clock (anvil): the next block gets `timestamp`, and one block is mined. Locally the
 * agent, the hub and the feeds all read "now" from the latest block, so this moves them together.
 */
export async function setChainTime(client: PublicClient<Transport, Chain>, timestamp: number): Promise<void> {
  await client.request({
    method: 'evm_setNextBlockTimestamp' as 'eth_chainId',
    params: [timestamp] as unknown as undefined,
  });
  await client.request({ method: 'evm_mine' as 'eth_chainId' });
}

export async function advanceChainTime(
  client: PublicClient<Transport, Chain>,
  seconds: number,
): Promise<number> {
  const latest = await client.getBlock({ blockTag: 'latest' });
  const next = Number(latest.timestamp) + seconds;
  await setChainTime(client, next);
  return next;
}
