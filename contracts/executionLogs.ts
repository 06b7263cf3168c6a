import {
  type Address,
  type Chain,
  decodeEventLog,
  getAbiItem,
  getAddress,
  type Hex,
  type PublicClient,
  type Transport,
} from 'viem';
import { ChainError } from '../agent/errors.ts';
import { policySwapperAbi, safeAbi } from './abis.ts';

/** Blocks per eth_getLogs request: public RPCs refuse wide ranges (often above 10,000 or 50,000 blocks). */
export const LOG_CHUNK_BLOCKS = 5_000n;

export type ExecutionFound = {
  transactionHash: Hex;
  blockNumber: bigint;
  /** The safeTxHash the Safe executed (ExecutionSuccess in the same transaction). */
  safeTxHash: Hex | undefined;
};

/**
 * Where PolicySwapper executed `decisionHash` for `safe` (its DecisionExecuted event), searching from
 * `fromBlock` (the block the decision was planned at) to the latest block in chunks, newest chunk first.
 */
export async function findDecisionExecution(
  client: PublicClient<Transport, Chain>,
  params: { swapper: Address; safe: Address; decisionHash: Hex; fromBlock: bigint },
): Promise<ExecutionFound | undefined> {
  const event = getAbiItem({ abi: policySwapperAbi, name: 'DecisionExecuted' });
  const latest = await client.getBlockNumber().catch((error: unknown) => {
    throw new ChainError('cannot read the latest block from the RPC', {
      cause: error,
      hint: 'is the node up?',
    });
  });
  for (let to = latest; to >= params.fromBlock; to -= LOG_CHUNK_BLOCKS) {
    const from =
      to - LOG_CHUNK_BLOCKS + 1n > params.fromBlock ? to - LOG_CHUNK_BLOCKS + 1n : params.fromBlock;
    let logs: Awaited<ReturnType<typeof client.getLogs<typeof event>>>;
    try {
      logs = await client.getLogs({
        address: params.swapper,
        event,
        args: { caller: params.safe, decisionHash: params.decisionHash },
        fromBlock: from,
        toBlock: to,
      });
    } catch (error) {
      throw new ChainError(`cannot read PolicySwapper's logs for blocks ${from}–${to}`, {
        cause: error,
        hint: 'is the RPC up? it must serve eth_getLogs over ranges of a few thousand blocks',
      });
    }
    const log = logs[0];
    if (log?.transactionHash) {
      const receipt = await client.getTransactionReceipt({ hash: log.transactionHash });
      const success = receipt.logs.find((l) => executedSafeTxHashOf(l, params.safe));
      return {
        transactionHash: log.transactionHash,
        blockNumber: receipt.blockNumber,
        safeTxHash: success ? executedSafeTxHashOf(success, params.safe) : undefined,
      };
    }
    if (from === params.fromBlock) break;
  }
  return undefined;
}

/** The safeTxHash of a Safe's ExecutionSuccess log, if `log` is one emitted by `safe`. */
function executedSafeTxHashOf(
  log: { address: Address; data: Hex; topics: readonly Hex[] },
  safe: Address,
): Hex | undefined {
  if (getAddress(log.address) !== getAddress(safe)) return undefined;
  try {
    const event = decodeEventLog({ abi: safeAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]] });
    return event.eventName === 'ExecutionSuccess' ? event.args.txHash : undefined;
  } catch {
    return undefined;
  }
}

/** The transaction in which the Safe executed `safeTxHash` (its ExecutionSuccess), searched in chunks. */
export async function findSafeExecution(
  client: PublicClient<Transport, Chain>,
  params: { safe: Address; safeTxHash: Hex; fromBlock: bigint },
): Promise<Hex | undefined> {
  const event = getAbiItem({ abi: safeAbi, name: 'ExecutionSuccess' });
  const latest = await client.getBlockNumber();
  for (let to = latest; to >= params.fromBlock; to -= LOG_CHUNK_BLOCKS) {
    const from =
      to - LOG_CHUNK_BLOCKS + 1n > params.fromBlock ? to - LOG_CHUNK_BLOCKS + 1n : params.fromBlock;
    const logs = await client.getLogs({
      address: params.safe,
      event,
      args: { txHash: params.safeTxHash },
      fromBlock: from,
      toBlock: to,
    });
    if (logs[0]?.transactionHash) return logs[0].transactionHash;
    if (from === params.fromBlock) break;
  }
  return undefined;
}

/** Every decision PolicySwapper executed for `safe` since `fromBlock` (its DecisionExecuted events), in chunks. */
export async function listDecisionExecutions(
  client: PublicClient<Transport, Chain>,
  params: { swapper: Address; safe: Address; fromBlock: bigint },
): Promise<{ decisionHash: Hex; transactionHash: Hex; blockNumber: bigint }[]> {
  const event = getAbiItem({ abi: policySwapperAbi, name: 'DecisionExecuted' });
  const latest = await client.getBlockNumber();
  const found: { decisionHash: Hex; transactionHash: Hex; blockNumber: bigint }[] = [];
  for (let from = params.fromBlock; from <= latest; from += LOG_CHUNK_BLOCKS) {
    const to = from + LOG_CHUNK_BLOCKS - 1n < latest ? from + LOG_CHUNK_BLOCKS - 1n : latest;
    const logs = await client.getLogs({
      address: params.swapper,
      event,
      args: { caller: params.safe },
      fromBlock: from,
      toBlock: to,
    });
    for (const log of logs) {
      if (log.args.decisionHash && log.transactionHash && log.blockNumber !== null) {
        found.push({
          decisionHash: log.args.decisionHash,
          transactionHash: log.transactionHash,
          blockNumber: log.blockNumber,
        });
      }
    }
  }
  return found;
}
