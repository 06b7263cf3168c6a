import { type Address, encodeFunctionData, formatUnits, type Hex, parseUnits, zeroAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { safeAbi, uniswapV2FactoryAbi } from '../contracts/abis.ts';
import { devAccount, devPrivateKey } from '../contracts/devAccounts.ts';
import { executorContextForDevnet } from '../contracts/localDevnet.ts';
import { executeRebalance, prepareRebalance, SimulationError } from '../contracts/safeExecutor.ts';
import {
  buildRebalanceTx,
  computeSafeTxHash,
  SAFE_TX_TYPES,
  uniswapV2PairFor,
} from '../contracts/safeTransaction.ts';
import { readHoldings, readPools, readSafeState } from '../contracts/treasuryReads.ts';
import { RefusedError } from '../shared/errors.ts';
import { getAmountOut } from '../strategies/uniswap.ts';
import { useDevnet } from './support/devnet.ts';

const fixture = useDevnet();
const AGENT = devPrivateKey(1);
const STEWARD_A = devPrivateKey(2);
const STEWARD_B = devPrivateKey(3);

function setup() {
  const ctx = executorContextForDevnet(fixture.devnet);
  const tokens = fixture.devnet.deployment.tokens;
  const address = (symbol: string) => tokens[symbol]!.address;
  return { ctx, tokens, address };
}

async function chainTime() {
  return (await fixture.client.getBlock()).timestamp;
}

/** Expected outputs of GOV→USDC then USDC→WETH from the pools' reserves, by the Uniswap V2 formula. */
async function twoSwapPlan(govIn: bigint, usdcIn: bigint) {
  const { ctx, tokens, address } = setup();
  const quote = { symbol: 'USDC', address: address('USDC'), decimals: 6 };
  const pools = await readPools(fixture.client, { factory: ctx.factory, quote, tokens: ctx.tokens });
  const gov = pools.pools.GOV!;
  const weth = pools.pools.WETH!;
  const usdcOut = getAmountOut(govIn, gov.reserveToken, gov.reserveQuote);
  const wethOut = getAmountOut(usdcIn, weth.reserveQuote, weth.reserveToken);
  return {
    usdcOut,
    wethOut,
    swaps: [
      {
        tokenIn: address('GOV'),
        tokenOut: address('USDC'),
        amountIn: govIn,
        minAmountOut: (usdcOut * 99n) / 100n,
      },
      {
        tokenIn: address('USDC'),
        tokenOut: address('WETH'),
        amountIn: usdcIn,
        minAmountOut: (wethOut * 99n) / 100n,
      },
    ],
    tokens,
  };
}

describe('the devnet', () => {
  it('deploys the DAO Safe with the configured owners and threshold, funded mostly in its own token', async () => {
    const { ctx, tokens } = setup();
    const config = fixture.devnet.config;
    const state = await readSafeState(fixture.client, { safe: ctx.safe });
    expect(state.owners).toEqual(config.safe.owners);
    expect(state.threshold).toBe(2);
    expect(state.nonce).toBe(0n);
    expect(
      await fixture.client.readContract({ address: ctx.safe, abi: safeAbi, functionName: 'VERSION' }),
    ).toBe('1.4.1');

    const holdings = await readHoldings(fixture.client, { safe: ctx.safe, tokens: ctx.tokens });
    const usd = (symbol: string) =>
      (Number(holdings.holdings[symbol]!.amount) / 10 ** tokens[symbol]!.decimals) *
      tokens[symbol]!.startPriceUsd;
    const total = Object.keys(tokens).reduce((sum, s) => sum + usd(s), 0);
    expect(total).toBeCloseTo(config.devnet!.treasuryUsd, -1);
    expect(usd('GOV') / total).toBeCloseTo(0.9, 6);
    expect(usd('USDC') / total).toBeCloseTo(0.1, 6);
    expect(holdings.holdings.WETH!.amount).toBe(0n);
    expect(tokens.WBTC!.decimals).toBe(8);
    expect(tokens.USDC!.decimals).toBe(6);
  });

  it('seeds every token/USDC pool at the price of the day, and the CREATE2 pair address matches the factory', async () => {
    const { ctx, tokens, address } = setup();
    const quote = { symbol: 'USDC', address: address('USDC'), decimals: 6 };
    const pools = await readPools(fixture.client, { factory: ctx.factory, quote, tokens: ctx.tokens });
    for (const symbol of ['GOV', 'WETH', 'WBTC', 'DAI']) {
      const pool = pools.pools[symbol]!;
      const spot = Number(pool.reserveQuote) / 1e6 / (Number(pool.reserveToken) / 10 ** pool.tokenDecimals);
      expect(spot / (tokens[symbol]!.startPriceUsd / tokens.USDC!.startPriceUsd)).toBeCloseTo(1, 6);
      const onChain = await fixture.client.readContract({
        address: ctx.factory,
        abi: uniswapV2FactoryAbi,
        functionName: 'getPair',
        args: [address(symbol), address('USDC')],
      });
      expect(uniswapV2PairFor(ctx.factory, address(symbol), address('USDC'))).toBe(onChain);
    }
  });
});

describe('executing a rebalance through the Safe', () => {
  for (const route of ['pair', 'router'] as const) {
    it(`executes a two-swap rebalance (${route} route) and balances change by exactly the pool's amounts`, async () => {
      const { ctx } = setup();
      const govIn = parseUnits('20000', 18);
      const usdcIn = parseUnits('150000', 6);
      const plan = await twoSwapPlan(govIn, usdcIn);
      const deadline = (await chainTime()) + 86_400n;
      const result = await executeRebalance(ctx, { swaps: plan.swaps, route, deadline }, [AGENT, STEWARD_A]);
      expect(result.receipt.status).toBe('success');
      expect(result.balanceChanges.GOV!.delta).toBe(-govIn);
      expect(result.balanceChanges.USDC!.delta).toBe(plan.usdcOut - usdcIn);
      expect(result.balanceChanges.WETH!.delta).toBe(plan.wethOut);
      expect(result.balanceChanges.WBTC!.delta).toBe(0n);
      const state = await readSafeState(fixture.client, { safe: ctx.safe });
      expect(state.nonce).toBe(1n);
    });
  }

  it('computes the same safeTxHash offline as the Safe contract does on chain', async () => {
    const { ctx } = setup();
    const plan = await twoSwapPlan(parseUnits('1000', 18), parseUnits('1000', 6));
    const tx = buildRebalanceTx({
      ...ctx,
      swaps: plan.swaps,
      route: 'pair',
      deadline: 2_000_000_000n,
      nonce: 7n,
    });
    const onChain = await fixture.client.readContract({
      address: ctx.safe,
      abi: safeAbi,
      functionName: 'getTransactionHash',
      args: [
        tx.safeTx.to,
        tx.safeTx.value,
        tx.safeTx.data,
        tx.safeTx.operation,
        0n,
        0n,
        0n,
        zeroAddress,
        zeroAddress,
        7n,
      ],
    });
    expect(tx.safeTxHash).toBe(onChain);
    expect(tx.safeTx.operation).toBe(1); // one delegatecall into MultiSendCallOnly ...
    expect(tx.safeTx.to).toBe(fixture.devnet.deployment.safeContracts.multiSendCallOnly);
    expect(tx.calls.every((c) => c.operation === 0)).toBe(true); // ... whose inner calls are calls only
    expect(computeSafeTxHash(ctx.chainId, ctx.safe, { ...tx.safeTx, nonce: 8n })).not.toBe(tx.safeTxHash);
  });

  it('does not execute a swap whose minimum out cannot be met, and names the failing call', async () => {
    const { ctx } = setup();
    const plan = await twoSwapPlan(parseUnits('20000', 18), parseUnits('150000', 6));
    plan.swaps[1]!.minAmountOut = plan.wethOut + 1n;
    const before = await readHoldings(fixture.client, { safe: ctx.safe, tokens: ctx.tokens });
    const deadline = (await chainTime()) + 86_400n;
    const error = await executeRebalance(ctx, { swaps: plan.swaps, route: 'router', deadline }, [
      AGENT,
      STEWARD_A,
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulationError);
    const simulation = error as SimulationError;
    expect(simulation.callIndex).toBe(3);
    expect(simulation.callLabel).toMatch(/swap 2: USDC → WETH: router\.swapExactTokensForTokens/);
    expect(simulation.reason).toMatch(/INSUFFICIENT_OUTPUT_AMOUNT/);
    const after = await readHoldings(fixture.client, { safe: ctx.safe, tokens: ctx.tokens });
    expect(after.holdings).toEqual(before.holdings);
    expect((await readSafeState(fixture.client, { safe: ctx.safe })).nonce).toBe(0n);
  });

  it('does not execute with fewer signatures than the threshold, and the Safe itself refuses them too', async () => {
    const { ctx } = setup();
    const plan = await twoSwapPlan(parseUnits('1000', 18), parseUnits('1000', 6));
    const deadline = (await chainTime()) + 86_400n;
    const txCountBefore = await fixture.client.getTransactionCount({ address: devAccount(1).address });
    await expect(
      executeRebalance(ctx, { swaps: plan.swaps, route: 'pair', deadline }, [AGENT]),
    ).rejects.toThrow(/too few signatures: 1 of the 2/);
    expect(await fixture.client.getTransactionCount({ address: devAccount(1).address })).toBe(txCountBefore);

    // Bypassing our check: the Safe contract rejects one owner's signature with GS020 (signatures too short).
    const prepared = await prepareRebalance(ctx, { swaps: plan.swaps, route: 'pair', deadline });
    const signature = await devAccount(1).signTypedData({
      domain: { chainId: ctx.chainId, verifyingContract: ctx.safe },
      types: SAFE_TX_TYPES,
      primaryType: 'SafeTx',
      message: prepared.safeTx,
    });
    const t = prepared.safeTx;
    const call = fixture.client.call({
      account: devAccount(1).address,
      to: ctx.safe,
      data: encodeFunctionData({
        abi: safeAbi,
        functionName: 'execTransaction',
        args: [
          t.to,
          t.value,
          t.data,
          t.operation,
          t.safeTxGas,
          t.baseGas,
          t.gasPrice,
          t.gasToken,
          t.refundReceiver,
          signature,
        ],
      }),
    });
    await expect(call).rejects.toThrow(/GS020/);
  });

  it('refuses a wrong expected safeTxHash with nothing signed or sent', async () => {
    const { ctx } = setup();
    const plan = await twoSwapPlan(parseUnits('1000', 18), parseUnits('1000', 6));
    const deadline = (await chainTime()) + 86_400n;
    const blockBefore = await fixture.client.getBlockNumber();
    const wrong = `0x${'ab'.repeat(32)}` as Hex;
    const error = await executeRebalance(
      ctx,
      { swaps: plan.swaps, route: 'pair', deadline, expectedSafeTxHash: wrong },
      [AGENT, STEWARD_A, STEWARD_B],
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefusedError);
    expect((error as Error).message).toMatch(/safeTxHash mismatch: expected 0xabab/);
    expect(await fixture.client.getBlockNumber()).toBe(blockBefore);
    expect((await readSafeState(fixture.client, { safe: ctx.safe })).nonce).toBe(0n);

    // The same request with the right hash goes through.
    const prepared = await prepareRebalance(ctx, { swaps: plan.swaps, route: 'pair', deadline });
    const ok = await executeRebalance(
      ctx,
      { swaps: plan.swaps, route: 'pair', deadline, expectedSafeTxHash: prepared.safeTxHash },
      [AGENT, STEWARD_B],
    );
    expect(ok.safeTxHash).toBe(prepared.safeTxHash);
  });

  it('refuses, before anything is sent, tokens or routers off the allowlist, amounts above the balance, a zero minimum out, a moved nonce', async () => {
    const { ctx, address } = setup();
    const deadline = (await chainTime()) + 86_400n;
    const stranger = '0x000000000000000000000000000000000000dEaD' as Address;
    const swap = {
      tokenIn: address('GOV'),
      tokenOut: address('USDC'),
      amountIn: 10n ** 18n,
      minAmountOut: 1n,
    };
    const refused = (request: Parameters<typeof prepareRebalance>[1], c = ctx) =>
      prepareRebalance(c, request);

    await expect(
      refused({ swaps: [{ ...swap, tokenOut: stranger }], route: 'pair', deadline }),
    ).rejects.toThrow(/swap 1: token 0x0+dEaD is not on the allowlist/);
    await expect(
      refused({ swaps: [swap], route: 'pair', deadline }, { ...ctx, router: stranger }),
    ).rejects.toThrow(/router 0x0+dEaD is not on the allowlist/);
    await expect(
      refused({ swaps: [{ ...swap, minAmountOut: 0n }], route: 'pair', deadline }),
    ).rejects.toThrow(/minimum out is 0/);
    const holdings = await readHoldings(fixture.client, { safe: ctx.safe, tokens: ctx.tokens });
    const all = holdings.holdings.GOV!.amount;
    await expect(
      refused({ swaps: [{ ...swap, amountIn: all + 1n }], route: 'pair', deadline }),
    ).rejects.toThrow(
      `sells ${formatUnits(all + 1n, 18)} GOV but the Safe will hold only ${formatUnits(all, 18)} GOV`,
    );
    // A buy may spend only what earlier sells are guaranteed to return (their minimum out).
    const usdc = holdings.holdings.USDC!.amount;
    await expect(
      refused({
        swaps: [
          { ...swap, minAmountOut: 5n },
          { tokenIn: address('USDC'), tokenOut: address('WETH'), amountIn: usdc + 6n, minAmountOut: 1n },
        ],
        route: 'pair',
        deadline,
      }),
    ).rejects.toThrow(`swap 2: sells ${formatUnits(usdc + 6n, 6)} USDC`);
    await expect(refused({ swaps: [swap], route: 'pair', deadline, nonce: 3n })).rejects.toThrow(
      /nonce moved: built for 3/,
    );
    await expect(refused({ swaps: [swap], route: 'pair', deadline: 1n })).rejects.toThrow(
      /deadline 1 has passed/,
    );
    await expect(
      executeRebalance(ctx, { swaps: [swap], route: 'pair', deadline }, [AGENT, devPrivateKey(7)]),
    ).rejects.toThrow(/is not an owner of the Safe/);
    expect((await readSafeState(fixture.client, { safe: ctx.safe })).nonce).toBe(0n);
  });
});
