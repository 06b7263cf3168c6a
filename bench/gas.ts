/**
 * Gas of one rebalance of 1, 2 and 4 swaps executed as ONE Safe transaction (2-of-3 signatures, MultiSendCallOnly
 * batch), against the same swaps sent from an EOA as separate transactions, measured in the same run from the
 * same chain state (evm_snapshot / evm_revert), block timestamps 12 s apart. Two EOA baselines: `approve + swap`
 * (an approval before every swap) and `standing allowances` (the EOA approved the router for the maximum
 * beforehand, not counted, so each swap is one transaction: the cheapest way an EOA trades).
 * Safe routes: `pair` (transfer to the pair + router swap with a fixed min out, no approval), `router` (approve
 * + swapExactTokensForTokens with a fixed min out), `router, standing allowances` (only the swaps: the Safe
 * approved the router for the maximum beforehand, not counted; the agent never does this, it is the floor of a
 * Safe batch for comparison), and `policy` (what the agent sends: exact approvals + PolicySwapper.execute,
 * which reads two feeds per swap, checks the voted price policy, swaps in the router's pairs directly, records the
 * decision). The last lines print each Safe route's ratio against both EOA baselines, which routes meet the
 * target (one Safe transaction for N ≥ 2 swaps at most the EOA with standing allowances), and the policy
 * contract's cost per swap against the plain router route.
 *
 *   npm run bench:gas
 */
import { type Address, encodeFunctionData, type Hex, maxUint256, parseUnits } from 'viem';
import { DEFAULT_DEVNET_CONFIG } from '../cli/devnetCommand.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { erc20Abi, uniswapV2RouterAbi } from '../contracts/abis.ts';
import { projectArtifacts } from '../contracts/artifacts.ts';
import { makePublicClient, makeWalletClient } from '../contracts/chainClients.ts';
import { devAccount, devPrivateKey } from '../contracts/devAccounts.ts';
import { executorContextForDevnet, startDevnet } from '../contracts/localDevnet.ts';
import { executePolicyBatch, executePrepared, executeRebalance } from '../contracts/safeExecutor.ts';
import {
  computeSafeTxHash,
  type MetaCall,
  type PolicyOrder,
  type SwapInstruction,
  type SwapRoute,
  safeTxForCalls,
} from '../contracts/safeTransaction.ts';
import { readSafeState } from '../contracts/treasuryReads.ts';
import { FEED_DECIMALS, feedAnswerOf, floorPriceOf, oraclePriceOf } from '../strategies/pricePolicy.ts';

const config = await loadConfig(DEFAULT_DEVNET_CONFIG);
const devnet = await startDevnet({ config });
try {
  const ctx = executorContextForDevnet(devnet);
  const client = makePublicClient(ctx.chainId, ctx.rpcUrl);
  const tokens = devnet.deployment.tokens;
  const token = (s: string) => tokens[s]!.address;
  const units = (s: string, amount: string) => parseUnits(amount, tokens[s]!.decimals);
  const deployer = makeWalletClient(ctx.chainId, ctx.rpcUrl, devAccount(0));
  const trader = makeWalletClient(ctx.chainId, ctx.rpcUrl, devAccount(6));
  const signers: Hex[] = [devPrivateKey(1), devPrivateKey(2)];
  const send = async (wallet: typeof trader, to: Address, data: Hex) => {
    const hash = await wallet.sendTransaction({ to, data });
    const receipt = await client.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`bench transaction failed: ${hash}`);
    return receipt.gasUsed;
  };
  const deadline = async () => (await client.getBlock()).timestamp + 86_400n;

  // The EOA gets the same tokens as the Safe.
  for (const [symbol, amount] of [
    ['GOV', '2000000'],
    ['USDC', '2000000'],
  ] as const) {
    await send(
      deployer,
      token(symbol),
      encodeFunctionData({
        abi: projectArtifacts.testToken.abi,
        functionName: 'mint',
        args: [trader.account.address, units(symbol, amount)],
      }),
    );
  }

  const swapsOf = (n: number): SwapInstruction[] => {
    const all: SwapInstruction[] = [
      { tokenIn: token('GOV'), tokenOut: token('USDC'), amountIn: units('GOV', '5000'), minAmountOut: 1n },
      { tokenIn: token('USDC'), tokenOut: token('WETH'), amountIn: units('USDC', '20000'), minAmountOut: 1n },
      { tokenIn: token('USDC'), tokenOut: token('WBTC'), amountIn: units('USDC', '20000'), minAmountOut: 1n },
      { tokenIn: token('USDC'), tokenOut: token('DAI'), amountIn: units('USDC', '20000'), minAmountOut: 1n },
    ];
    return all.slice(0, n);
  };

  /** The EOA's swaps, each preceded by an exact approval unless the EOA has standing allowances. */
  const eoaGas = async (swaps: SwapInstruction[], standing: boolean) => {
    let gas = 0n;
    for (const swap of swaps) {
      if (!standing) {
        gas += await send(
          trader,
          swap.tokenIn,
          encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [ctx.router, swap.amountIn] }),
        );
      }
      gas += await send(
        trader,
        ctx.router,
        encodeFunctionData({
          abi: uniswapV2RouterAbi,
          functionName: 'swapExactTokensForTokens',
          args: [
            swap.amountIn,
            swap.minAmountOut,
            [swap.tokenIn, swap.tokenOut],
            trader.account.address,
            await deadline(),
          ],
        }),
      );
    }
    return gas;
  };
  const safeGas = async (swaps: SwapInstruction[], route: SwapRoute) =>
    (await executeRebalance(ctx, { swaps, route, deadline: await deadline() }, signers)).gasUsed;
  /** A Safe transaction of arbitrary calls (the standing-allowance route and its one-off approvals). */
  const safeCalls = async (calls: MetaCall[]) => {
    const safeState = await readSafeState(ctx.client, { safe: ctx.safe });
    const safeTx = safeTxForCalls(calls, ctx.multiSendCallOnly, safeState.nonce);
    const prepared = {
      calls,
      callLabels: calls.map((_, i) => `call ${i + 1}`),
      safeTx,
      safeTxHash: computeSafeTxHash(ctx.chainId, ctx.safe, safeTx),
      safeState,
    };
    return (await executePrepared(ctx, prepared, signers)).gasUsed;
  };
  /** The same swaps from a Safe that approved the router for the maximum beforehand: the swap calls only. */
  const safeStandingGas = async (swaps: SwapInstruction[]) => {
    const until = await deadline();
    return safeCalls(
      swaps.map((swap) => ({
        to: ctx.router,
        value: 0n,
        operation: 0,
        data: encodeFunctionData({
          abi: uniswapV2RouterAbi,
          functionName: 'swapExactTokensForTokens',
          args: [swap.amountIn, swap.minAmountOut, [swap.tokenIn, swap.tokenOut], ctx.safe, until],
        }),
      })),
    );
  };
  // The same swaps under a price policy: 1% + fee + impact against the feeds, a floor 25% under them.
  const byAddress = Object.fromEntries(Object.values(tokens).map((t) => [t.address, t]));
  let decisions = 0;
  const policyGas = async (swaps: SwapInstruction[]) => {
    const orders: PolicyOrder[] = swaps.map((swap) => {
      const tokenIn = byAddress[swap.tokenIn]!;
      const tokenOut = byAddress[swap.tokenOut]!;
      const oracle = oraclePriceOf(feedAnswerOf(tokenIn.startPriceUsd), feedAnswerOf(tokenOut.startPriceUsd));
      return {
        tokenIn: swap.tokenIn,
        tokenOut: swap.tokenOut,
        amountIn: swap.amountIn,
        policy: {
          feedIn: tokenIn.feed,
          feedOut: tokenOut.feed,
          feedDecimals: FEED_DECIMALS,
          maxFeedAge: 30 * 86_400,
          slippageBps: 300,
          floorPrice: floorPriceOf(oracle, 2500),
        },
      };
    });
    const now = (await client.getBlock()).timestamp;
    decisions += 1;
    const decisionHash = `0x${decisions.toString(16).padStart(64, '0')}` as Hex;
    return (
      await executePolicyBatch(
        ctx,
        {
          decision: { decisionHash, router: ctx.router, validAfter: now, validUntil: now + 86_400n, orders },
        },
        signers,
      )
    ).gasUsed;
  };

  // Warm-up: every balance non-zero and the Safe's nonce past 0, for both sides (steady state).
  await safeGas(swapsOf(4), 'pair');
  await policyGas(swapsOf(4));
  await eoaGas(swapsOf(4), false);
  // Standing allowances: the maximum (which TestToken, like most tokens, never decrements), given inside each
  // standing measurement's snapshot before the swaps and not counted, so the other rows start from the same
  // state as before (no allowance left anywhere).
  const sold = [token('GOV'), token('USDC')];
  const maxApprove = encodeFunctionData({
    abi: erc20Abi,
    functionName: 'approve',
    args: [ctx.router, maxUint256],
  });
  const standingEoa = async () => {
    for (const t of sold) await send(trader, t, maxApprove);
  };
  const standingSafe = () =>
    safeCalls(sold.map((t) => ({ to: t, value: 0n, operation: 0, data: maxApprove })));

  const snapshot = async () =>
    (await client.request({ method: 'evm_snapshot' as 'eth_chainId' })) as unknown as string;
  const revert = (id: string) =>
    client.request({ method: 'evm_revert' as 'eth_chainId', params: [id] as unknown as undefined });
  const rows: {
    n: number;
    eoa: bigint;
    eoaStanding: bigint;
    pair: bigint;
    router: bigint;
    safeStanding: bigint;
    policy: bigint;
  }[] = [];
  for (const n of [1, 2, 4]) {
    const measure = async (run: () => Promise<bigint>) => {
      const id = await snapshot();
      try {
        return await run();
      } finally {
        await revert(id);
      }
    };
    const eoa = await measure(() => eoaGas(swapsOf(n), false));
    const eoaStanding = await measure(async () => {
      await standingEoa();
      return eoaGas(swapsOf(n), true);
    });
    const pair = await measure(() => safeGas(swapsOf(n), 'pair'));
    const router = await measure(() => safeGas(swapsOf(n), 'router'));
    const safeStanding = await measure(async () => {
      await standingSafe();
      return safeStandingGas(swapsOf(n));
    });
    const policy = await measure(() => policyGas(swapsOf(n)));
    rows.push({ n, eoa, eoaStanding, pair, router, safeStanding, policy });
  }
  const columns: [string, (r: (typeof rows)[number]) => bigint][] = [
    ['EOA: approve + swap each', (r) => r.eoa],
    ['EOA: standing allowances', (r) => r.eoaStanding],
    ['Safe: pair route', (r) => r.pair],
    ['Safe: router route', (r) => r.router],
    ['Safe: router, standing allowances*', (r) => r.safeStanding],
    ['Safe: price policy (agent)', (r) => r.policy],
  ];
  console.log(`swaps  ${columns.map(([h]) => h).join('  ')}`);
  for (const r of rows) {
    console.log(
      `${String(r.n).padStart(5)}  ${columns.map(([h, f]) => String(f(r)).padStart(h.length)).join('  ')}`,
    );
  }
  console.log(
    '* the Safe approved the router for the maximum beforehand (not counted); the agent never leaves an\n' +
      '  approval behind, so this row is only the floor a Safe batch could reach, not what the agent sends',
  );
  const ratio = (a: bigint, b: bigint) => (Number(a) / Number(b)).toFixed(3);
  const safeRoutes = columns.slice(2);
  for (const [label, base] of [
    ['EOA approve + swap each', (r: (typeof rows)[number]) => r.eoa],
    ['EOA with standing allowances', (r: (typeof rows)[number]) => r.eoaStanding],
  ] as const) {
    console.log(
      `Safe/${label}: ${safeRoutes
        .map(
          ([h, f]) =>
            `${h.replace('Safe: ', '').replace('*', '')} ${rows.map((r) => `${r.n}: ${ratio(f(r), base(r))}`).join(', ')}`,
        )
        .join(' | ')}`,
    );
  }
  const meets = (f: (r: (typeof rows)[number]) => bigint) =>
    rows.filter((r) => r.n >= 2).every((r) => f(r) <= r.eoaStanding);
  console.log(
    `target (one Safe transaction for N ≥ 2 swaps ≤ the same swaps from an EOA with standing allowances): ${safeRoutes
      .map(([h, f]) => `${h.replace('Safe: ', '').replace('*', '')} ${meets(f) ? 'met' : 'NOT met'}`)
      .join(', ')}`,
  );
  console.log(
    `price policy cost per swap against the plain router route: ${rows
      .map(
        (r) =>
          `${r.n} swap${r.n > 1 ? 's' : ''} +${Math.round(Number(r.policy - r.router) / r.n).toLocaleString('en-US')} gas/swap (${ratio(r.policy, r.router)}×)`,
      )
      .join(', ')}`,
  );
} finally {
  await devnet.stop();
}
