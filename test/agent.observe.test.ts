import { encodeFunctionData } from 'viem';
import { describe, expect, it } from 'vitest';
import { observe } from '../agent/observe.ts';
import { aggregatorV3Abi } from '../contracts/abis.ts';
import { makeWalletClient } from '../contracts/chainClients.ts';
import { advanceChainTime } from '../contracts/chainTime.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import { priceToFeedAnswer } from '../contracts/devnet.ts';
import { MarketDataError } from '../shared/errors.ts';
import { useDevnet } from './support/devnet.ts';

const fixture = useDevnet();

async function postAnswer(symbol: string, answer: bigint, updatedAt?: bigint) {
  const { deployment } = fixture.devnet;
  const wallet = makeWalletClient(deployment.chainId, deployment.rpcUrl, devAccount(0));
  const data =
    updatedAt === undefined
      ? encodeFunctionData({ abi: aggregatorV3Abi, functionName: 'updateAnswer', args: [answer] })
      : encodeFunctionData({
          abi: aggregatorV3Abi,
          functionName: 'updateAnswerAt',
          args: [answer, updatedAt],
        });
  const hash = await wallet.sendTransaction({ to: deployment.tokens[symbol]!.feed, data });
  await fixture.client.waitForTransactionReceipt({ hash });
}

async function observation() {
  const { config, deployment } = fixture.devnet;
  return observe({ client: fixture.client, config, factory: deployment.uniswap.factory });
}

async function refusal(): Promise<MarketDataError> {
  const error = await observation().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(MarketDataError);
  return error as MarketDataError;
}

describe('observe', () => {
  it('reads every price with its source and time, close to its pool', async () => {
    const seen = await observation();
    for (const token of Object.values(fixture.devnet.deployment.tokens)) {
      const price = seen.prices[token.symbol]!;
      expect(price.usd).toBeCloseTo(token.startPriceUsd, 6);
      expect(price.source).toContain(token.feed);
      expect(price.ageSeconds).toBeGreaterThanOrEqual(0);
      if (token.symbol !== 'USDC') expect(price.deviationBps).toBeLessThanOrEqual(1);
    }
    expect(seen.holdings.blockNumber).toBe(seen.blockNumber);
  });

  it('refuses a zero and a negative answer, naming the token and the feed', async () => {
    await postAnswer('WETH', 0n);
    await postAnswer('WBTC', -5n);
    const error = await refusal();
    expect(error.details).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^WETH: the feed answered 0 \(zero or negative\) — feed 0x/),
        expect.stringMatching(/^WBTC: the feed answered -5/),
      ]),
    );
    expect(error.message).toMatch(/market data refused at block \d+: 2 problem\(s\) → the cycle stops/);
  });

  it('refuses a stale answer by the chain clock', async () => {
    await advanceChainTime(fixture.client, 3 * 86_400); // every feed is now 3 days old (limit 48 h)
    const error = await refusal();
    expect(error.details).toHaveLength(5);
    expect(error.details[0]).toMatch(/^GOV: the feed's answer is 72 h old \(limit 48 h\)/);
  });

  it('refuses a price away from the DEX pool by more than the bound', async () => {
    const weth = fixture.devnet.deployment.tokens.WETH!;
    await postAnswer('WETH', priceToFeedAnswer(weth.startPriceUsd * 1.05));
    const error = await refusal();
    expect(error.details).toHaveLength(1);
    expect(error.details[0]).toMatch(
      /^WETH: the feed says \$3957\.\d+ but the pool 0x[0-9a-fA-F]{40} says \$3769\.\d+ \(476 bps apart, limit 300\)/,
    );
  });
});
