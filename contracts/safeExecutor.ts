import type { ContractNetworksConfig, default as SafeImport } from '@safe-global/protocol-kit';
import {
  type Address,
  type Chain,
  decodeErrorResult,
  decodeEventLog,
  decodeFunctionData,
  encodeFunctionData,
  formatUnits,
  getAddress,
  type Hex,
  type Log,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ChainError, RefusedError, TreasuryError } from '../shared/errors.ts';
import { amountAtPrice, MAX_BPS } from '../strategies/pricePolicy.ts';
import { erc20Abi, policySwapperAbi } from './abis.ts';
import { projectArtifacts } from './artifacts.ts';
import { waitForReceipt } from './receipts.ts';
import { executedSafeTx } from './safeEvents.ts';
import {
  buildPolicyBatchTx,
  buildRebalanceTx,
  type PolicyDecision,
  type RebalanceTx,
  type SafeTxData,
  type SwapInstruction,
  type SwapRoute,
} from './safeTransaction.ts';
import { type OwnerSignature, verifiedSignatures } from './transactionService.ts';
import { readHoldings, readSafeState, type SafeStateReading, type TokenRef } from './treasuryReads.ts';

type Safe = InstanceType<typeof SafeImport.default>;

/**
 * protocol-kit (with its own copy of viem, ethers' ABI coder and the Safe deployments) costs about a second of
 * CPU to load: it is imported when there is something to execute, not when the agent starts.
 */
async function protocolKit() {
  const kit = await import('@safe-global/protocol-kit');
  // Its types describe a CommonJS module; under ESM its default export is the Safe class itself.
  return {
    Safe: kit.default as unknown as typeof SafeImport.default,
    EthSafeSignature: kit.EthSafeSignature,
  };
}

/** A simulated inner call of the Safe transaction reverted: names the call and the reason. */
export class SimulationError extends TreasuryError {
  override name = 'SimulationError';
  readonly callIndex: number;
  readonly callLabel: string;
  readonly reason: string;
  constructor(callIndex: number, callLabel: string, reason: string, cause?: unknown) {
    super(`simulation: call ${callIndex + 1} (${callLabel}) would revert: ${reason}`, {
      cause,
      hint: 'nothing was sent; re-plan with fresh prices or a lower minimum out',
    });
    this.callIndex = callIndex;
    this.callLabel = callLabel;
    this.reason = reason;
  }
}

/** Why PolicySwapper refused a voted batch (its custom errors, and the router's own minimum-out check). */
export type PolicyRefusalReason =
  | 'below-floor'
  | 'insufficient-output'
  | 'stale-feed'
  | 'feed-from-future'
  | 'feed-decimals'
  | 'non-positive-answer'
  | 'not-yet-valid'
  | 'validity-ended'
  | 'already-executed'
  | 'other';

const POLICY_ERRORS: Record<string, [PolicyRefusalReason, string]> = {
  BelowFloor: ['below-floor', 'the oracle price is below the floor voters accepted'],
  InsufficientOutput: ['insufficient-output', 'the pool returns less than the oracle price allows'],
  StaleFeed: ['stale-feed', 'a price feed is older than the policy allows'],
  FeedFromFuture: ['feed-from-future', 'a price feed is dated after the block'],
  FeedDecimals: ['feed-decimals', 'a price feed reports unexpected decimals'],
  NonPositiveAnswer: ['non-positive-answer', 'a price feed answered 0 or less'],
  NotYetValid: ['not-yet-valid', 'the voted window has not opened yet'],
  ValidityEnded: ['validity-ended', 'the voted validity window has ended'],
  AlreadyExecuted: ['already-executed', 'this decision already executed for this Safe'],
  NoPool: ['other', "the voted venue's factory has no pool for this pair"],
};

/** A voted batch the price policy refuses now (PolicySwapper would revert): names the swap, the reason and why. */
export class PolicyRefusedError extends TreasuryError {
  override name = 'PolicyRefusedError';
  readonly reason: PolicyRefusalReason;
  constructor(reason: PolicyRefusalReason, message: string, cause?: unknown) {
    super(message, {
      cause,
      hint: 'nothing was sent; the chain refuses this batch as voted, whatever the agent does',
    });
    this.reason = reason;
  }
}

/** How a refusal names tokens and amounts for people: symbols and decimals by address, the orders of the batch. */
export type RevertContext = {
  tokens: readonly { symbol: string; address: Address; decimals: number; feed?: Address }[];
  orders?: readonly { tokenIn: Address; tokenOut: Address }[];
};

const utcOf = (t: bigint) => `${new Date(Number(t) * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** A refusal's arguments in display units: symbols for addresses, prices and amounts as people read them. */
function refusalDetail(name: string, args: readonly unknown[], context?: RevertContext): string {
  const token = (address: unknown) =>
    context?.tokens.find((t) => t.address.toLowerCase() === String(address).toLowerCase());
  const feedOf = (address: unknown) =>
    context?.tokens.find((t) => t.feed?.toLowerCase() === String(address).toLowerCase());
  const symbol = (address: unknown) => token(address)?.symbol ?? String(address);
  const price = (p: unknown) => (Number(p as bigint) / 1e18).toPrecision(6);
  const amount = (value: unknown, address: Address | undefined) => {
    const t = address ? token(address) : undefined;
    return t ? `${formatUnits(value as bigint, t.decimals)} ${t.symbol}` : `${String(value)} base units`;
  };
  switch (name) {
    case 'BelowFloor':
      return `oracle price ${price(args[2])} ${symbol(args[1])} per ${symbol(args[0])}, floor ${price(args[3])}`;
    case 'InsufficientOutput': {
      const order = context?.orders?.[Number(args[0])];
      return `swap ${Number(args[0]) + 1} would return ${amount(args[1], order?.tokenOut)}, at least ${amount(args[2], order?.tokenOut)} required`;
    }
    case 'StaleFeed':
      return `${feedOf(args[0])?.symbol ?? String(args[0])} feed ${Number(args[1]).toLocaleString('en-US')} s old, limit ${Number(args[2]).toLocaleString('en-US')} s`;
    case 'FeedFromFuture':
      return `${feedOf(args[0])?.symbol ?? String(args[0])} feed dated ${utcOf(args[1] as bigint)}, block at ${utcOf(args[2] as bigint)}`;
    case 'FeedDecimals':
      return `${feedOf(args[0])?.symbol ?? String(args[0])} feed has ${args[1]} decimals, ${args[2]} expected`;
    case 'NonPositiveAnswer':
      return `${feedOf(args[0])?.symbol ?? String(args[0])} feed answered ${String(args[1])}`;
    case 'NotYetValid':
      return `valid from ${utcOf(args[0] as bigint)}, block at ${utcOf(args[1] as bigint)}`;
    case 'ValidityEnded':
      return `valid until ${utcOf(args[0] as bigint)}, block at ${utcOf(args[1] as bigint)}`;
    case 'AlreadyExecuted':
      return `decision ${String(args[1])}`;
    case 'NoPool':
      return `${symbol(args[0])} → ${symbol(args[1])}`;
    default:
      return `${name}(${args.map((a) => String(a)).join(', ')})`;
  }
}

/** Reads PolicySwapper's or the router's revert data: the policy's reason, or undefined for anything else. */
export function decodePolicyRevert(
  data: Hex | undefined,
  context?: RevertContext,
): { reason: PolicyRefusalReason; text: string } | undefined {
  if (!data || data === '0x') return undefined;
  try {
    const decoded = decodeErrorResult({ abi: projectArtifacts.policySwapper.abi, data });
    if (decoded.errorName === 'Error') {
      const message = String(decoded.args?.[0] ?? '');
      if (/INSUFFICIENT_OUTPUT_AMOUNT/.test(message)) {
        return {
          reason: 'insufficient-output',
          text: `the pool returns less than the oracle price allows (${message})`,
        };
      }
      return undefined;
    }
    const [reason, text] = POLICY_ERRORS[decoded.errorName] ?? ['other', decoded.errorName];
    return { reason, text: `${text}: ${refusalDetail(decoded.errorName, decoded.args ?? [], context)}` };
  } catch {
    return undefined;
  }
}

/** What the executor may touch and where: the Safe, its chain, and the allowlists from config. */
export type ExecutorContext = {
  client: PublicClient<Transport, Chain>;
  rpcUrl: string;
  chainId: number;
  safe: Address;
  router: Address;
  factory: Address;
  multiSendCallOnly: Address;
  /** PolicySwapper: the only contract a voted batch may ask to trade (absent: plain router batches only). */
  swapper?: Address;
  /** For chains without a safe-deployments entry (the devnet). */
  contractNetworks?: ContractNetworksConfig;
  /**
   * Every token the treasury holds and may trade (the allowlist), with decimals for balance reports and the
   * token's USD feed, the only one a price policy may read for it.
   */
  tokens: (TokenRef & { feed?: Address })[];
  /** Routers the Safe may call. */
  allowedRouters: Address[];
};

export type RebalanceRequest = {
  swaps: SwapInstruction[];
  route: SwapRoute;
  deadline: bigint;
  /** The Safe nonce the transaction was built for; refused if the Safe's nonce has moved. Default: current. */
  nonce?: bigint;
  /** The safeTxHash the caller (the voters) approved; anything else is refused before signing. */
  expectedSafeTxHash?: Hex;
};

/** A voted batch through PolicySwapper: the decision, and what voters approved. */
export type PolicyBatchRequest = {
  decision: PolicyDecision;
  /** keccak256 of the voted batch's calldata; anything else is refused before signing. */
  expectedDataHash?: Hex;
  /** The Safe nonce to execute at. Default: the Safe's current nonce (the voted calls, whatever ran before). */
  nonce?: bigint;
};

export type PreparedRebalance = RebalanceTx & { safeState: SafeStateReading; dataHash?: Hex };

/** One PolicySwap event: what the chain saw and did for one voted swap. */
export type PolicySwapEvent = {
  index: number;
  tokenIn: Address;
  tokenOut: Address;
  amountIn: bigint;
  /** Whole tokenOut per whole tokenIn × 1e18, from the feeds at execution. */
  oraclePrice: bigint;
  minOut: bigint;
  amountOut: bigint;
  decisionHash: Hex;
};

export type BalanceChange = {
  symbol: string;
  decimals: number;
  before: bigint;
  after: bigint;
  delta: bigint;
};

export type RebalanceExecution = {
  /** The hash that executed (at the Safe's nonce then). */
  safeTxHash: Hex;
  nonce: bigint;
  transactionHash: Hex;
  /** PolicySwapper's events for each swap (empty for a plain router batch). */
  policySwaps: PolicySwapEvent[];
  receipt: TransactionReceipt;
  gasUsed: bigint;
  balanceChanges: Record<string, BalanceChange>;
};

function symbolsByAddress(tokens: TokenRef[]): Record<string, string> {
  return Object.fromEntries(tokens.map((t) => [getAddress(t.address), t.symbol]));
}

/**
 * Checks a rebalance request against the allowlists and the Safe's state, builds the transaction and its
 * safeTxHash, and refuses — before anything is signed or sent — a token or router off the allowlist, a
 * non-positive amount, a minimum out of 0, an amount above what the Safe will hold at that point of the batch,
 * a moved nonce, a past deadline, and a hash different from the expected one.
 */
export async function prepareRebalance(
  ctx: ExecutorContext,
  request: RebalanceRequest,
): Promise<PreparedRebalance> {
  const allowedTokens = new Map(ctx.tokens.map((t) => [getAddress(t.address), t]));
  const routerAllowed = ctx.allowedRouters.some((r) => getAddress(r) === getAddress(ctx.router));
  if (!routerAllowed)
    throw new RefusedError(`router ${ctx.router} is not on the allowlist`, { hint: 'check config router' });
  if (request.swaps.length === 0) throw new RefusedError('nothing to execute: the rebalance has no swaps');

  request.swaps.forEach((swap, i) => {
    const path = swap.path ?? [swap.tokenIn, swap.tokenOut];
    const where = `swap ${i + 1}`;
    for (const token of path) {
      if (!allowedTokens.has(getAddress(token))) {
        throw new RefusedError(`${where}: token ${token} is not on the allowlist`, {
          hint: 'only tokens listed in the config (tokens[]) may be traded',
        });
      }
    }
    if (
      path.length < 2 ||
      getAddress(path[0]!) !== getAddress(swap.tokenIn) ||
      getAddress(path.at(-1)!) !== getAddress(swap.tokenOut)
    ) {
      throw new RefusedError(`${where}: the path must start with tokenIn and end with tokenOut`);
    }
    if (swap.amountIn <= 0n)
      throw new RefusedError(`${where}: amount in must be above 0, got ${swap.amountIn}`);
    if (swap.minAmountOut <= 0n) {
      throw new RefusedError(`${where}: minimum out is 0: the swap would accept any price`, {
        hint: 'every swap needs a minimum out from the pool reserves and the slippage tolerance',
      });
    }
  });

  const [safeState, holdings] = await Promise.all([
    readSafeState(ctx.client, { safe: ctx.safe }),
    readHoldings(ctx.client, { safe: ctx.safe, tokens: ctx.tokens }),
  ]);
  if (request.nonce !== undefined && request.nonce !== safeState.nonce) {
    throw new RefusedError(
      `the Safe's nonce moved: built for ${request.nonce}, the Safe is at ${safeState.nonce}`,
      {
        hint: 'another transaction ran in between; this one can no longer execute as voted',
      },
    );
  }
  if (request.deadline <= BigInt(safeState.blockTimestamp)) {
    throw new RefusedError(
      `the swap deadline ${request.deadline} has passed (chain time ${safeState.blockTimestamp})`,
    );
  }

  // What the Safe holds as the batch runs: each sell must be covered; a buy counts only its minimum out.
  const running = new Map(Object.values(holdings.holdings).map((h) => [getAddress(h.address), h.amount]));
  request.swaps.forEach((swap, i) => {
    const tokenIn = getAddress(swap.tokenIn);
    const available = running.get(tokenIn) ?? 0n;
    if (swap.amountIn > available) {
      const token = allowedTokens.get(tokenIn)!;
      throw new RefusedError(
        `swap ${i + 1}: sells ${formatUnits(swap.amountIn, token.decimals)} ${token.symbol} but the Safe will hold only ${formatUnits(available, token.decimals)} ${token.symbol}`,
        { hint: 'amounts above the balance are never sent; re-plan from current holdings' },
      );
    }
    running.set(tokenIn, available - swap.amountIn);
    const tokenOut = getAddress(swap.tokenOut);
    running.set(tokenOut, (running.get(tokenOut) ?? 0n) + swap.minAmountOut);
  });

  const tx = buildRebalanceTx(
    {
      chainId: ctx.chainId,
      safe: ctx.safe,
      router: ctx.router,
      factory: ctx.factory,
      multiSendCallOnly: ctx.multiSendCallOnly,
      swaps: request.swaps,
      route: request.route,
      deadline: request.deadline,
      nonce: request.nonce ?? safeState.nonce,
    },
    symbolsByAddress(ctx.tokens),
  );
  if (
    request.expectedSafeTxHash &&
    request.expectedSafeTxHash.toLowerCase() !== tx.safeTxHash.toLowerCase()
  ) {
    throw new RefusedError(
      `safeTxHash mismatch: expected ${request.expectedSafeTxHash}, built ${tx.safeTxHash}`,
      {
        hint: 'the transaction differs from the one voters approved; nothing was signed or sent',
      },
    );
  }
  return { ...tx, safeState };
}

/** Whether PolicySwapper already executed `decisionHash` for `safe` (its only state: the replay guard). */
export async function decisionExecuted(
  client: PublicClient<Transport, Chain>,
  swapper: Address,
  safe: Address,
  decisionHash: Hex,
): Promise<boolean> {
  try {
    return await client.readContract({
      address: swapper,
      abi: policySwapperAbi,
      functionName: 'executed',
      args: [safe, decisionHash],
    });
  } catch (error) {
    throw new ChainError(`cannot read PolicySwapper ${swapper}.executed`, {
      cause: error,
      hint: 'is the RPC up and execution.policySwapper right?',
    });
  }
}

/**
 * Checks a voted batch through PolicySwapper before anything is signed, and builds it at the Safe's nonce:
 * refuses a router, swapper, token or feed off the config, an amount of 0, a floor of 0 (any price), a
 * slippage of 100%, a sell above what the Safe will hold at that point (buys count only their floor out), a
 * validity window that has ended, a decision the chain already executed, and calldata other than the voted.
 */
export async function preparePolicyBatch(
  ctx: ExecutorContext,
  request: PolicyBatchRequest,
): Promise<PreparedRebalance> {
  const { decision } = request;
  const tokens = new Map(ctx.tokens.map((t) => [getAddress(t.address), t]));
  if (!ctx.swapper) {
    throw new RefusedError('no PolicySwapper is configured: voted batches need one', {
      hint: 'set execution.policySwapper',
    });
  }
  const allowedRouter = ctx.allowedRouters.some((r) => getAddress(r) === getAddress(decision.router));
  if (!allowedRouter || getAddress(decision.router) !== getAddress(ctx.router)) {
    throw new RefusedError(`router ${decision.router} is not on the allowlist`, {
      hint: 'check config router',
    });
  }
  if (decision.orders.length === 0) throw new RefusedError('nothing to execute: the rebalance has no swaps');
  decision.orders.forEach((order, i) => {
    const where = `swap ${i + 1}`;
    const tokenIn = tokens.get(getAddress(order.tokenIn));
    const tokenOut = tokens.get(getAddress(order.tokenOut));
    if (!tokenIn || !tokenOut) {
      throw new RefusedError(
        `${where}: token ${tokenIn ? order.tokenOut : order.tokenIn} is not on the allowlist`,
        {
          hint: 'only tokens listed in the config (tokens[]) may be traded',
        },
      );
    }
    if (tokenIn === tokenOut) throw new RefusedError(`${where}: sells and buys the same token`);
    const feedOf = (token: typeof tokenIn) => (token.feed ? getAddress(token.feed) : undefined);
    if (
      getAddress(order.policy.feedIn) !== feedOf(tokenIn) ||
      getAddress(order.policy.feedOut) !== feedOf(tokenOut)
    ) {
      throw new RefusedError(
        `${where}: its price policy reads feeds other than ${tokenIn.symbol}'s and ${tokenOut.symbol}'s`,
        {
          hint: 'a policy may read only the feeds configured for its tokens (tokens[].feed)',
        },
      );
    }
    if (order.amountIn <= 0n)
      throw new RefusedError(`${where}: amount in must be above 0, got ${order.amountIn}`);
    if (order.policy.floorPrice <= 0n) {
      throw new RefusedError(`${where}: the floor price is 0: the swap would accept any price`, {
        hint: 'every swap needs a floor fixed when the proposal is drafted',
      });
    }
    if (order.policy.slippageBps < 0 || order.policy.slippageBps >= MAX_BPS) {
      throw new RefusedError(`${where}: slippage ${order.policy.slippageBps} bps would accept any price`);
    }
    if (order.policy.maxFeedAge <= 0 || order.policy.feedDecimals <= 0) {
      throw new RefusedError(`${where}: the policy must bound the feeds' age and decimals`);
    }
  });

  const [safeState, holdings] = await Promise.all([
    readSafeState(ctx.client, { safe: ctx.safe }),
    readHoldings(ctx.client, { safe: ctx.safe, tokens: ctx.tokens }),
  ]);
  if (request.nonce !== undefined && request.nonce !== safeState.nonce) {
    throw new RefusedError(`the Safe is at nonce ${safeState.nonce}, not ${request.nonce}`, {
      hint: 'execute at the current nonce: the voted calls do not depend on it',
    });
  }
  if (decision.validUntil < BigInt(safeState.blockTimestamp)) {
    throw new RefusedError(
      `the voted validity window ended at ${decision.validUntil} (chain time ${safeState.blockTimestamp})`,
    );
  }
  if (await decisionExecuted(ctx.client, ctx.swapper, ctx.safe, decision.decisionHash)) {
    throw new RefusedError(`decision ${decision.decisionHash} already executed for this Safe`, {
      hint: 'PolicySwapper runs a voted decision once; nothing was sent',
    });
  }
  // What the Safe holds as the batch runs: each sell must be covered; a buy counts only its floor out.
  const running = new Map(Object.values(holdings.holdings).map((h) => [getAddress(h.address), h.amount]));
  decision.orders.forEach((order, i) => {
    const tokenIn = tokens.get(getAddress(order.tokenIn))!;
    const tokenOut = tokens.get(getAddress(order.tokenOut))!;
    const available = running.get(getAddress(tokenIn.address)) ?? 0n;
    if (order.amountIn > available) {
      throw new RefusedError(
        `swap ${i + 1}: sells ${formatUnits(order.amountIn, tokenIn.decimals)} ${tokenIn.symbol} but the Safe will hold only ${formatUnits(available, tokenIn.decimals)} ${tokenIn.symbol}`,
        { hint: 'amounts above the balance are never sent; re-plan from current holdings' },
      );
    }
    running.set(getAddress(tokenIn.address), available - order.amountIn);
    const floorOut = amountAtPrice(
      order.amountIn,
      order.policy.floorPrice,
      tokenIn.decimals,
      tokenOut.decimals,
    );
    running.set(getAddress(tokenOut.address), (running.get(getAddress(tokenOut.address)) ?? 0n) + floorOut);
  });

  const tx = buildPolicyBatchTx(
    {
      chainId: ctx.chainId,
      safe: ctx.safe,
      multiSendCallOnly: ctx.multiSendCallOnly,
      swapper: ctx.swapper,
      decision,
      nonce: safeState.nonce,
    },
    symbolsByAddress(ctx.tokens),
  );
  if (request.expectedDataHash && request.expectedDataHash.toLowerCase() !== tx.dataHash.toLowerCase()) {
    throw new RefusedError(
      `the batch's calls differ from the voted ones (calldata hash ${tx.dataHash}, voted ${request.expectedDataHash})`,
      { hint: 'the transaction differs from the one voters approved; nothing was signed or sent' },
    );
  }
  return { ...tx, safeState };
}

/** PolicySwapper's PolicySwap events in a receipt, emitted by `swapper` for `safe`. */
export function policySwapsIn(
  logs: readonly Pick<Log, 'address' | 'data' | 'topics'>[],
  swapper: Address,
  safe: Address,
): PolicySwapEvent[] {
  const events: PolicySwapEvent[] = [];
  for (const log of logs) {
    if (getAddress(log.address) !== getAddress(swapper)) continue;
    try {
      const event = decodeEventLog({ abi: policySwapperAbi, data: log.data, topics: log.topics });
      if (event.eventName !== 'PolicySwap' || getAddress(event.args.caller) !== getAddress(safe)) continue;
      events.push({
        index: Number(event.args.index),
        tokenIn: event.args.tokenIn,
        tokenOut: event.args.tokenOut,
        amountIn: event.args.amountIn,
        oraclePrice: event.args.oraclePrice,
        minOut: event.args.minOut,
        amountOut: event.args.amountOut,
        decisionHash: event.args.decisionHash,
      });
    } catch {
      // another event of the swapper
    }
  }
  return events;
}

/** The orders of a PolicySwapper.execute call (to name a refused swap's tokens). */
function ordersOf(data: Hex): { tokenIn: Address; tokenOut: Address }[] | undefined {
  try {
    const decoded = decodeFunctionData({ abi: policySwapperAbi, data });
    if (decoded.functionName !== 'execute') return undefined;
    return decoded.args[0].orders.map((o) => ({ tokenIn: o.tokenIn, tokenOut: o.tokenOut }));
  } catch {
    return undefined;
  }
}

function revertReason(error: unknown): string {
  if (!error) return 'reverted';
  const e = error as { shortMessage?: string; message?: string; details?: string; cause?: unknown };
  const text = e.details ?? e.shortMessage ?? e.message ?? String(error);
  const match =
    /reverted with the following reason:\s*\n?(.+)/.exec(text) ?? /execution reverted:?\s*(.+)/.exec(text);
  return (match?.[1] ?? text).split('\n')[0]!.trim();
}

/**
 * Runs the inner calls in order from the Safe's own address (eth_simulateV1), so a failure names the call and
 * its reason instead of the Safe's bare GS013. Throws SimulationError; returns the gas each call used.
 */
/**
 * Why a batch whose simulation passed failed when sent: most often a pool or feed moved in between (other swaps
 * in the same blocks). If the price policy refuses the batch now, that refusal is the reason (a
 * PolicyRefusedError: the caller waits while the vote's window is open, as when the simulation refuses); nothing
 * of the batch happened either way (a failing inner call reverts the whole Safe transaction, and PolicySwapper's
 * record of the decision with it). Otherwise the failure stands.
 */
async function policyRefusalNow(ctx: ExecutorContext, tx: RebalanceTx, failure: ChainError): Promise<never> {
  try {
    await simulateBatch(ctx, tx);
  } catch (error) {
    if (error instanceof PolicyRefusedError)
      throw new PolicyRefusedError(error.reason, `${error.message} (when sent: ${failure.message})`, failure);
  }
  throw failure;
}

export async function simulateInnerCalls(ctx: ExecutorContext, tx: RebalanceTx): Promise<bigint[]> {
  return (await simulateBatch(ctx, tx)).gasUsed;
}

export type BatchSimulation = {
  /** Gas each inner call used, in order (the Safe's own execTransaction overhead is not included). */
  gasUsed: bigint[];
  /** Every configured token's balance in the Safe after the calls, by symbol. */
  balancesAfter: Record<string, bigint>;
};

/**
 * Runs the inner calls in order from the Safe's own address (eth_simulateV1), then reads every token's balance
 * in the same simulated block: what the batch would do now. A failing call is named with its reason
 * (SimulationError) or, for PolicySwapper, the price policy's refusal (PolicyRefusedError), instead of the
 * Safe's bare GS013.
 */
export async function simulateBatch(ctx: ExecutorContext, tx: RebalanceTx): Promise<BatchSimulation> {
  let results: Awaited<ReturnType<PublicClient['simulateCalls']>>['results'];
  try {
    ({ results } = await ctx.client.simulateCalls({
      account: ctx.safe,
      calls: [
        ...tx.calls.map((call) => ({ to: call.to, data: call.data, value: call.value })),
        ...ctx.tokens.map((token) => ({
          to: token.address,
          data: encodeFunctionData({ abi: erc20Abi, functionName: 'balanceOf', args: [ctx.safe] }),
        })),
      ],
    }));
  } catch (error) {
    throw new ChainError('the RPC could not simulate the calls (eth_simulateV1)', {
      cause: error,
      hint: 'use a node that supports eth_simulateV1 (anvil, geth, reth); nothing was sent',
    });
  }
  const calls = results.slice(0, tx.calls.length);
  calls.forEach((result, i) => {
    if (result.status !== 'success') {
      const policy =
        ctx.swapper && getAddress(tx.calls[i]!.to) === getAddress(ctx.swapper)
          ? decodePolicyRevert(result.data, { tokens: ctx.tokens, orders: ordersOf(tx.calls[i]!.data) })
          : undefined;
      if (policy) {
        throw new PolicyRefusedError(
          policy.reason,
          `the price policy refuses the voted batch now: ${policy.text}`,
          result.error,
        );
      }
      throw new SimulationError(
        i,
        tx.callLabels[i] ?? `call ${i + 1}`,
        revertReason(result.error),
        result.error,
      );
    }
  });
  const balancesAfter: Record<string, bigint> = {};
  ctx.tokens.forEach((token, k) => {
    const read = results[tx.calls.length + k]!;
    if (read.status !== 'success')
      throw new ChainError(`the simulation could not read ${token.symbol}'s balance`);
    balancesAfter[token.symbol] = BigInt(read.data);
  });
  return { gasUsed: calls.map((r) => r.gasUsed), balancesAfter };
}

function sameSafeTx(
  a: SafeTxData,
  b: { to: string; value: string; data: string; operation: number; nonce: number | string },
) {
  return (
    getAddress(a.to) === getAddress(b.to) &&
    a.value === BigInt(b.value) &&
    a.data.toLowerCase() === b.data.toLowerCase() &&
    a.operation === b.operation &&
    a.nonce === BigInt(b.nonce)
  );
}

/** A plain router batch (approve + swap with a fixed minimum out): prepared, then executed as below. */
export async function executeRebalance(
  ctx: ExecutorContext,
  request: RebalanceRequest,
  signerKeys: Hex[],
  collectedSignatures: OwnerSignature[] = [],
): Promise<RebalanceExecution> {
  return executePrepared(ctx, await prepareRebalance(ctx, request), signerKeys, collectedSignatures);
}

/** A voted batch through PolicySwapper: prepared (every refusal of preparePolicyBatch), then executed. */
export async function executePolicyBatch(
  ctx: ExecutorContext,
  request: PolicyBatchRequest,
  signerKeys: Hex[],
  collectedSignatures: OwnerSignature[] = [],
): Promise<RebalanceExecution> {
  return executePrepared(ctx, await preparePolicyBatch(ctx, request), signerKeys, collectedSignatures);
}

/**
 * Checks the signers (each an owner; at least the threshold of them), simulates the inner calls, has
 * protocol-kit rebuild the same transaction (same hash, or refused), collects the owners' EIP-712 signatures,
 * executes from the first signer, and reports the balance changes and PolicySwapper's events.
 */
export async function executePrepared(
  ctx: ExecutorContext,
  prepared: PreparedRebalance,
  signerKeys: Hex[],
  /** Owners' signatures collected elsewhere (the Safe Transaction Service); each must recover to its owner. */
  collectedSignatures: OwnerSignature[] = [],
): Promise<RebalanceExecution> {
  const owners = new Set(prepared.safeState.owners.map((o) => getAddress(o)));
  const signers = signerKeys.map((key) => privateKeyToAccount(key).address);
  if (new Set(signers).size !== signers.length)
    throw new RefusedError('the same owner is listed twice among the signers');
  signers.forEach((signer) => {
    if (!owners.has(signer))
      throw new RefusedError(`signer ${signer} is not an owner of the Safe ${ctx.safe}`);
  });
  const collected = (await verifiedSignatures(prepared.safeTxHash, collectedSignatures)).filter(
    (s, i, all) =>
      owners.has(getAddress(s.owner)) &&
      !signers.includes(getAddress(s.owner)) &&
      all.findIndex((o) => o.owner === s.owner) === i,
  );
  const count = signers.length + collected.length;
  if (count < prepared.safeState.threshold) {
    throw new RefusedError(
      `too few signatures: ${count} of the ${prepared.safeState.threshold} the Safe requires`,
      {
        hint: 'collect the co-signers’ signatures (Safe Transaction Service in production); nothing was sent',
      },
    );
  }

  await simulateInnerCalls(ctx, prepared);

  const { Safe, EthSafeSignature } = await protocolKit();
  // Through our client, not a URL: protocol-kit would give each request viem's fixed 10 s (and retry a send),
  // while ours waits as long as the chain warrants (contracts/chainClients.ts).
  const provider = {
    request: (args: { method: string; params?: unknown }) => ctx.client.request(args as never),
  };
  const kitFor = (key: Hex) =>
    Safe.init({
      provider,
      signer: key,
      safeAddress: ctx.safe,
      contractNetworks: ctx.contractNetworks,
    });
  let executorKit: Safe;
  let safeTransaction: Awaited<ReturnType<Safe['createTransaction']>>;
  try {
    executorKit = await kitFor(signerKeys[0]!);
    safeTransaction = await executorKit.createTransaction({
      transactions: prepared.calls.map((c) => ({
        to: c.to,
        value: c.value.toString(),
        data: c.data,
        operation: c.operation,
      })),
      onlyCalls: true,
      options: { nonce: Number(prepared.safeTx.nonce), safeTxGas: '0' },
    });
  } catch (error) {
    throw new ChainError('protocol-kit could not build the Safe transaction', { cause: error });
  }
  const kitHash = (await executorKit.getTransactionHash(safeTransaction)) as Hex;
  if (
    !sameSafeTx(prepared.safeTx, safeTransaction.data) ||
    kitHash.toLowerCase() !== prepared.safeTxHash.toLowerCase()
  ) {
    throw new RefusedError(
      `protocol-kit built a different transaction (${kitHash}) than the voted one (${prepared.safeTxHash})`,
    );
  }

  for (const { owner, signature } of collected)
    safeTransaction.addSignature(new EthSafeSignature(owner, signature));
  try {
    for (const key of signerKeys) {
      const kit = key === signerKeys[0] ? executorKit : await kitFor(key);
      safeTransaction = await kit.signTransaction(safeTransaction);
    }
  } catch (error) {
    throw new ChainError('collecting owner signatures failed', { cause: error });
  }

  const before = await readHoldings(ctx.client, { safe: ctx.safe, tokens: ctx.tokens });
  let transactionHash: Hex;
  try {
    const result = await executorKit.executeTransaction(safeTransaction);
    transactionHash = result.hash as Hex;
  } catch (error) {
    return policyRefusalNow(
      ctx,
      prepared,
      new ChainError(`executing the Safe transaction failed: ${revertReason(error)}`, { cause: error }),
    );
  }
  const receipt = await waitForReceipt(ctx.client, {
    hash: transactionHash,
    step: `executing the Safe transaction ${prepared.safeTxHash}`,
    hint: 'it was sent and may still confirm: run the agent again, which looks for it on chain first and never executes the voted batch twice',
  });
  const executed = executedSafeTx(receipt.logs, prepared.safeTxHash, ctx.safe);
  if (receipt.status !== 'success' || !executed) {
    return policyRefusalNow(
      ctx,
      prepared,
      new ChainError(
        `transaction ${transactionHash} did not execute the Safe transaction ${prepared.safeTxHash}`,
      ),
    );
  }
  const after = await readHoldings(ctx.client, {
    safe: ctx.safe,
    tokens: ctx.tokens,
    blockNumber: receipt.blockNumber,
  });
  const balanceChanges: Record<string, BalanceChange> = {};
  for (const token of ctx.tokens) {
    const b = before.holdings[token.symbol]!.amount;
    const a = after.holdings[token.symbol]!.amount;
    balanceChanges[token.symbol] = {
      symbol: token.symbol,
      decimals: token.decimals,
      before: b,
      after: a,
      delta: a - b,
    };
  }
  return {
    safeTxHash: prepared.safeTxHash,
    nonce: prepared.safeTx.nonce,
    transactionHash,
    policySwaps: ctx.swapper ? policySwapsIn(receipt.logs, ctx.swapper, ctx.safe) : [],
    receipt,
    gasUsed: receipt.gasUsed,
    balanceChanges,
  };
}
