import { parseAbi } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rpcHubChain } from '../governance/hub/chain.ts';
import { type GovernanceChain, startGovernanceChain } from '../governance/testing.ts';

const ERC20 = parseAbi(['function balanceOf(address owner) view returns (uint256)']);

describe('hub chain adapter', () => {
  let chain: GovernanceChain;
  beforeAll(async () => {
    chain = await startGovernanceChain({ accounts: 3 });
  }, 60_000);
  afterAll(() => chain?.stop());

  it('reads balances at a block like readContract, and fails where it fails', async () => {
    const hub = rpcHubChain(chain.anvil.rpcUrl);
    const block = await chain.blockNumber();
    for (const account of chain.accounts) {
      const expected = await chain.publicClient.readContract({
        address: chain.token,
        abi: ERC20,
        functionName: 'balanceOf',
        args: [account.address],
        blockNumber: BigInt(block),
      });
      expect(await hub.balanceOf(chain.token, account.address, block)).toBe(expected);
    }
    // No contract at the address: eth_call returns 0x, which readContract refuses too.
    const notToken = chain.accounts[1]!.address;
    await expect(
      chain.publicClient.readContract({
        address: notToken,
        abi: ERC20,
        functionName: 'balanceOf',
        args: [notToken],
        blockNumber: BigInt(block),
      }),
    ).rejects.toThrow();
    await expect(hub.balanceOf(notToken, notToken, block)).rejects.toThrow();
    await expect(hub.balanceOf(chain.token, '0xnot-an-address' as never, block)).rejects.toThrow();
  });
});
