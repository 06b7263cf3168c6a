import fc from 'fast-check';
import {
  type Abi,
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  encodeAbiParameters,
  getAddress,
  type Hex,
  keccak256,
  parseAbi,
  parseAbiParameters,
  parseEventLogs,
  parseUnits,
  toHex,
} from 'viem';
import { beforeAll, describe, expect, it } from 'vitest';
import { aggregatorV3Abi, erc20Abi, uniswapV2FactoryAbi, uniswapV2RouterAbi } from '../contracts/abis.ts';
import { projectArtifacts, uniswapArtifacts } from '../contracts/artifacts.ts';
import { makeWalletClient } from '../contracts/chainClients.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import { readPools } from '../contracts/treasuryReads.ts';
import {
  type FeedReading,
  floorPriceOf,
  oraclePriceOf,
  type PolicyRefusalKind,
  quotePolicy,
} from '../strategies/pricePolicy.ts';
import { getAmountOut } from '../strategies/uniswap.ts';
import { useDevnet } from './support/devnet.ts';

const pricePolicyParameters = parseAbiParameters(
  '(address feedIn, address feedOut, uint8 feedDecimals, uint32 maxFeedAge, uint16 slippageBps, uint256 floorPrice)',
);

/** The ABI as specified for the TypeScript side; a test checks the compiled contract has exactly this one. */
const policySwapperAbi = parseAbi([
  'struct PricePolicy { address feedIn; address feedOut; uint8 feedDecimals; uint32 maxFeedAge; uint16 slippageBps; uint256 floorPrice; }',
  'struct Order { address tokenIn; address tokenOut; uint256 amountIn; PricePolicy policy; }',
  'struct Decision { bytes32 decisionHash; address router; uint64 validAfter; uint64 validUntil; Order[] orders; }',
  'function executed(address, bytes32) view returns (bool)',
  'event DecisionExecuted(address indexed caller, bytes32 indexed decisionHash, uint256 orders)',
  'event PolicySwap(address indexed caller, bytes32 indexed decisionHash, uint256 indexed index, address tokenIn, address tokenOut, uint256 amountIn, uint256 oraclePrice, uint256 minOut, uint256 amountOut)',
  'function execute(Decision decision)',
  'function quote(Order order) view returns (uint256 oraclePrice, uint256 requiredOut)',
  'function checkPrice(uint256 amountIn, address fromToken, address toToken, uint256 feeAmount, uint256 minOut, bytes data) view returns (bool)',
  'error AlreadyExecuted(address caller, bytes32 decisionHash)',
  'error NotYetValid(uint256 validAfter, uint256 blockTime)',
  'error ValidityEnded(uint256 validUntil, uint256 blockTime)',
  'error NoOrders()',
  'error ZeroAmount(address tokenIn)',
  'error BadSlippage(uint256 slippageBps)',
  'error FeedDecimals(address feed, uint8 decimals, uint8 expected)',
  'error NonPositiveAnswer(address feed, int256 answer)',
  'error FeedFromFuture(address feed, uint256 updatedAt, uint256 blockTime)',
  'error StaleFeed(address feed, uint256 age, uint256 maxFeedAge)',
  'error BelowFloor(address tokenIn, address tokenOut, uint256 oraclePrice, uint256 floorPrice)',
  'error InsufficientOutput(uint256 index, uint256 amountOut, uint256 requiredOut)',
  'error AllowanceLeft(address token, uint256 allowance)',
  'error TokenCallFailed(address token, bytes4 selector)',
  'error NoPool(address tokenIn, address tokenOut)',
]);

type Policy = {
  feedIn: Address;
  feedOut: Address;
  feedDecimals: number;
  maxFeedAge: number;
  slippageBps: number;
  floorPrice: bigint;
};
type Order = { tokenIn: Address; tokenOut: Address; amountIn: bigint; policy: Policy };
type Decision = {
  decisionHash: Hex;
  router: Address;
  validAfter: bigint;
  validUntil: bigint;
  orders: Order[];
};

/** The contract's custom error for each refusal of the TypeScript model. */
const ERROR_OF: Record<PolicyRefusalKind, string> = {
  'feed-decimals': 'FeedDecimals',
  'non-positive-answer': 'NonPositiveAnswer',
  'feed-from-future': 'FeedFromFuture',
  'stale-feed': 'StaleFeed',
  'below-floor': 'BelowFloor',
  'bad-policy': 'BadSlippage',
};

const GAS = 3_000_000n;
const HOUR = 3_600n;
const fixture = useDevnet();
let swapper: Address;

const deployment = () => fixture.devnet.deployment;
const token = (symbol: string) => deployment().tokens[symbol]!;
const wallet = (index: number) =>
  makeWalletClient(deployment().chainId, deployment().rpcUrl, devAccount(index));
const hashOf = (label: string) => keccak256(toHex(label));

beforeAll(async () => {
  const hash = await wallet(0).deployContract({
    abi: projectArtifacts.policySwapper.abi,
    bytecode: projectArtifacts.policySwapper.bytecode,
  });
  const receipt = await fixture.client.waitForTransactionReceipt({ hash });
  swapper = receipt.contractAddress!;
});

async function now(): Promise<bigint> {
  return (await fixture.client.getBlock()).timestamp;
}

async function rpc(method: string, params: unknown[] = []): Promise<unknown> {
  return fixture.client.request({ method: method as 'eth_chainId', params: params as unknown as undefined });
}

/** Sends one transaction (fixed gas: a reverting one is mined too), in a block stamped `at` when given. */
async function send(
  from: number,
  call: { address: Address; abi: Abi; functionName: string; args?: readonly unknown[]; value?: bigint },
  at?: bigint,
) {
  if (at !== undefined) await rpc('evm_setNextBlockTimestamp', [Number(at)]);
  const hash = await wallet(from).writeContract({ ...call, gas: GAS } as Parameters<
    ReturnType<typeof wallet>['writeContract']
  >[0]);
  return fixture.client.waitForTransactionReceipt({ hash });
}

async function postFeed(feed: Address, answer: bigint, updatedAt: bigint) {
  const receipt = await send(0, {
    address: feed,
    abi: aggregatorV3Abi,
    functionName: 'updateAnswerAt',
    args: [answer, updatedAt],
  });
  expect(receipt.status).toBe('success');
}

async function readFeed(feed: Address): Promise<FeedReading> {
  const [decimals, round] = await Promise.all([
    fixture.client.readContract({ address: feed, abi: aggregatorV3Abi, functionName: 'decimals' }),
    fixture.client.readContract({ address: feed, abi: aggregatorV3Abi, functionName: 'latestRoundData' }),
  ]);
  return { answer: round[1], updatedAt: Number(round[3]), decimals };
}

/** Re-posts every devnet feed's current answer as observed at `updatedAt`. */
async function refreshFeeds(updatedAt: bigint) {
  for (const t of Object.values(deployment().tokens)) {
    await postFeed(t.feed, (await readFeed(t.feed)).answer, updatedAt);
  }
}

/** Gives dev account `to` `amount` of a token (WETH by wrapping its own ether, the others minted). */
async function fund(to: number, symbol: string, amount: bigint) {
  const t = token(symbol);
  const receipt =
    symbol === 'WETH'
      ? await send(to, {
          address: t.address,
          abi: uniswapArtifacts.weth9.abi,
          functionName: 'deposit',
          value: amount,
        })
      : await send(0, {
          address: t.address,
          abi: projectArtifacts.testToken.abi,
          functionName: 'mint',
          args: [devAccount(to).address, amount],
        });
  expect(receipt.status).toBe('success');
}

async function approve(from: number, tokenAddress: Address, spender: Address, amount: bigint) {
  const receipt = await send(from, {
    address: tokenAddress,
    abi: erc20Abi,
    functionName: 'approve',
    args: [spender, amount],
  });
  expect(receipt.status).toBe('success');
}

async function balanceOf(tokenAddress: Address, owner: Address) {
  return fixture.client.readContract({
    address: tokenAddress,
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [owner],
  });
}

async function allowance(tokenAddress: Address, owner: Address, spender: Address) {
  return fixture.client.readContract({
    address: tokenAddress,
    abi: erc20Abi,
    functionName: 'allowance',
    args: [owner, spender],
  });
}

async function isExecuted(caller: number, decisionHash: Hex) {
  return fixture.client.readContract({
    address: swapper,
    abi: policySwapperAbi,
    functionName: 'executed',
    args: [devAccount(caller).address, decisionHash],
  });
}

function policy(symbolIn: string, symbolOut: string, overrides: Partial<Policy> = {}): Policy {
  return {
    feedIn: token(symbolIn).feed,
    feedOut: token(symbolOut).feed,
    feedDecimals: 8,
    maxFeedAge: 3_600,
    slippageBps: 100,
    floorPrice: 0n,
    ...overrides,
  };
}

function order(
  symbolIn: string,
  symbolOut: string,
  amountIn: bigint,
  overrides: Partial<Policy> = {},
): Order {
  return {
    tokenIn: token(symbolIn).address,
    tokenOut: token(symbolOut).address,
    amountIn,
    policy: policy(symbolIn, symbolOut, overrides),
  };
}

function decision(orders: Order[], validUntil: bigint, label = 'decision-1'): Decision {
  return {
    decisionHash: hashOf(label),
    router: deployment().uniswap.router,
    validAfter: 0n,
    validUntil,
    orders,
  };
}

/** The contract's quote at block time `at`, or the custom error it reverts with. */
async function onChainQuote(
  o: Order,
  at: bigint,
): Promise<{ ok: true; oraclePrice: bigint; requiredOut: bigint } | { ok: false; error: Revert }> {
  try {
    const [oraclePrice, requiredOut] = await fixture.client.readContract({
      address: swapper,
      abi: policySwapperAbi,
      functionName: 'quote',
      args: [o],
      blockOverrides: { time: at },
    });
    return { ok: true, oraclePrice, requiredOut };
  } catch (error) {
    return { ok: false, error: revertOf(error) };
  }
}

/** The TypeScript model's quote for `o` at block time `at`, from the feeds as they are on chain. */
async function modelQuote(o: Order, at: bigint) {
  const t = (address: Address) => Object.values(deployment().tokens).find((x) => x.address === address)!;
  return quotePolicy({
    amountIn: o.amountIn,
    decimalsIn: t(o.tokenIn).decimals,
    decimalsOut: t(o.tokenOut).decimals,
    feedIn: await readFeed(o.policy.feedIn),
    feedOut: await readFeed(o.policy.feedOut),
    policy: { slippageBps: o.policy.slippageBps, floorPrice: o.policy.floorPrice },
    feedDecimals: o.policy.feedDecimals,
    maxFeedAgeSeconds: o.policy.maxFeedAge,
    now: Number(at),
  });
}

type Revert = { errorName: string | undefined; args: readonly unknown[] | undefined };

function revertOf(error: unknown): Revert {
  const reverted =
    error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : undefined;
  if (!(reverted instanceof ContractFunctionRevertedError)) throw error;
  return { errorName: reverted.data?.errorName, args: reverted.data?.args };
}

/** Simulates `execute` by `caller` at block time `at`; the custom error it reverts with, if it does. */
async function simulateExecute(caller: number, d: Decision, at: bigint): Promise<Revert | undefined> {
  try {
    await fixture.client.simulateContract({
      account: devAccount(caller),
      address: swapper,
      abi: policySwapperAbi,
      functionName: 'execute',
      args: [d],
      blockOverrides: { time: at },
    });
    return undefined;
  } catch (error) {
    return revertOf(error);
  }
}

async function execute(caller: number, d: Decision, at: bigint) {
  return send(caller, { address: swapper, abi: policySwapperAbi, functionName: 'execute', args: [d] }, at);
}

/** Everything a refused execute must leave as it was: the caller's and the swapper's balances and allowances. */
async function observable(caller: number, d: Decision) {
  const who = devAccount(caller).address;
  const tokens = [...new Set(d.orders.flatMap((o) => [o.tokenIn, o.tokenOut]))];
  const rows: Record<string, bigint | boolean> = { executed: await isExecuted(caller, d.decisionHash) };
  for (const t of tokens) {
    rows[`${t} caller`] = await balanceOf(t, who);
    rows[`${t} swapper`] = await balanceOf(t, swapper);
    rows[`${t} caller→swapper`] = await allowance(t, who, swapper);
    rows[`${t} swapper→router`] = await allowance(t, swapper, d.router);
  }
  return rows;
}

/**
 * The refusal of `d` by `caller` at `at`: the simulation names `errorName` (and `args` when given); the mined
 * transaction reverts and leaves nothing behind. When `firstAlone`, the first order alone would have executed.
 */
async function expectRefusal(
  caller: number,
  d: Decision,
  at: bigint,
  errorName: string,
  args?: readonly unknown[],
  options: { firstAlone?: boolean } = {},
) {
  if (options.firstAlone)
    expect(await simulateExecute(caller, { ...d, orders: [d.orders[0]!] }, at)).toBe(undefined);
  const refusal = await simulateExecute(caller, d, at);
  expect(refusal?.errorName).toBe(errorName);
  if (args) expect(refusal?.args).toEqual(args);
  const before = await observable(caller, d);
  const receipt = await execute(caller, d, at);
  expect(receipt.status).toBe('reverted');
  expect(await observable(caller, d)).toEqual(before);
  return refusal;
}

const CALLER = 5;
const GOV_IN = parseUnits('2000', 18);
const USDC_IN = parseUnits('20000', 6);

/** Funds `caller` with what the two-order decision spends and approves the swapper for exactly that. */
async function fundAndApprove(caller: number) {
  await fund(caller, 'GOV', GOV_IN);
  await fund(caller, 'USDC', USDC_IN);
  await approve(caller, token('GOV').address, swapper, GOV_IN);
  await approve(caller, token('USDC').address, swapper, USDC_IN);
}

/**
 * A decision of two orders within their policy, GOV→USDC (18 → 6 decimals) then USDC→WBTC (6 → 8), to execute
 * at `at` (an hour ahead) with feeds 30 s old then, by CALLER, funded and approved for exactly what it spends.
 */
async function twoOrderScenario() {
  const at = (await now()) + HOUR;
  await refreshFeeds(at - 30n);
  await fundAndApprove(CALLER);
  const orders = [order('GOV', 'USDC', GOV_IN), order('USDC', 'WBTC', USDC_IN)];
  return { at, orders, d: decision(orders, at + HOUR) };
}

async function poolsNow() {
  const d = deployment();
  const tokens = Object.values(d.tokens).map((t) => ({
    symbol: t.symbol,
    address: t.address,
    decimals: t.decimals,
  }));
  const usdc = tokens.find((t) => t.symbol === 'USDC')!;
  return (await readPools(fixture.client, { factory: d.uniswap.factory, quote: usdc, tokens })).pools;
}

/** Uniswap V2's amount out for an X↔USDC order on the current reserves. */
async function poolOut(symbolIn: string, symbolOut: string, amountIn: bigint) {
  const pools = await poolsNow();
  if (symbolOut === 'USDC') {
    const pool = pools[symbolIn]!;
    return getAmountOut(amountIn, pool.reserveToken, pool.reserveQuote);
  }
  const pool = pools[symbolOut]!;
  return getAmountOut(amountIn, pool.reserveQuote, pool.reserveToken);
}

type AbiParam = { name?: string; type: string; indexed?: boolean; components?: readonly AbiParam[] };

/** An ABI as sorted lines of what encoding and viem's named args depend on (solc adds internalType, etc.). */
function canonicalAbi(abi: Abi): string[] {
  const param = (p: AbiParam, event: boolean): unknown => ({
    name: p.name ?? '',
    type: p.type,
    ...(event ? { indexed: p.indexed ?? false } : {}),
    ...(p.components ? { components: p.components.map((c) => param(c, false)) } : {}),
  });
  return abi
    .map((item) => {
      const i = item as {
        type: string;
        name?: string;
        stateMutability?: string;
        inputs?: AbiParam[];
        outputs?: AbiParam[];
      };
      return JSON.stringify({
        type: i.type,
        name: i.name,
        stateMutability: i.stateMutability,
        inputs: i.inputs?.map((p) => param(p, i.type === 'event')),
        outputs: i.outputs?.map((p) => param(p, false)),
      });
    })
    .sort();
}

describe('PolicySwapper', () => {
  it('is compiled with exactly the specified ABI', () => {
    expect(canonicalAbi(projectArtifacts.policySwapper.abi)).toEqual(canonicalAbi(policySwapperAbi));
  });

  it('executes a decision within its policy: exact balance changes, the logs carry what it saw, nothing left approved', async () => {
    const { at, orders, d } = await twoOrderScenario();
    const who = devAccount(CALLER).address;
    const [gov, usdc, wbtc] = [token('GOV').address, token('USDC').address, token('WBTC').address];
    const usdcOut = await poolOut('GOV', 'USDC', GOV_IN);
    const wbtcOut = await poolOut('USDC', 'WBTC', USDC_IN);
    const quotes = [];
    for (const o of orders) {
      const model = await modelQuote(o, at);
      const chain = await onChainQuote(o, at);
      if (!model.ok || !chain.ok) throw new Error('the scenario must be within the policy');
      expect([chain.oraclePrice, chain.requiredOut]).toEqual([
        model.quote.oraclePrice,
        model.quote.requiredOut,
      ]);
      quotes.push(model.quote);
    }
    expect(usdcOut).toBeGreaterThanOrEqual(quotes[0]!.requiredOut);
    expect(wbtcOut).toBeGreaterThanOrEqual(quotes[1]!.requiredOut);
    const before = {
      gov: await balanceOf(gov, who),
      usdc: await balanceOf(usdc, who),
      wbtc: await balanceOf(wbtc, who),
    };

    const receipt = await execute(CALLER, d, at);
    expect(receipt.status).toBe('success');

    expect(await balanceOf(gov, who)).toBe(before.gov - GOV_IN);
    expect(await balanceOf(usdc, who)).toBe(before.usdc + usdcOut - USDC_IN);
    expect(await balanceOf(wbtc, who)).toBe(before.wbtc + wbtcOut);
    const swaps = parseEventLogs({ abi: policySwapperAbi, logs: receipt.logs, eventName: 'PolicySwap' });
    expect(swaps.map((log) => log.args)).toEqual([
      {
        caller: who,
        decisionHash: d.decisionHash,
        index: 0n,
        tokenIn: gov,
        tokenOut: usdc,
        amountIn: GOV_IN,
        oraclePrice: quotes[0]!.oraclePrice,
        minOut: quotes[0]!.requiredOut,
        amountOut: usdcOut,
      },
      {
        caller: who,
        decisionHash: d.decisionHash,
        index: 1n,
        tokenIn: usdc,
        tokenOut: wbtc,
        amountIn: USDC_IN,
        oraclePrice: quotes[1]!.oraclePrice,
        minOut: quotes[1]!.requiredOut,
        amountOut: wbtcOut,
      },
    ]);
    // each order's tokens go from the caller straight to the router's pair and back: nothing passes through the
    // swapper, and nothing is approved to anyone on the way
    const pairOf = (a: Address, b: Address) =>
      fixture.client.readContract({
        address: deployment().uniswap.factory,
        abi: uniswapV2FactoryAbi,
        functionName: 'getPair',
        args: [a, b],
      });
    const [govPair, wbtcPair] = [await pairOf(gov, usdc), await pairOf(usdc, wbtc)];
    const transfers = parseEventLogs({ abi: erc20Abi, logs: receipt.logs, eventName: 'Transfer' });
    expect(transfers.map((log) => [log.address, log.args.from, log.args.to, log.args.value])).toEqual([
      [gov.toLowerCase(), who, govPair, GOV_IN],
      [usdc.toLowerCase(), govPair, who, usdcOut],
      [usdc.toLowerCase(), who, wbtcPair, USDC_IN],
      [wbtc.toLowerCase(), wbtcPair, who, wbtcOut],
    ]);
    const done = parseEventLogs({ abi: policySwapperAbi, logs: receipt.logs, eventName: 'DecisionExecuted' });
    expect(done.map((log) => log.args)).toEqual([{ caller: who, decisionHash: d.decisionHash, orders: 2n }]);
    expect(await isExecuted(CALLER, d.decisionHash)).toBe(true);
    expect(await isExecuted(CALLER + 1, d.decisionHash)).toBe(false);
    for (const t of [gov, usdc, wbtc]) {
      expect(await allowance(t, who, swapper)).toBe(0n);
      expect(await allowance(t, swapper, d.router)).toBe(0n);
      expect(await balanceOf(t, swapper)).toBe(0n);
    }
  });

  it('quotes exactly as strategies/pricePolicy.ts and swaps exactly what Uniswap V2 pays, for random orders', {
    timeout: 300_000,
  }, async () => {
    const pairs = ['GOV', 'WETH', 'WBTC', 'DAI'].flatMap((s) => [
      [s, 'USDC'],
      ['USDC', s],
    ]);
    const outcomes = { executed: 0, insufficient: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          pair: fc.nat(pairs.length - 1),
          ppm: fc.integer({ min: 1, max: 20_000 }),
          jitter: fc.bigInt({ min: 0n, max: 999_999n }),
          moveIn: fc.integer({ min: -2_000, max: 2_000 }),
          moveOut: fc.integer({ min: -2_000, max: 2_000 }),
          ageIn: fc.noBias(fc.integer({ min: 0, max: 900 })),
          ageOut: fc.noBias(fc.integer({ min: 0, max: 900 })),
          maxFeedAge: fc.noBias(fc.integer({ min: 300, max: 7_200 })),
          slippageBps: fc.oneof(
            { arbitrary: fc.integer({ min: 0, max: 2_000 }), weight: 9 },
            { arbitrary: fc.integer({ min: 10_000, max: 65_535 }), weight: 1 },
          ),
          floorBps: fc.integer({ min: -300, max: 3_000 }),
          feedDecimals: fc.oneof(
            { arbitrary: fc.constant(8), weight: 19 },
            { arbitrary: fc.constant(18), weight: 1 },
          ),
        }),
        async (r) => {
          const snapshot = (await rpc('evm_snapshot')) as string;
          try {
            const [symbolIn, symbolOut] = pairs[r.pair]!;
            const [tIn, tOut] = [token(symbolIn!), token(symbolOut!)];
            const at = (await now()) + HOUR;
            const moved = async (feed: Address, bps: number) =>
              ((await readFeed(feed)).answer * BigInt(10_000 + bps)) / 10_000n;
            await postFeed(tIn.feed, await moved(tIn.feed, r.moveIn), at - BigInt(r.ageIn));
            await postFeed(tOut.feed, await moved(tOut.feed, r.moveOut), at - BigInt(r.ageOut));
            const pools = await poolsNow();
            const reserveIn =
              symbolIn === 'USDC' ? pools[symbolOut!]!.reserveQuote : pools[symbolIn!]!.reserveToken;
            const amountIn = (reserveIn * BigInt(r.ppm)) / 1_000_000n + r.jitter;
            const oracle = oraclePriceOf(
              (await readFeed(tIn.feed)).answer,
              (await readFeed(tOut.feed)).answer,
            );
            const o = order(symbolIn!, symbolOut!, amountIn, {
              maxFeedAge: r.maxFeedAge,
              slippageBps: r.slippageBps,
              floorPrice: floorPriceOf(oracle, r.floorBps),
              feedDecimals: r.feedDecimals,
            });

            const model = await modelQuote(o, at);
            const chain = await onChainQuote(o, at);
            if (!model.ok) {
              expect(chain.ok).toBe(false);
              if (!chain.ok) expect(chain.error.errorName).toBe(ERROR_OF[model.refusal.kind]);
              outcomes.refused++;
              return;
            }
            expect(chain).toEqual({
              ok: true,
              oraclePrice: model.quote.oraclePrice,
              requiredOut: model.quote.requiredOut,
            });

            const expectedOut = await poolOut(symbolIn!, symbolOut!, amountIn);
            await fund(CALLER, symbolIn!, amountIn);
            await approve(CALLER, tIn.address, swapper, amountIn);
            const d = decision(
              [o],
              at + HOUR,
              `random-${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`,
            );
            if (expectedOut < model.quote.requiredOut) {
              expect(await simulateExecute(CALLER, d, at)).toEqual({
                errorName: 'InsufficientOutput',
                args: [0n, expectedOut, model.quote.requiredOut],
              });
              outcomes.insufficient++;
              return;
            }
            const who = devAccount(CALLER).address;
            const before = await balanceOf(tOut.address, who);
            const receipt = await execute(CALLER, d, at);
            expect(receipt.status).toBe('success');
            expect((await balanceOf(tOut.address, who)) - before).toBe(expectedOut);
            const [log] = parseEventLogs({
              abi: policySwapperAbi,
              logs: receipt.logs,
              eventName: 'PolicySwap',
            });
            expect(log?.args.amountOut).toBe(expectedOut);
            expect(log?.args.minOut).toBe(model.quote.requiredOut);
            expect(log?.args.oraclePrice).toBe(model.quote.oraclePrice);
            outcomes.executed++;
          } finally {
            await rpc('evm_revert', [snapshot]);
          }
        },
      ),
      { numRuns: 30, seed: 20220103 },
    );
    // The seed gives a mix of all three outcomes.
    expect(outcomes.executed).toBeGreaterThan(0);
    expect(outcomes.insufficient).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});

/** `d` with its second order changed (the first stays an order that would execute alone). */
function withSecond(d: Decision, patch: { amountIn?: bigint; policy?: Partial<Policy> }): Decision {
  const [first, second] = d.orders as [Order, Order];
  return {
    ...d,
    orders: [
      first,
      {
        ...second,
        amountIn: patch.amountIn ?? second.amountIn,
        policy: { ...second.policy, ...patch.policy },
      },
    ],
  };
}

describe('PolicySwapper refuses with its custom error and leaves nothing half-done', () => {
  const wbtcFeed = () => token('WBTC').feed;
  const wbtcAnswer = async () => (await readFeed(wbtcFeed())).answer;

  it('below the floor: the oracle price is under the voted floor price', async () => {
    const { at, d } = await twoOrderScenario();
    const oracle = oraclePriceOf((await readFeed(token('USDC').feed)).answer, await wbtcAnswer());
    const atFloor = withSecond(d, { policy: { floorPrice: oracle } });
    expect((await onChainQuote(atFloor.orders[1]!, at)).ok).toBe(true);
    await expectRefusal(
      CALLER,
      withSecond(d, { policy: { floorPrice: oracle + 1n } }),
      at,
      'BelowFloor',
      [token('USDC').address, token('WBTC').address, oracle, oracle + 1n],
      { firstAlone: true },
    );
  });

  it('a stale feed: older than maxFeedAge at the block time (exactly maxFeedAge passes)', async () => {
    const { at, d } = await twoOrderScenario();
    await postFeed(wbtcFeed(), await wbtcAnswer(), at - 3_600n);
    expect(await simulateExecute(CALLER, d, at)).toBe(undefined);
    await postFeed(wbtcFeed(), await wbtcAnswer(), at - 3_601n);
    await expectRefusal(CALLER, d, at, 'StaleFeed', [wbtcFeed(), 3_601n, 3_600n], { firstAlone: true });
  });

  it('a feed from the future: updated after the block time (updated at the block time passes)', async () => {
    const { at, d } = await twoOrderScenario();
    await postFeed(wbtcFeed(), await wbtcAnswer(), at);
    expect(await simulateExecute(CALLER, d, at)).toBe(undefined);
    await postFeed(wbtcFeed(), await wbtcAnswer(), at + 1n);
    await expectRefusal(CALLER, d, at, 'FeedFromFuture', [wbtcFeed(), at + 1n, at], { firstAlone: true });
  });

  it('a feed with other decimals than the policy says', async () => {
    const { at, d } = await twoOrderScenario();
    const hash = await wallet(0).deployContract({
      abi: projectArtifacts.priceFeed.abi,
      bytecode: projectArtifacts.priceFeed.bytecode,
      args: [18, 'WBTC / USD', (await wbtcAnswer()) * 10n ** 10n, 0n],
    });
    const feed18 = getAddress((await fixture.client.waitForTransactionReceipt({ hash })).contractAddress!);
    await expectRefusal(
      CALLER,
      withSecond(d, { policy: { feedOut: feed18 } }),
      at,
      'FeedDecimals',
      [feed18, 18, 8],
      {
        firstAlone: true,
      },
    );
  });

  it('a non-positive answer', async () => {
    const { at, d } = await twoOrderScenario();
    await postFeed(wbtcFeed(), 0n, at - 30n);
    await expectRefusal(CALLER, d, at, 'NonPositiveAnswer', [wbtcFeed(), 0n], { firstAlone: true });
    await postFeed(wbtcFeed(), -1n, at - 30n);
    expect(await simulateExecute(CALLER, d, at)).toEqual({
      errorName: 'NonPositiveAnswer',
      args: [wbtcFeed(), -1n],
    });
  });

  it('before validAfter and after validUntil (both bounds inclusive)', async () => {
    const { at, d } = await twoOrderScenario();
    expect(await simulateExecute(CALLER, { ...d, validAfter: at, validUntil: at }, at)).toBe(undefined);
    await expectRefusal(CALLER, { ...d, validAfter: at + 1n }, at, 'NotYetValid', [at + 1n, at]);
    await expectRefusal(CALLER, { ...d, validUntil: at - 1n }, at, 'ValidityEnded', [at - 1n, at]);
  });

  it('the same decision twice by the same caller; another caller may execute the same hash', async () => {
    const { at, d } = await twoOrderScenario();
    expect((await execute(CALLER, d, at)).status).toBe('success');
    await fundAndApprove(CALLER);
    const later = (await now()) + 60n;
    await expectRefusal(CALLER, d, later, 'AlreadyExecuted', [devAccount(CALLER).address, d.decisionHash]);

    const other = CALLER + 1;
    await fundAndApprove(other);
    expect(await isExecuted(other, d.decisionHash)).toBe(false);
    expect((await execute(other, d, (await now()) + 60n)).status).toBe('success');
    expect(await isExecuted(other, d.decisionHash)).toBe(true);
  });

  it('an approval larger than the amount in stays behind (AllowanceLeft), after both swaps ran', async () => {
    const { at, d } = await twoOrderScenario();
    await approve(CALLER, token('GOV').address, swapper, GOV_IN + 1n);
    await expectRefusal(CALLER, d, at, 'AllowanceLeft', [token('GOV').address, 1n]);
  });

  it('a sandwich: the pool pushed against the oracle beyond slippageBps just before (InsufficientOutput)', async () => {
    const { at, d } = await twoOrderScenario();
    const { router } = deployment().uniswap;
    const [usdc, wbtc] = [token('USDC').address, token('WBTC').address];
    const push = (await poolsNow()).WBTC!.reserveQuote / 50n; // buys ~2% of the pool's USDC worth of WBTC
    await fund(0, 'USDC', push);
    await approve(0, usdc, router, push);
    const front = await send(0, {
      address: router,
      abi: uniswapV2RouterAbi,
      functionName: 'swapExactTokensForTokens',
      args: [push, 0n, [usdc, wbtc], devAccount(0).address, at + HOUR],
    });
    expect(front.status).toBe('success');
    const quoted = await onChainQuote(d.orders[1]!, at);
    if (!quoted.ok) throw new Error('the feeds did not move: the quote must stand');
    const got = await poolOut('USDC', 'WBTC', USDC_IN);
    expect(got).toBeLessThan(quoted.requiredOut);
    await expectRefusal(CALLER, d, at, 'InsufficientOutput', [1n, got, quoted.requiredOut], {
      firstAlone: true,
    });
  });

  it('a zero amount, a slippage of 10,000 bps or more, no orders', async () => {
    const { at, d } = await twoOrderScenario();
    const usdc = token('USDC').address;
    await expectRefusal(CALLER, withSecond(d, { amountIn: 0n }), at, 'ZeroAmount', [usdc], {
      firstAlone: true,
    });
    await expectRefusal(CALLER, withSecond(d, { policy: { slippageBps: 10_000 } }), at, 'BadSlippage', [
      10_000n,
    ]);
    expect(await simulateExecute(CALLER, withSecond(d, { policy: { slippageBps: 9_999 } }), at)).toBe(
      undefined,
    );
    await expectRefusal(CALLER, { ...d, orders: [] }, at, 'NoOrders');
  });

  it('a pair the venue has no pool for (NoPool), before anything moves', async () => {
    const { at, d } = await twoOrderScenario();
    const [weth, wbtc] = [token('WETH').address, token('WBTC').address];
    const noPool = { ...d, orders: [d.orders[0]!, order('WETH', 'WBTC', parseUnits('1', 18))] };
    expect((await onChainQuote(noPool.orders[1]!, at)).ok).toBe(true);
    await expectRefusal(CALLER, noPool, at, 'NoPool', [weth, wbtc], { firstAlone: true });
  });

  it('a transfer the caller did not approve (TokenCallFailed names the token and the call)', async () => {
    const { at, d } = await twoOrderScenario();
    const usdc = token('USDC').address;
    await approve(CALLER, usdc, swapper, 0n);
    await expectRefusal(CALLER, d, at, 'TokenCallFailed', [usdc, '0x23b872dd'], { firstAlone: true });
  });
});

describe("PolicySwapper as Milkman's IPriceChecker", () => {
  it('checkPrice is true at the required out and false one base unit below, whatever the fee', async () => {
    const at = (await now()) + HOUR;
    await refreshFeeds(at - 30n);
    const o = order('GOV', 'USDC', GOV_IN, { slippageBps: 50, floorPrice: 0n });
    const quoted = await onChainQuote(o, at);
    if (!quoted.ok) throw new Error('fresh feeds: the quote must stand');
    const data = encodeAbiParameters(pricePolicyParameters, [o.policy]);
    const check = (minOut: bigint, feeAmount: bigint) =>
      fixture.client.readContract({
        address: swapper,
        abi: policySwapperAbi,
        functionName: 'checkPrice',
        args: [o.amountIn, o.tokenIn, o.tokenOut, feeAmount, minOut, data],
        blockOverrides: { time: at },
      });
    for (const fee of [0n, parseUnits('10', 18)]) {
      expect(await check(quoted.requiredOut, fee)).toBe(true);
      expect(await check(quoted.requiredOut - 1n, fee)).toBe(false);
    }
    // A policy that cannot be checked refuses by reverting, as execute does.
    const stale = encodeAbiParameters(pricePolicyParameters, [{ ...o.policy, maxFeedAge: 10 }]);
    const refused = await fixture.client
      .readContract({
        address: swapper,
        abi: policySwapperAbi,
        functionName: 'checkPrice',
        args: [o.amountIn, o.tokenIn, o.tokenOut, 0n, quoted.requiredOut, stale],
        blockOverrides: { time: at },
      })
      .catch(revertOf);
    expect(refused).toEqual({ errorName: 'StaleFeed', args: [o.policy.feedIn, 30n, 10n] });
  });
});
