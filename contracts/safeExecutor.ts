import SafeImport, { type ContractNetworksConfig, EthSafeSignature } from '@safe-global/protocol-kit';
import {
  type Address,
  type Chain,
  getAddress,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ChainError, RefusedError, TreasuryError } from '../agent/errors.ts';
import { executedSafeTx } from './safeEvents.ts';
import {
  buildRebalanceTx,
  type RebalanceTx,
  type SafeTxData,
  type SwapInstruction,
  type SwapRoute,
} from './safeTransaction.ts';
import { type OwnerSignature, verifiedSignatures } from './transactionService.ts';
import { readHoldings, readSafeState, type SafeStateReading, type TokenRef } from './treasuryReads.ts';

// protocol-kit's types describe a CommonJS module; under ESM its default export is the Safe class itself.
const Safe = SafeImport as unknown as typeof SafeImport.default;
type Safe = InstanceType<typeof Safe>;

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

/** What the executor may touch and where: the Safe, its chain, and the allowlists from config. */
export type ExecutorContext = {
  client: PublicClient<Transport, Chain>;
  rpcUrl: string;
  chainId: number;
  safe: Address;
  router: Address;
  factory: Address;
  multiSendCallOnly: Address;
  /** For chains without a safe-deployments entry (the devnet). */
  contractNetworks?: ContractNetworksConfig;
  /** Every token the treasury holds and may trade (the allowlist), with decimals for balance reports. */
  tokens: TokenRef[];
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

export type PreparedRebalance = RebalanceTx & { safeState: SafeStateReading };

export type BalanceChange = {
  symbol: string;
  decimals: number;
  before: bigint;
  after: bigint;
  delta: bigint;
};

export type RebalanceExecution = {
  safeTxHash: Hex;
  transactionHash: Hex;
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
        `swap ${i + 1}: sells ${swap.amountIn} base units of ${token.symbol} but the Safe will hold only ${available}`,
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
export async function simulateInnerCalls(ctx: ExecutorContext, tx: RebalanceTx): Promise<bigint[]> {
  let results: Awaited<ReturnType<PublicClient['simulateCalls']>>['results'];
  try {
    ({ results } = await ctx.client.simulateCalls({
      account: ctx.safe,
      calls: tx.calls.map((call) => ({ to: call.to, data: call.data, value: call.value })),
    }));
  } catch (error) {
    throw new ChainError('the RPC could not simulate the calls (eth_simulateV1)', {
      cause: error,
      hint: 'use a node that supports eth_simulateV1 (anvil, geth, reth); nothing was sent',
    });
  }
  results.forEach((result, i) => {
    if (result.status !== 'success') {
      throw new SimulationError(
        i,
        tx.callLabels[i] ?? `call ${i + 1}`,
        revertReason(result.error),
        result.error,
      );
    }
  });
  return results.map((r) => r.gasUsed);
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

/**
 * Prepares (all refusals above), checks the signers (each an owner; at least the threshold of them), simulates
 * the inner calls, has protocol-kit rebuild the same transaction (same hash, or refused), collects the owners'
 * EIP-712 signatures, executes from the first signer, and reports the balance changes.
 */
export async function executeRebalance(
  ctx: ExecutorContext,
  request: RebalanceRequest,
  signerKeys: Hex[],
  /** Owners' signatures collected elsewhere (the Safe Transaction Service); each must recover to its owner. */
  collectedSignatures: OwnerSignature[] = [],
): Promise<RebalanceExecution> {
  const prepared = await prepareRebalance(ctx, request);
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

  const kitFor = (key: Hex) =>
    Safe.init({
      provider: ctx.rpcUrl,
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
    throw new ChainError(`executing the Safe transaction failed: ${revertReason(error)}`, { cause: error });
  }
  const receipt = await ctx.client.waitForTransactionReceipt({ hash: transactionHash });
  const executed = executedSafeTx(receipt.logs, prepared.safeTxHash, ctx.safe);
  if (receipt.status !== 'success' || !executed) {
    throw new ChainError(
      `transaction ${transactionHash} did not execute the Safe transaction ${prepared.safeTxHash}`,
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
    transactionHash,
    receipt,
    gasUsed: receipt.gasUsed,
    balanceChanges,
  };
}
