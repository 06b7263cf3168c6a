import { encodeFunctionData } from 'viem';
import { describe, expect, it } from 'vitest';
import { aggregatorV3Abi } from '../contracts/abis.ts';
import { projectArtifacts } from '../contracts/artifacts.ts';
import { makeWalletClient } from '../contracts/chainClients.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import { priceToFeedAnswer } from '../contracts/devnet.ts';
import { feedPriceUsd, readFeeds, readHoldings, readPools } from '../contracts/treasuryReads.ts';
import { useDevnet } from './support/devnet.ts';

const fixture = useDevnet();

describe('treasury reads', () => {
  it('reads every feed with its round time, and an owner update moves the price and updatedAt', async () => {
    const { deployment } = fixture.devnet;
    const feeds = Object.values(deployment.tokens).map((t) => ({ symbol: t.symbol, feed: t.feed }));
    const first = await readFeeds(fixture.client, { feeds });
    for (const token of Object.values(deployment.tokens)) {
      const reading = first.feeds[token.symbol]!;
      expect(reading.decimals).toBe(8);
      expect(reading.answer).toBe(priceToFeedAnswer(token.startPriceUsd));
      expect(feedPriceUsd(reading)).toBeCloseTo(token.startPriceUsd, 6);
      expect(reading.updatedAt).toBeLessThanOrEqual(first.blockTimestamp);
    }
    const wallet = makeWalletClient(deployment.chainId, deployment.rpcUrl, devAccount(0));
    const hash = await wallet.sendTransaction({
      to: deployment.tokens.WETH!.feed,
      data: encodeFunctionData({
        abi: aggregatorV3Abi,
        functionName: 'updateAnswer',
        args: [priceToFeedAnswer(3000.5)],
      }),
    });
    const receipt = await fixture.client.waitForTransactionReceipt({ hash });
    const block = await fixture.client.getBlock({ blockNumber: receipt.blockNumber });
    const second = await readFeeds(fixture.client, { feeds });
    expect(feedPriceUsd(second.feeds.WETH!)).toBe(3000.5);
    expect(second.feeds.WETH!.updatedAt).toBe(Number(block.timestamp));
    expect(second.feeds.WETH!.roundId).toBe(first.feeds.WETH!.roundId + 1n);
    expect(second.feeds.GOV!.answer).toBe(first.feeds.GOV!.answer);
  });

  it('reads holdings and pools at a past block: bigint base units with their decimals', async () => {
    const { deployment } = fixture.devnet;
    const tokens = Object.values(deployment.tokens).map((t) => ({
      symbol: t.symbol,
      address: t.address,
      decimals: t.decimals,
    }));
    const now = await readHoldings(fixture.client, { safe: deployment.safe.address, tokens });
    expect(typeof now.holdings.GOV!.amount).toBe('bigint');
    expect(now.holdings.USDC!.decimals).toBe(6);
    const wallet = makeWalletClient(deployment.chainId, deployment.rpcUrl, devAccount(0));
    const hash = await wallet.sendTransaction({
      to: deployment.tokens.GOV!.address,
      data: encodeFunctionData({
        abi: projectArtifacts.testToken.abi,
        functionName: 'mint',
        args: [deployment.safe.address, 5n],
      }),
    });
    await fixture.client.waitForTransactionReceipt({ hash });
    const later = await readHoldings(fixture.client, { safe: deployment.safe.address, tokens });
    const earlier = await readHoldings(fixture.client, {
      safe: deployment.safe.address,
      tokens,
      blockNumber: now.blockNumber,
    });
    expect(later.holdings.GOV!.amount - earlier.holdings.GOV!.amount).toBe(5n);
    expect(earlier.holdings).toEqual(now.holdings);
    const quote = tokens.find((t) => t.symbol === 'USDC')!;
    const pools = await readPools(fixture.client, { factory: deployment.uniswap.factory, quote, tokens });
    expect(Object.keys(pools.pools).sort()).toEqual(['DAI', 'GOV', 'WBTC', 'WETH']);
    expect(pools.pools.WBTC!.tokenDecimals).toBe(8);
    expect(pools.pools.WBTC!.reserveToken).toBeGreaterThan(0n);
  });

  it('gives a clear error when the RPC is down', async () => {
    const { makePublicClient } = await import('../contracts/chainClients.ts');
    const dead = makePublicClient(31337, 'http://127.0.0.1:9');
    await expect(
      readHoldings(dead, { safe: fixture.devnet.deployment.safe.address, tokens: [] }),
    ).rejects.toThrow(/cannot read the latest block from the RPC → is the node up\?/);
  });
});
