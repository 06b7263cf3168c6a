import { type Address, encodeFunctionData, type Hex, maxUint256 } from 'viem';
import { erc20Abi, uniswapV2RouterAbi } from '../../contracts/abis.ts';
import { projectArtifacts, uniswapArtifacts } from '../../contracts/artifacts.ts';
import { makePublicClient, makeWalletClient } from '../../contracts/chainClients.ts';
import { devAccount } from '../../contracts/devAccounts.ts';
import { closeTimeOf, priceToFeedAnswer } from '../../contracts/devnet.ts';
import { writeFeedRounds } from '../../contracts/feedRoundWriter.ts';
import { waitForReceipt } from '../../contracts/receipts.ts';
import { readPools } from '../../contracts/treasuryReads.ts';
import { type PriceHistory, priceAsOf } from '../../strategies/priceHistory.ts';
import { LOCAL_HINT, type LocalStack, postFeedPrices } from '../localStack.ts';

/**
 * The demo's market: on each replayed day the feeds post that day's closes and an arbitrageur (the devnet
 * deployer, who can mint the test tokens) swaps every pool back to the feed price, as arbitrage does on a
 * real DEX. Pools keep their constant product; only their price follows history.
 */
export type MarketDay = { day: number; pricesUsd: Record<string, number> };

export function pricesOnDay(
  stack: Pick<LocalStack, 'devnet'>,
  history: PriceHistory,
  day: number,
): Record<string, number> {
  const prices: Record<string, number> = {};
  for (const token of Object.values(stack.devnet.deployment.tokens)) {
    const price = priceAsOf(history, token.priceAsset, day);
    if (price === undefined)
      throw new Error(`no ${token.priceAsset} price on day ${day} for ${token.symbol}`);
    prices[token.symbol] = price;
  }
  return prices;
}

/** How much to swap in so the pool's price becomes `target` (quote per token), keeping x·y (fee approximated). */
export function arbitrageAmountIn(
  reserveToken: bigint,
  reserveQuote: bigint,
  target: number,
  tokenDecimals: number,
  quoteDecimals: number,
) {
  const x = Number(reserveToken) / 10 ** tokenDecimals;
  const y = Number(reserveQuote) / 10 ** quoteDecimals;
  const k = x * y;
  const spot = y / x;
  if (Math.abs(spot / target - 1) < 0.0005) return undefined;
  if (spot < target) {
    const yAfter = Math.sqrt(k * target);
    return {
      side: 'buyToken' as const,
      amountIn: BigInt(Math.floor(((yAfter - y) / 0.997) * 10 ** quoteDecimals)),
    };
  }
  const xAfter = Math.sqrt(k / target);
  return {
    side: 'sellToken' as const,
    amountIn: BigInt(Math.floor(((xAfter - x) / 0.997) * 10 ** tokenDecimals)),
  };
}

export async function applyMarketDay(
  stack: Pick<LocalStack, 'devnet'>,
  pricesUsd: Record<string, number>,
): Promise<void> {
  const { deployment } = stack.devnet;
  const client = makePublicClient(deployment.chainId, deployment.rpcUrl);
  const arb = makeWalletClient(deployment.chainId, deployment.rpcUrl, devAccount(0));
  const usdc = deployment.tokens.USDC!;
  const tokens = Object.values(deployment.tokens).map((t) => ({
    symbol: t.symbol,
    address: t.address,
    decimals: t.decimals,
  }));
  const pools = await readPools(client, {
    factory: deployment.uniswap.factory,
    quote: tokens.find((t) => t.symbol === 'USDC')!,
    tokens,
  });
  const send = (to: Address, data: Hex, value = 0n) => arb.sendTransaction({ to, data, value });
  const fund = async (address: Address, amount: bigint) => {
    if (address === deployment.uniswap.weth9) {
      await send(
        address,
        encodeFunctionData({ abi: uniswapArtifacts.weth9.abi, functionName: 'deposit' }),
        amount,
      );
    } else {
      await send(
        address,
        encodeFunctionData({
          abi: projectArtifacts.testToken.abi,
          functionName: 'mint',
          args: [arb.account.address, amount],
        }),
      );
    }
    const allowance = await client.readContract({
      address,
      abi: erc20Abi,
      functionName: 'allowance',
      args: [arb.account.address, deployment.uniswap.router],
    });
    if (allowance < amount)
      await send(
        address,
        encodeFunctionData({
          abi: erc20Abi,
          functionName: 'approve',
          args: [deployment.uniswap.router, maxUint256],
        }),
      );
  };
  const deadline = (await client.getBlock()).timestamp + 3600n;
  let last: Hex | undefined;
  for (const pool of Object.values(pools.pools)) {
    const token = deployment.tokens[pool.symbol]!;
    const target = pricesUsd[pool.symbol]! / pricesUsd.USDC!;
    const trade = arbitrageAmountIn(
      pool.reserveToken,
      pool.reserveQuote,
      target,
      pool.tokenDecimals,
      pool.quoteDecimals,
    );
    if (!trade || trade.amountIn <= 0n) continue;
    const [tokenIn, tokenOut] =
      trade.side === 'buyToken' ? [usdc.address, token.address] : [token.address, usdc.address];
    await fund(tokenIn, trade.amountIn);
    last = await send(
      deployment.uniswap.router,
      encodeFunctionData({
        abi: uniswapV2RouterAbi,
        functionName: 'swapExactTokensForTokens',
        args: [trade.amountIn, 0n, [tokenIn, tokenOut], arb.account.address, deadline],
      }),
    );
  }
  if (last)
    await waitForReceipt(client, {
      hash: last,
      step: "moving the pools to the day's prices",
      hint: LOCAL_HINT,
    });
  await postFeedPrices(stack, pricesUsd);
}

/**
 * The feeds' closes of the days the demo skips (fromDay…toDay): each feed posts its asset's close of each day,
 * stamped 23:59:00, so the agent's history on chain is the price file's, day by day. Call it once the chain's
 * time is past toDay.
 */
export async function postClosesOfDays(
  stack: Pick<LocalStack, 'devnet'>,
  history: PriceHistory,
  fromDay: number,
  toDay: number,
): Promise<void> {
  const { deployment } = stack.devnet;
  const rounds = Object.values(deployment.tokens).flatMap((token) => {
    const list = [];
    for (let day = fromDay; day <= toDay; day++) {
      const price = priceAsOf(history, token.priceAsset, day);
      if (price !== undefined)
        list.push({ feed: token.feed, answer: priceToFeedAnswer(price), updatedAt: closeTimeOf(day) });
    }
    return list;
  });
  await writeFeedRounds({
    rpcUrl: deployment.rpcUrl,
    chainId: deployment.chainId,
    from: devAccount(0).address,
    rounds,
  });
}
