/**
 * A small harness for tests, the benchmark and demos: a real anvil with a governance ERC-20 (TestToken) minted to
 * dev accounts, plus helpers to move the chain's clock. Nothing here is mocked.
 */
import { type Address, createPublicClient, createWalletClient, type HDAccount, http, parseUnits } from 'viem';
import { foundry } from 'viem/chains';
import { type AnvilInstance, startAnvil } from '../contracts/anvil.ts';
import { projectArtifacts } from '../contracts/artifacts.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import type { SpaceInput } from './hub/spaces.ts';

export type GovernanceChain = {
  anvil: AnvilInstance;
  token: Address;
  decimals: number;
  /** anvil dev accounts 0..n-1 (0 deployed the token and is the space admin in `devSpace`). */
  accounts: HDAccount[];
  publicClient: ReturnType<typeof createPublicClient>;
  mint: (to: Address, amount: string) => Promise<void>;
  transfer: (from: HDAccount, to: Address, amount: string) => Promise<void>;
  blockNumber: () => Promise<number>;
  /** Moves the chain's time forward and mines one block (what the chain clock reads). */
  advance: (seconds: number) => Promise<number>;
  stop: () => Promise<void>;
};

/** anvil's development accounts: one definition for the whole project. */
export { devAccount };

export async function startGovernanceChain(options: { accounts?: number; decimals?: number } = {}) {
  const anvil = await startAnvil({ accounts: Math.max(options.accounts ?? 6, 2) });
  try {
    const decimals = options.decimals ?? 18;
    const accounts = Array.from({ length: options.accounts ?? 6 }, (_, i) => devAccount(i));
    const chain = { ...foundry, id: anvil.chainId };
    const transport = http(anvil.rpcUrl);
    const publicClient = createPublicClient({ chain, transport });
    const deployer = accounts[0] as HDAccount;
    const wallet = (account: HDAccount) => createWalletClient({ account, chain, transport });
    const { abi, bytecode } = projectArtifacts.testToken;
    const hash = await wallet(deployer).deployContract({
      abi,
      bytecode,
      args: ['Governance', 'GOV', decimals],
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    const token = receipt.contractAddress as Address;
    const send = async (account: HDAccount, functionName: string, args: unknown[]) => {
      const tx = await wallet(account).writeContract({ address: token, abi, functionName, args } as never);
      await publicClient.waitForTransactionReceipt({ hash: tx });
    };
    const result: GovernanceChain = {
      anvil,
      token,
      decimals,
      accounts,
      publicClient: publicClient as ReturnType<typeof createPublicClient>,
      mint: (to, amount) => send(deployer, 'mint', [to, parseUnits(amount, decimals)]),
      transfer: (from, to, amount) => send(from, 'transfer', [to, parseUnits(amount, decimals)]),
      blockNumber: async () => Number(await publicClient.getBlockNumber({ cacheTime: 0 })),
      advance: async (seconds) => {
        await publicClient.request({ method: 'evm_increaseTime', params: [seconds] } as never);
        await publicClient.request({ method: 'evm_mine', params: [] } as never);
        const block = await publicClient.getBlock({ blockTag: 'latest' });
        return Number(block.timestamp);
      },
      stop: () => anvil.stop(),
    };
    return result;
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/** A space on `chain` voting with its token: account 0 admin and member, members-only by default. */
export function devSpace(
  chain: Pick<GovernanceChain, 'token' | 'decimals' | 'accounts'> & { anvil: { chainId: number } },
  overrides: Partial<SpaceInput> = {},
): SpaceInput {
  return {
    id: 'treasury.eth',
    name: 'Treasury DAO',
    network: String(chain.anvil.chainId),
    admins: [chain.accounts[0]?.address as string],
    members: [],
    filters: { onlyMembers: true },
    voting: { delay: 60, period: 3600, type: 'basic', quorum: 100 },
    strategies: [
      { name: 'erc20-balance-of', params: { address: chain.token, decimals: chain.decimals, symbol: 'GOV' } },
    ],
    ...overrides,
  };
}
