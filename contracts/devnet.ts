import {
  type Abi,
  type Address,
  encodeFunctionData,
  getAddress,
  type Hex,
  parseEther,
  parseUnits,
  zeroAddress,
} from 'viem';
import type { TokenConfig, TreasuryAgentConfig } from '../config/schema.ts';
import { ChainError, ConfigError } from '../shared/errors.ts';
import { type Artifact, projectArtifacts, safeArtifacts, uniswapArtifacts } from './artifacts.ts';
import { makePublicClient, makeWalletClient } from './chainClients.ts';
import { devAccount } from './devAccounts.ts';
import { writeFeedRounds } from './feedRoundWriter.ts';
import { waitForReceipt } from './receipts.ts';

/** Feeds report USD prices with 8 decimals, like Chainlink's USD feeds. */
export const FEED_DECIMALS = 8;

export type DeployedToken = {
  symbol: string;
  name: string;
  decimals: number;
  role: TokenConfig['role'];
  priceAsset: string;
  address: Address;
  feed: Address;
  /** The token/USDC Uniswap V2 pair (absent for USDC itself). */
  pair?: Address;
  /** USD price the pools and feed started at. */
  startPriceUsd: number;
};

/** Every address of a deployed devnet, as printed by `treasury devnet` and written by `--json`. */
export type DevnetDeployment = {
  chainId: number;
  rpcUrl: string;
  priceDate: string;
  deployer: Address;
  safeContracts: {
    safeSingleton: Address;
    safeProxyFactory: Address;
    multiSend: Address;
    multiSendCallOnly: Address;
    fallbackHandler: Address;
    signMessageLib: Address;
    createCall: Address;
    simulateTxAccessor: Address;
  };
  safe: { address: Address; owners: Address[]; threshold: number; agent: Address };
  uniswap: { factory: Address; router: Address; weth9: Address };
  /** PolicySwapper: the voted batches' price-policy contract (no owner). */
  policySwapper: Address;
  tokens: Record<string, DeployedToken>;
};

/** protocol-kit's `contractNetworks` for a devnet (chain 31337 has no entry in safe-deployments). */
export function contractNetworksFor(deployment: Pick<DevnetDeployment, 'chainId' | 'safeContracts'>) {
  const c = deployment.safeContracts;
  return {
    [String(deployment.chainId)]: {
      safeSingletonAddress: c.safeSingleton,
      safeProxyFactoryAddress: c.safeProxyFactory,
      multiSendAddress: c.multiSend,
      multiSendCallOnlyAddress: c.multiSendCallOnly,
      fallbackHandlerAddress: c.fallbackHandler,
      signMessageLibAddress: c.signMessageLib,
      createCallAddress: c.createCall,
      simulateTxAccessorAddress: c.simulateTxAccessor,
    },
  };
}

export type DeployDevnetOptions = {
  rpcUrl: string;
  config: TreasuryAgentConfig;
  /** USD close of each configured token's `priceAsset` on `config.devnet.priceDate`. */
  pricesUsd: Record<string, number>;
  /**
   * Daily USD closes of each `priceAsset` before priceDate (days since 1970-01-01, oldest first): each becomes a
   * round of the token's feed stamped 23:59:00 of its day, so the agent reads its lookback from the chain.
   */
  historyUsd?: Record<string, { day: number; usd: number }[]>;
};

/** When the devnet's feeds post a day's close: 60 s before the day ends (days since 1970-01-01). */
export const closeTimeOf = (day: number) => (day + 1) * 86_400 - 60;

/** Converts a USD amount at a USD price into token base units (bigint), without float rounding drift. */
export function usdToUnits(usd: number, priceUsd: number, decimals: number): bigint {
  const amount = usd / priceUsd;
  if (!Number.isFinite(amount) || amount < 0)
    throw new RangeError(`cannot convert ${usd} USD at ${priceUsd}`);
  return parseUnits(amount.toFixed(Math.min(decimals, 12)), decimals);
}

export function priceToFeedAnswer(priceUsd: number): bigint {
  return parseUnits(priceUsd.toFixed(FEED_DECIMALS), FEED_DECIMALS);
}

/**
 * Deploys the whole local environment on a running anvil: Safe v1.4.1 contracts and the DAO's Safe (owners and
 * threshold from config), the ERC-20s (WETH is the real WETH9), one USD price feed per token, Uniswap V2 with a
 * token/USDC pair per token seeded at the day's prices, Multicall3, and funds the Safe per `devnet.treasuryMixBps`.
 */
export async function deployDevnet(options: DeployDevnetOptions): Promise<DevnetDeployment> {
  const { config, rpcUrl, pricesUsd } = options;
  const devnet = config.devnet;
  if (!devnet)
    throw new ConfigError('the config has no devnet section', { hint: 'add devnet: {priceDate, …}' });
  const chainId = config.chain.id;
  const deployerAccount = devAccount(0);
  const publicClient = makePublicClient(chainId, rpcUrl);
  const wallet = makeWalletClient(chainId, rpcUrl, deployerAccount);
  const deployer = deployerAccount.address;

  const actualChainId = await publicClient.getChainId().catch((error: unknown) => {
    throw new ChainError(`no chain answers at ${rpcUrl}`, { cause: error, hint: 'start anvil first' });
  });
  if (actualChainId !== chainId) {
    throw new ConfigError(`chain.id is ${chainId} but the node at the RPC URL reports ${actualChainId}`);
  }
  if (devnet.blockTimeSeconds > 0) {
    await publicClient.request({
      method: 'anvil_setBlockTimestampInterval' as 'eth_chainId',
      params: [devnet.blockTimeSeconds] as unknown as undefined,
    });
  }
  // Enough ether to wrap into WETH for the pools and the treasury.
  await publicClient.request({
    method: 'anvil_setBalance' as 'eth_chainId',
    params: [deployer, `0x${parseEther('100000000').toString(16)}`] as unknown as undefined,
  });

  const waitFor = async (hash: Hex, what: string) => {
    const receipt = await waitForReceipt(publicClient, {
      hash,
      step: `devnet deployment (${what})`,
      hint: 'the machine may be starved of CPU, or anvil stuck: stop it and start the devnet again',
    });
    if (receipt.status !== 'success') throw new ChainError(`devnet deployment failed at: ${what}`);
    return receipt;
  };
  const deploy = async (artifact: Artifact, args: unknown[] = []): Promise<Address> => {
    const hash = await wallet.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args });
    const receipt = await waitFor(hash, `deploy ${artifact.contractName}`);
    if (!receipt.contractAddress) throw new ChainError(`no contract address for ${artifact.contractName}`);
    return getAddress(receipt.contractAddress);
  };
  const call = async (to: Address, abi: Abi, functionName: string, args: unknown[], value = 0n) => {
    const hash = await wallet.sendTransaction({
      to,
      data: encodeFunctionData({ abi, functionName, args }),
      value,
    });
    return waitFor(hash, `${functionName} on ${to}`);
  };

  // Safe v1.4.1.
  const safeContracts = {
    safeSingleton: await deploy(safeArtifacts.safeL2),
    safeProxyFactory: await deploy(safeArtifacts.proxyFactory),
    multiSend: await deploy(safeArtifacts.multiSend),
    multiSendCallOnly: await deploy(safeArtifacts.multiSendCallOnly),
    fallbackHandler: await deploy(safeArtifacts.fallbackHandler),
    signMessageLib: await deploy(safeArtifacts.signMessageLib),
    createCall: await deploy(safeArtifacts.createCall),
    simulateTxAccessor: await deploy(safeArtifacts.simulateTxAccessor),
  };

  // The DAO's Safe: a proxy set up with the configured owners and threshold.
  const setupData = encodeFunctionData({
    abi: safeArtifacts.safeL2.abi,
    functionName: 'setup',
    args: [
      config.safe.owners,
      BigInt(config.safe.threshold),
      zeroAddress,
      '0x',
      safeContracts.fallbackHandler,
      zeroAddress,
      0n,
      zeroAddress,
    ],
  });
  const { result: safeAddress, request } = await publicClient.simulateContract({
    account: deployerAccount,
    address: safeContracts.safeProxyFactory,
    abi: safeArtifacts.proxyFactory.abi,
    functionName: 'createProxyWithNonce',
    args: [safeContracts.safeSingleton, setupData, 0n],
  });
  await waitFor(await wallet.writeContract(request), 'create the DAO Safe');

  // Tokens (WETH is WETH9) and their feeds.
  const weth9 = await deploy(uniswapArtifacts.weth9);
  const tokens: Record<string, DeployedToken> = {};
  for (const token of config.tokens) {
    const priceUsd = pricesUsd[token.priceAsset];
    if (priceUsd === undefined || !(priceUsd > 0) || !Number.isFinite(priceUsd)) {
      throw new ConfigError(
        `no price for ${token.priceAsset} (token ${token.symbol}) on ${devnet.priceDate} in the price history`,
        { hint: 'pick a devnet.priceDate where every priceAsset has a close, or change tokens[].priceAsset' },
      );
    }
    if (token.symbol === 'WETH' && token.decimals !== 18) throw new ConfigError('WETH has 18 decimals');
    const name = token.name ?? token.symbol;
    const address =
      token.symbol === 'WETH'
        ? weth9
        : await deploy(projectArtifacts.testToken, [name, token.symbol, token.decimals]);
    // With a history, the feed's first round is its first day's close; the rest is posted below.
    const first = options.historyUsd?.[token.priceAsset]?.[0];
    const feed = await deploy(projectArtifacts.priceFeed, [
      FEED_DECIMALS,
      `${token.symbol} / USD`,
      priceToFeedAnswer(first ? first.usd : priceUsd),
      first ? BigInt(closeTimeOf(first.day)) : 0n,
    ]);
    tokens[token.symbol] = {
      symbol: token.symbol,
      name,
      decimals: token.decimals,
      role: token.role,
      priceAsset: token.priceAsset,
      address,
      feed,
      startPriceUsd: priceUsd,
    };
  }

  // The feeds' history: one round per day before priceDate, then priceDate's close, in as few blocks as fit.
  if (options.historyUsd) {
    const priceDay = Math.floor(Date.parse(devnet.priceDate) / 86_400_000);
    const now = Number((await publicClient.getBlock({ blockTag: 'latest' })).timestamp);
    const rounds = Object.values(tokens).flatMap((token) => {
      const days = options.historyUsd?.[token.priceAsset] ?? [];
      if (days.length === 0) return [];
      return [
        ...days.slice(1).map((d) => ({
          feed: token.feed,
          answer: priceToFeedAnswer(d.usd),
          updatedAt: closeTimeOf(d.day),
        })),
        {
          feed: token.feed,
          answer: priceToFeedAnswer(token.startPriceUsd),
          updatedAt: Math.min(closeTimeOf(priceDay), now),
        },
      ];
    });
    await writeFeedRounds({ rpcUrl, chainId, from: deployer, rounds });
  }

  const fund = async (symbol: string, to: Address, amount: bigint) => {
    const token = tokens[symbol]!;
    if (amount === 0n) return;
    if (symbol === 'WETH') {
      await call(weth9, uniswapArtifacts.weth9.abi, 'deposit', [], amount);
      await call(weth9, uniswapArtifacts.weth9.abi, 'transfer', [to, amount]);
    } else {
      await call(token.address, projectArtifacts.testToken.abi, 'mint', [to, amount]);
    }
  };

  // Uniswap V2 with one token/USDC pair per token, seeded at the day's prices.
  const factory = await deploy(uniswapArtifacts.factory, [deployer]);
  const router = await deploy(uniswapArtifacts.router, [factory, weth9]);
  const usdc = tokens.USDC!;
  for (const token of Object.values(tokens)) {
    if (token.symbol === 'USDC') continue;
    await call(factory, uniswapArtifacts.factory.abi, 'createPair', [token.address, usdc.address]);
    const pair = (await publicClient.readContract({
      address: factory,
      abi: uniswapArtifacts.factory.abi,
      functionName: 'getPair',
      args: [token.address, usdc.address],
    })) as Address;
    token.pair = getAddress(pair);
    await fund(
      token.symbol,
      token.pair,
      usdToUnits(devnet.poolDepthUsd, token.startPriceUsd, token.decimals),
    );
    await fund('USDC', token.pair, usdToUnits(devnet.poolDepthUsd, usdc.startPriceUsd, usdc.decimals));
    await call(token.pair, uniswapArtifacts.pair.abi, 'mint', [deployer]);
  }

  // The contract voted batches call: it checks each swap's price policy against the feeds when it runs.
  const policySwapper = await deploy(projectArtifacts.policySwapper);

  // The treasury, funded like a real DAO's: mostly its own token.
  for (const [symbol, bps] of Object.entries(devnet.treasuryMixBps)) {
    const token = tokens[symbol]!;
    await fund(
      symbol,
      safeAddress,
      usdToUnits((devnet.treasuryUsd * bps) / 10_000, token.startPriceUsd, token.decimals),
    );
  }

  return {
    chainId,
    rpcUrl,
    priceDate: devnet.priceDate,
    deployer,
    safeContracts,
    safe: {
      address: safeAddress,
      owners: config.safe.owners,
      threshold: config.safe.threshold,
      agent: config.safe.agent,
    },
    uniswap: { factory, router, weth9 },
    policySwapper,
    tokens,
  };
}
