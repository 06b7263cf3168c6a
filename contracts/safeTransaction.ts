import {
  type Address,
  concat,
  encodeFunctionData,
  encodePacked,
  getAddress,
  getCreate2Address,
  type Hex,
  hashTypedData,
  keccak256,
  size,
  zeroAddress,
} from 'viem';
import { RefusedError } from '../shared/errors.ts';
import { erc20Abi, policySwapperAbi, uniswapV2RouterAbi } from './abis.ts';
import { safeArtifacts, uniswapArtifacts } from './artifacts.ts';

/**
 * Pure construction of the rebalance Safe transaction: the inner calls, the MultiSendCallOnly batch and the
 * EIP-712 safeTxHash. No I/O, so `audit replay` can rebuild and re-hash a logged decision offline, and the
 * executor can prove that what it is about to sign is exactly what voters approved.
 */

export type SwapInstruction = {
  tokenIn: Address;
  tokenOut: Address;
  /** Base units of tokenIn to sell. */
  amountIn: bigint;
  /** The smallest amount of tokenOut (base units) the swap may return; the router reverts below it. */
  minAmountOut: bigint;
  /** Token path through Uniswap V2 pairs; [tokenIn, tokenOut] when absent. */
  path?: Address[];
};

/**
 * How a swap reaches the pool:
 * - `pair`: the Safe transfers amountIn straight to the first pair, then calls the router's
 *   swapExactTokensForTokensSupportingFeeOnTransferTokens(0, minOut, …), which swaps what arrived and checks
 *   the minimum out. No approval, one token transfer less.
 * - `router`: approve(router, amountIn) then swapExactTokensForTokens(amountIn, minOut, …).
 */
export type SwapRoute = 'pair' | 'router';

/**
 * The route the agent uses. Measured by `npm run bench:gas` (2-of-3 Safe, steady state): router 238,596 gas for
 * two swaps against 241,216 for pair, so the router route, with its exact approvals, is the default.
 */
export const DEFAULT_SWAP_ROUTE: SwapRoute = 'router';

export type MetaCall = { to: Address; value: bigint; data: Hex; operation: 0 };

/** A Safe transaction (v1.4.1 SafeTx fields). */
export type SafeTxData = {
  to: Address;
  value: bigint;
  data: Hex;
  operation: 0 | 1;
  safeTxGas: bigint;
  baseGas: bigint;
  gasPrice: bigint;
  gasToken: Address;
  refundReceiver: Address;
  nonce: bigint;
};

export type RebalanceTxInput = {
  chainId: number;
  safe: Address;
  router: Address;
  factory: Address;
  multiSendCallOnly: Address;
  swaps: SwapInstruction[];
  route: SwapRoute;
  /** Unix seconds after which the router refuses the swaps (it is part of the voted transaction). */
  deadline: bigint;
  nonce: bigint;
};

export type RebalanceTx = {
  calls: MetaCall[];
  /** What each call does, for people and for naming a failing call. */
  callLabels: string[];
  safeTx: SafeTxData;
  safeTxHash: Hex;
};

/** keccak256 of the UniswapV2Pair creation code: the init code hash the router's pairFor uses. */
export const UNISWAP_V2_PAIR_INIT_CODE_HASH = keccak256(uniswapArtifacts.pair.bytecode);

/** The pair address of (tokenA, tokenB) under `factory`, computed as UniswapV2Library.pairFor does. */
export function uniswapV2PairFor(factory: Address, tokenA: Address, tokenB: Address): Address {
  const [token0, token1] = BigInt(tokenA) < BigInt(tokenB) ? [tokenA, tokenB] : [tokenB, tokenA];
  return getCreate2Address({
    from: factory,
    salt: keccak256(encodePacked(['address', 'address'], [token0, token1])),
    bytecodeHash: UNISWAP_V2_PAIR_INIT_CODE_HASH,
  });
}

function shortAddress(address: Address): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

/** The inner calls of a rebalance, in order: sells before buys is the planner's job; this keeps the order given. */
export function buildSwapCalls(
  input: Omit<RebalanceTxInput, 'chainId' | 'nonce' | 'multiSendCallOnly'>,
  symbols?: Record<string, string>,
) {
  const name = (address: Address) => symbols?.[getAddress(address)] ?? shortAddress(address);
  const calls: MetaCall[] = [];
  const callLabels: string[] = [];
  input.swaps.forEach((swap, index) => {
    const path = swap.path ?? [swap.tokenIn, swap.tokenOut];
    const what = `swap ${index + 1}: ${name(swap.tokenIn)} → ${name(swap.tokenOut)}`;
    if (input.route === 'pair') {
      const firstPair = uniswapV2PairFor(input.factory, path[0]!, path[1]!);
      calls.push({
        to: swap.tokenIn,
        value: 0n,
        data: encodeFunctionData({
          abi: erc20Abi,
          functionName: 'transfer',
          args: [firstPair, swap.amountIn],
        }),
        operation: 0,
      });
      callLabels.push(`${what}: ${name(swap.tokenIn)}.transfer(pair ${shortAddress(firstPair)})`);
      calls.push({
        to: input.router,
        value: 0n,
        data: encodeFunctionData({
          abi: uniswapV2RouterAbi,
          functionName: 'swapExactTokensForTokensSupportingFeeOnTransferTokens',
          args: [0n, swap.minAmountOut, path, input.safe, input.deadline],
        }),
        operation: 0,
      });
      callLabels.push(`${what}: router.swapExactTokensForTokensSupportingFeeOnTransferTokens (min out)`);
    } else {
      calls.push({
        to: swap.tokenIn,
        value: 0n,
        data: encodeFunctionData({
          abi: erc20Abi,
          functionName: 'approve',
          args: [input.router, swap.amountIn],
        }),
        operation: 0,
      });
      callLabels.push(`${what}: ${name(swap.tokenIn)}.approve(router)`);
      calls.push({
        to: input.router,
        value: 0n,
        data: encodeFunctionData({
          abi: uniswapV2RouterAbi,
          functionName: 'swapExactTokensForTokens',
          args: [swap.amountIn, swap.minAmountOut, path, input.safe, input.deadline],
        }),
        operation: 0,
      });
      callLabels.push(`${what}: router.swapExactTokensForTokens (min out)`);
    }
  });
  return { calls, callLabels };
}

/** MultiSendCallOnly's packed encoding: operation(1) to(20) value(32) dataLength(32) data, per call. */
export function encodeMultiSendCallOnly(calls: MetaCall[]): Hex {
  const packed = concat(
    calls.map((call) =>
      encodePacked(
        ['uint8', 'address', 'uint256', 'uint256', 'bytes'],
        [call.operation, call.to, call.value, BigInt(size(call.data)), call.data],
      ),
    ),
  );
  return encodeFunctionData({
    abi: safeArtifacts.multiSendCallOnly.abi,
    functionName: 'multiSend',
    args: [packed],
  });
}

/** The Safe transaction for a list of calls: the call itself when there is one, else a MultiSendCallOnly batch. */
export function safeTxForCalls(calls: MetaCall[], multiSendCallOnly: Address, nonce: bigint): SafeTxData {
  const base = {
    safeTxGas: 0n,
    baseGas: 0n,
    gasPrice: 0n,
    gasToken: zeroAddress,
    refundReceiver: zeroAddress,
    nonce,
  };
  if (calls.length === 1) {
    const only = calls[0]!;
    return { ...base, to: only.to, value: only.value, data: only.data, operation: 0 };
  }
  return { ...base, to: multiSendCallOnly, value: 0n, data: encodeMultiSendCallOnly(calls), operation: 1 };
}

export const SAFE_TX_TYPES = {
  SafeTx: [
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'data', type: 'bytes' },
    { name: 'operation', type: 'uint8' },
    { name: 'safeTxGas', type: 'uint256' },
    { name: 'baseGas', type: 'uint256' },
    { name: 'gasPrice', type: 'uint256' },
    { name: 'gasToken', type: 'address' },
    { name: 'refundReceiver', type: 'address' },
    { name: 'nonce', type: 'uint256' },
  ],
} as const;

/** The Safe v1.3+/1.4.1 EIP-712 hash of a transaction (domain: chainId and the Safe's address). */
export function computeSafeTxHash(chainId: number, safe: Address, tx: SafeTxData): Hex {
  return hashTypedData({
    domain: { chainId, verifyingContract: safe },
    types: SAFE_TX_TYPES,
    primaryType: 'SafeTx',
    message: tx,
  });
}

/** One swap as voters approve it: tokens, amount in, and the price policy the chain checks at execution. */
export type PolicyOrder = {
  tokenIn: Address;
  tokenOut: Address;
  amountIn: bigint;
  policy: {
    feedIn: Address;
    feedOut: Address;
    feedDecimals: number;
    maxFeedAge: number;
    slippageBps: number;
    floorPrice: bigint;
  };
};

/** The decision PolicySwapper.execute takes: everything voters approve, in the voted calldata. */
export type PolicyDecision = {
  decisionHash: Hex;
  /** The venue: a Uniswap V2 router; PolicySwapper swaps in its factory's pairs directly. */
  router: Address;
  validAfter: bigint;
  validUntil: bigint;
  orders: PolicyOrder[];
};

export type PolicyBatchInput = {
  chainId: number;
  safe: Address;
  multiSendCallOnly: Address;
  swapper: Address;
  decision: PolicyDecision;
  /** The Safe's nonce the hash is computed at (the voted batch may run at a later nonce: see safeTxAtNonce). */
  nonce: bigint;
};

export type PolicyBatchTx = RebalanceTx & {
  /** keccak256 of the batch's calldata: what voters approve, whatever the Safe's nonce at execution. */
  dataHash: Hex;
};

/**
 * The voted batch: one exact approval per token sold (the sum of its orders' amounts) to PolicySwapper, then
 * PolicySwapper.execute(decision), which pulls exactly those amounts, so no approval is left behind.
 */
export function buildPolicyBatchCalls(
  input: Pick<PolicyBatchInput, 'swapper' | 'decision'>,
  symbols?: Record<string, string>,
): { calls: MetaCall[]; callLabels: string[] } {
  const name = (address: Address) => symbols?.[getAddress(address)] ?? shortAddress(address);
  const approvals = new Map<Address, bigint>();
  for (const order of input.decision.orders) {
    const token = getAddress(order.tokenIn);
    approvals.set(token, (approvals.get(token) ?? 0n) + order.amountIn);
  }
  const calls: MetaCall[] = [];
  const callLabels: string[] = [];
  for (const [token, amount] of approvals) {
    calls.push({
      to: token,
      value: 0n,
      data: encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [input.swapper, amount] }),
      operation: 0,
    });
    callLabels.push(`${name(token)}.approve(policy swapper, exactly what it sells)`);
  }
  calls.push({
    to: input.swapper,
    value: 0n,
    data: encodeFunctionData({
      abi: policySwapperAbi,
      functionName: 'execute',
      args: [
        {
          ...input.decision,
          orders: input.decision.orders.map((o) => ({ ...o, policy: { ...o.policy } })),
        },
      ],
    }),
    operation: 0,
  });
  callLabels.push(
    `policy swapper.execute: ${input.decision.orders
      .map((o, i) => `swap ${i + 1} ${name(o.tokenIn)} → ${name(o.tokenOut)}`)
      .join(', ')}`,
  );
  return { calls, callLabels };
}

/** The voted batch as a Safe transaction at `nonce`, with its hash and the hash of its calldata. */
export function buildPolicyBatchTx(input: PolicyBatchInput, symbols?: Record<string, string>): PolicyBatchTx {
  if (input.decision.orders.length === 0) throw new RefusedError('a rebalance needs at least one swap');
  const { calls, callLabels } = buildPolicyBatchCalls(input, symbols);
  const safeTx = safeTxForCalls(calls, input.multiSendCallOnly, input.nonce);
  return {
    calls,
    callLabels,
    safeTx,
    safeTxHash: computeSafeTxHash(input.chainId, input.safe, safeTx),
    dataHash: keccak256(safeTx.data),
  };
}

/**
 * The same voted calls at another Safe nonce. Other Safe transactions (payroll, grants) move the nonce during
 * the vote; what voters approved is the calls, so the transaction that executes is the voted one with the
 * Safe's nonce at execution: same to, value, data, operation and gas fields, a new safeTxHash.
 */
export function safeTxAtNonce(
  chainId: number,
  safe: Address,
  tx: Pick<RebalanceTx, 'safeTx'>,
  nonce: bigint,
): { safeTx: SafeTxData; safeTxHash: Hex } {
  const safeTx = { ...tx.safeTx, nonce };
  return { safeTx, safeTxHash: computeSafeTxHash(chainId, safe, safeTx) };
}

/** Builds the whole rebalance transaction and its hash, purely from its inputs. */
export function buildRebalanceTx(input: RebalanceTxInput, symbols?: Record<string, string>): RebalanceTx {
  if (input.swaps.length === 0) throw new RefusedError('a rebalance needs at least one swap');
  const { calls, callLabels } = buildSwapCalls(input, symbols);
  const safeTx = safeTxForCalls(calls, input.multiSendCallOnly, input.nonce);
  return { calls, callLabels, safeTx, safeTxHash: computeSafeTxHash(input.chainId, input.safe, safeTx) };
}

/** JSON-safe form of a Safe transaction (bigints as decimal strings), for the proposal plugins and the audit log. */
export function safeTxToJson(tx: SafeTxData) {
  return {
    to: tx.to,
    value: tx.value.toString(),
    data: tx.data,
    operation: tx.operation,
    safeTxGas: tx.safeTxGas.toString(),
    baseGas: tx.baseGas.toString(),
    gasPrice: tx.gasPrice.toString(),
    gasToken: tx.gasToken,
    refundReceiver: tx.refundReceiver,
    nonce: tx.nonce.toString(),
  };
}
