import type { Address, Hex } from 'viem';
import { encodeFunctionData } from 'viem';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { aggregatorV3Abi } from '../contracts/abis.ts';
import { projectArtifacts } from '../contracts/artifacts.ts';
import { makePublicClient, makeWalletClient } from '../contracts/chainClients.ts';
import { setChainTime } from '../contracts/chainTime.ts';
import { devAccount, devPrivateKey } from '../contracts/devAccounts.ts';
import { closeTimeOf, contractNetworksFor, priceToFeedAnswer } from '../contracts/devnet.ts';
import { writeFeedRounds } from '../contracts/feedRoundWriter.ts';
import { type LocalDevnet, startDevnet } from '../contracts/localDevnet.ts';
import { waitForReceipt } from '../contracts/receipts.ts';
import type { HubInstance } from '../governance/hub/server.ts';
import { startHub } from '../governance/hub/server.ts';
import type { SpaceInput } from '../governance/hub/spaces.ts';
import { ConfigError } from '../shared/errors.ts';

/** What to do when anvil, on this machine, does not confirm a transaction in minutes. */
export const LOCAL_HINT =
  'anvil did not mine it: the machine may be starved of CPU or anvil stuck; stop other work and run it again';

/**
 * The whole local environment on one machine: anvil with the devnet, the Snapshot-compatible hub on the same
 * chain (and clock), and governance-token holders who can vote. Used by the cycle tests and the demo.
 * Keys are anvil's public development keys: the agent is account 1, the stewards 2 and 3, members 4+.
 */
export type Member = { index: number; address: Address; key: Hex; gov: bigint };

export type LocalStack = {
  devnet: LocalDevnet;
  hub: HubInstance;
  /** The config with every address, the RPC and the hub URL of this stack. */
  config: TreasuryAgentConfig;
  members: Member[];
  /** The environment the agent would get: its key and the co-signers' (never written to a file). */
  env: Record<string, string>;
  contractNetworks: ReturnType<typeof contractNetworksFor>;
  stop: () => Promise<void>;
};

export function devnetSpace(
  config: TreasuryAgentConfig,
  govAddress: Address,
  stewards: Address[],
): SpaceInput {
  return {
    id: config.governance.space,
    name: 'Treasury DAO (devnet)',
    network: String(config.chain.id),
    symbol: 'GOV',
    admins: stewards,
    members: [config.safe.agent, ...stewards],
    filters: { onlyMembers: true, minScore: 0 },
    voting: {
      delay: config.governance.votingDelaySeconds,
      period: config.governance.votingPeriodSeconds,
      type: 'basic',
      quorum: config.governance.quorum,
    },
    strategies: [
      {
        name: 'erc20-balance-of',
        network: String(config.chain.id),
        params: { address: govAddress, decimals: 18, symbol: 'GOV' },
      },
    ],
  };
}

/** Starts anvil + devnet, mints GOV to the members, starts the hub; stops what started if anything fails. */
export async function startLocalStack(options: {
  config: TreasuryAgentConfig;
  /** GOV (whole tokens) per member, members being dev accounts 4, 5, …. */
  memberStakes: number[];
  hubDbPath?: string;
  hubPort?: number;
  anvilPort?: number;
  /** The price file the devnet's pools and feeds (and their past rounds) start from (default: data/). */
  pricesPath?: string;
}): Promise<LocalStack> {
  const { config } = options;
  if (config.chain.id !== 31337)
    throw new ConfigError('the local stack runs only on the devnet (chain.id 31337)');
  if (options.memberStakes.length > 8) throw new ConfigError('at most 8 members (dev accounts 4–11)');
  const devnet = await startDevnet({ config, port: options.anvilPort, pricesPath: options.pricesPath });
  let hub: HubInstance | undefined;
  try {
    const deployed = devnet.config;
    const gov = devnet.deployment.tokens.GOV;
    if (!gov) throw new ConfigError('the devnet needs a token with symbol GOV (the governance token)');
    const client = makePublicClient(config.chain.id, devnet.anvil.rpcUrl);
    const deployer = makeWalletClient(config.chain.id, devnet.anvil.rpcUrl, devAccount(0));
    const members: Member[] = [];
    for (const [i, stake] of options.memberStakes.entries()) {
      const index = 4 + i;
      const account = devAccount(index);
      const amount = BigInt(stake) * 10n ** 18n;
      const hash = await deployer.sendTransaction({
        to: gov.address,
        data: encodeFunctionData({
          abi: projectArtifacts.testToken.abi,
          functionName: 'mint',
          args: [account.address, amount],
        }),
      });
      await waitForReceipt(client, {
        hash,
        step: `minting GOV for member ${account.address}`,
        hint: LOCAL_HINT,
      });
      members.push({ index, address: account.address, key: devPrivateKey(index), gov: amount });
    }
    const stewards = config.safe.owners.filter((o) => o !== config.safe.agent);
    hub = await startHub({
      port: options.hubPort,
      spaces: [devnetSpace(config, gov.address, stewards)],
      rpcUrl: devnet.anvil.rpcUrl,
      dbPath: options.hubDbPath ?? ':memory:',
      clock: 'chain',
    });
    const stackConfig: TreasuryAgentConfig = {
      ...deployed,
      governance: { ...deployed.governance, hubUrl: hub.url },
    };
    const ownerKeys = config.safe.owners.map((owner) => {
      for (let i = 0; i < 12; i++) if (devAccount(i).address === owner) return devPrivateKey(i);
      throw new ConfigError(`owner ${owner} is not an anvil development account`, {
        hint: 'the local stack signs with dev keys',
      });
    });
    const agentKey = ownerKeys[config.safe.owners.indexOf(config.safe.agent)]!;
    const env = {
      TREASURY_AGENT_KEY: agentKey,
      TREASURY_COSIGNER_KEYS: ownerKeys.filter((k) => k !== agentKey).join(','),
    };
    const started = hub;
    return {
      devnet,
      hub: started,
      config: stackConfig,
      members,
      env,
      contractNetworks: contractNetworksFor(devnet.deployment),
      stop: async () => {
        await started.stop();
        await devnet.stop();
      },
    };
  } catch (error) {
    await hub?.stop();
    await devnet.stop();
    throw error;
  }
}

/**
 * Posts prices to the devnet's feeds (the deployer owns them), stamped with the chain's current time. With no
 * `pricesUsd`, re-posts each feed's latest answer: a heartbeat, as real feeds update at least daily.
 */
export async function postFeedPrices(
  stack: Pick<LocalStack, 'devnet'>,
  pricesUsd?: Record<string, number>,
): Promise<void> {
  const { deployment } = stack.devnet;
  const client = makePublicClient(deployment.chainId, deployment.rpcUrl);
  const deployer = makeWalletClient(deployment.chainId, deployment.rpcUrl, devAccount(0));
  let last: Hex | undefined;
  for (const token of Object.values(deployment.tokens)) {
    const price = pricesUsd?.[token.symbol];
    const answer =
      price !== undefined
        ? priceToFeedAnswer(price)
        : ((
            await client.readContract({
              address: token.feed,
              abi: aggregatorV3Abi,
              functionName: 'latestRoundData',
            })
          )[1] as bigint);
    last = await deployer.sendTransaction({
      to: token.feed,
      data: encodeFunctionData({ abi: aggregatorV3Abi, functionName: 'updateAnswer', args: [answer] }),
    });
  }
  if (last)
    await waitForReceipt(client, { hash: last, step: 'posting prices to the feeds', hint: LOCAL_HINT });
}

/**
 * Moves the local chain's clock forward by `seconds` as feeds with a daily heartbeat live through it: every feed
 * posts its latest answer as the close of each day that ends on the way (stamped 23:59:00, so the agent's
 * history has no gap), then once more at the new time. Returns the new time.
 */
export async function advanceWithHeartbeats(
  stack: Pick<LocalStack, 'devnet'>,
  seconds: number,
): Promise<number> {
  const { deployment } = stack.devnet;
  const client = makePublicClient(deployment.chainId, deployment.rpcUrl);
  const from = Number((await client.getBlock({ blockTag: 'latest' })).timestamp);
  const to = from + seconds;
  const days: number[] = [];
  for (let day = Math.floor(from / 86_400); closeTimeOf(day) < to; day++) {
    if (closeTimeOf(day) > from) days.push(day);
  }
  await setChainTime(client, to);
  if (days.length > 0) {
    const feeds = Object.values(deployment.tokens).map((t) => t.feed);
    const answers = await Promise.all(
      feeds.map(
        async (feed) =>
          (
            await client.readContract({
              address: feed,
              abi: aggregatorV3Abi,
              functionName: 'latestRoundData',
            })
          )[1],
      ),
    );
    await writeFeedRounds({
      rpcUrl: deployment.rpcUrl,
      chainId: deployment.chainId,
      from: devAccount(0).address,
      rounds: feeds.flatMap((feed, i) =>
        days.map((day) => ({ feed, answer: answers[i]!, updatedAt: closeTimeOf(day) })),
      ),
    });
  }
  await postFeedPrices(stack);
  return to;
}
