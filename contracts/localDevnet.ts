import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { ConfigError } from '../shared/errors.ts';
import { dayOf, loadPriceHistory, type PriceHistory, priceAsOf } from '../strategies/priceHistory.ts';
import { configureStrategy } from '../strategies/registry.ts';
import { type AnvilInstance, startAnvil } from './anvil.ts';
import { makePublicClient } from './chainClients.ts';
import { contractNetworksFor, type DevnetDeployment, deployDevnet } from './devnet.ts';
import type { ExecutorContext } from './safeExecutor.ts';

/** The project's copy of the daily price history (see data/README.md for provenance). */
export const DEFAULT_PRICES_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'data',
  'prices_daily.csv',
);

export type LocalDevnet = {
  anvil: AnvilInstance;
  deployment: DevnetDeployment;
  /** The config with the deployed addresses filled in (safe.address, tokens[].address/feed, router, chain.rpcUrl). */
  config: TreasuryAgentConfig;
  stop: () => Promise<void>;
};

/** Reads the close of every token's `priceAsset` on `date` from the price history. */
export async function closingPricesOn(
  config: TreasuryAgentConfig,
  date: string,
  pricesPath = DEFAULT_PRICES_PATH,
  loaded?: PriceHistory,
) {
  const history = loaded ?? (await loadPriceHistory(pricesPath));
  const day = dayOf(date);
  const prices: Record<string, number> = {};
  for (const token of config.tokens) {
    const price = priceAsOf(history, token.priceAsset, day);
    if (price === undefined) {
      throw new ConfigError(
        `no ${token.priceAsset} price on ${date} in ${pricesPath} (token ${token.symbol})`,
        {
          hint: 'pick devnet.priceDate inside the history of every tokens[].priceAsset (see data/README.md)',
        },
      );
    }
    prices[token.priceAsset] = price;
  }
  return prices;
}

/**
 * The observed daily closes of every token's `priceAsset` in the `days` days before `date` (oldest first; days
 * missing from the file stay missing): what the devnet's feeds post as their past rounds.
 */
export function closesBefore(
  config: TreasuryAgentConfig,
  history: PriceHistory,
  date: string,
  days: number,
): Record<string, { day: number; usd: number }[]> {
  const end = dayOf(date);
  const out: Record<string, { day: number; usd: number }[]> = {};
  for (const token of config.tokens) {
    const series = history.assets[token.priceAsset];
    const list: { day: number; usd: number }[] = [];
    for (let day = end - days; series && day < end; day++) {
      const usd =
        day >= series.firstDay && day <= series.lastDay ? series.closes[day - series.firstDay]! : Number.NaN;
      if (usd > 0 && Number.isFinite(usd)) list.push({ day, usd });
    }
    out[token.priceAsset] = list;
  }
  return out;
}

/** How many days of rounds the devnet's feeds get before priceDate: devnet.historyDays, or the lookback + 7. */
export function devnetHistoryDays(config: TreasuryAgentConfig): number {
  if (config.devnet?.historyDays !== undefined) return config.devnet.historyDays;
  return (config.strategy ? configureStrategy(config.strategy).lookbackDays : 0) + 7;
}

/** The config as it is once the devnet is deployed: every address known, the RPC pointing at this anvil. */
export function configForDeployment(
  config: TreasuryAgentConfig,
  deployment: DevnetDeployment,
): TreasuryAgentConfig {
  return {
    ...config,
    chain: { ...config.chain, rpcUrl: deployment.rpcUrl },
    safe: {
      ...config.safe,
      address: deployment.safe.address,
      contracts: deployment.safeContracts,
    },
    router: deployment.uniswap.router,
    execution: { ...config.execution, policySwapper: deployment.policySwapper },
    tokens: config.tokens.map((token) => ({
      ...token,
      address: deployment.tokens[token.symbol]!.address,
      feed: deployment.tokens[token.symbol]!.feed,
    })),
  };
}

/**
 * Starts anvil and deploys the devnet of `config` on it. The chain starts at the end of `devnet.priceDate`
 * (the pools' prices are that day's closes), and each feed holds one round per day for the `devnet.historyDays`
 * days before it (the price file's closes), so the agent reads its lookback from the chain. If anything fails,
 * anvil is stopped before the error is thrown.
 */
export async function startDevnet(options: {
  config: TreasuryAgentConfig;
  port?: number;
  pricesPath?: string;
}): Promise<LocalDevnet> {
  const { config } = options;
  if (!config.devnet)
    throw new ConfigError('the config has no devnet section', { hint: 'see config/examples/devnet.yaml' });
  const pricesPath = options.pricesPath ?? DEFAULT_PRICES_PATH;
  const history = await loadPriceHistory(pricesPath);
  const pricesUsd = await closingPricesOn(config, config.devnet.priceDate, pricesPath, history);
  const historyUsd = closesBefore(config, history, config.devnet.priceDate, devnetHistoryDays(config));
  const startTimestamp = (dayOf(config.devnet.priceDate) + 1) * 86_400 - 60;
  const anvil = await startAnvil({ port: options.port, chainId: config.chain.id, startTimestamp });
  try {
    const deployment = await deployDevnet({ rpcUrl: anvil.rpcUrl, config, pricesUsd, historyUsd });
    return { anvil, deployment, config: configForDeployment(config, deployment), stop: anvil.stop };
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/** The executor's view of a devnet: its Safe, router, allowlists and protocol-kit contract addresses. */
export function executorContextForDevnet(devnet: LocalDevnet): ExecutorContext {
  const { deployment } = devnet;
  return {
    client: makePublicClient(deployment.chainId, deployment.rpcUrl),
    rpcUrl: deployment.rpcUrl,
    chainId: deployment.chainId,
    safe: deployment.safe.address,
    router: deployment.uniswap.router,
    factory: deployment.uniswap.factory,
    multiSendCallOnly: deployment.safeContracts.multiSendCallOnly,
    contractNetworks: contractNetworksFor(deployment),
    swapper: deployment.policySwapper,
    tokens: Object.values(deployment.tokens).map((t) => ({
      symbol: t.symbol,
      address: t.address,
      decimals: t.decimals,
      feed: t.feed,
    })),
    allowedRouters: [deployment.uniswap.router],
  };
}
