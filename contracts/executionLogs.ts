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
import { ChainError } from '../shared/errors.ts';
import { policySwapperAbi, safeAbi } from './abis.ts';

/**
 * Blocks per eth_getLogs request to start with (`chain.logChunkBlocks`): public RPCs refuse wide ranges (free
 * tiers from 500 to 10,000 or 50,000 blocks). A range the RPC refuses is split in half and asked again, and the
 * smaller size kept for the rest of the scan, so any limit works; a right-sized start saves the refused requests.
 */
export const LOG_CHUNK_BLOCKS = 5_000n;

/** How a scan reads logs: from a block (never 0 on a live chain: the block the decision was planned at). */
export type LogScan = { fromBlock: bigint; chunkBlocks?: bigint };

/** Whether an eth_getLogs error says the range (or its result) is too large, as public RPCs word it. */
export function isRangeRefusal(error: unknown): boolean {
  const e = error as { message?: string; details?: string; code?: number; cause?: unknown };
  const text = `${e?.message ?? ''} ${e?.details ?? ''} ${(e?.cause as { message?: string })?.message ?? ''}`;
  return (
    e?.code === -32005 ||
    /block range|range (is )?too|too (many|large|wide|big)|exceed|more than \d|max(imum)? (block|range|results)|limited to|response size|query timeout/i.test(
      text,
    )
  );
}

/**
 * Calls `read(from, to)` over [fromBlock, toBlock] in ranges of at most `chunkBlocks`, newest or oldest first,
 * until `done` says so; a refused range is halved and asked again (down to one block).
 */
async function inRanges<T>(
  params: { fromBlock: bigint; toBlock: bigint; chunkBlocks?: bigint; newestFirst: boolean; what: string },
  read: (from: bigint, to: bigint) => Promise<T>,
  done: (result: T) => boolean,
): Promise<T[]> {
  let chunk = params.chunkBlocks && params.chunkBlocks > 0n ? params.chunkBlocks : LOG_CHUNK_BLOCKS;
  const results: T[] = [];
  let cursor = params.newestFirst ? params.toBlock : params.fromBlock;
  const inside = () => (params.newestFirst ? cursor >= params.fromBlock : cursor <= params.toBlock);
  while (inside()) {
    const from = params.newestFirst
      ? cursor - chunk + 1n > params.fromBlock
        ? cursor - chunk + 1n
        : params.fromBlock
      : cursor;
    const to = params.newestFirst
      ? cursor
      : cursor + chunk - 1n < params.toBlock
        ? cursor + chunk - 1n
        : params.toBlock;
    let result: T;
    try {
      result = await read(from, to);
    } catch (error) {
      const span = to - from + 1n;
      if (span > 1n && isRangeRefusal(error)) {
        chunk = span / 2n; // the refused range, halved; kept for the rest of the scan
        continue;
      }
      throw new ChainError(`cannot read ${params.what} for blocks ${from}–${to}`, {
        cause: error,
        hint: 'is the RPC up? it must serve eth_getLogs (set chain.logChunkBlocks to the range it allows)',
      });
    }
    results.push(result);
    if (done(result)) break;
    cursor = params.newestFirst ? from - 1n : to + 1n;
  }
  return results;
}

async function latestBlock(client: PublicClient<Transport, Chain>): Promise<bigint> {
  return client.getBlockNumber().catch((error: unknown) => {
    throw new ChainError('cannot read the latest block from the RPC', {
      cause: error,
      hint: 'is the node up?',
    });
  });
}

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
  params: LogScan & { swapper: Address; safe: Address; decisionHash: Hex },
): Promise<ExecutionFound | undefined> {
  const event = getAbiItem({ abi: policySwapperAbi, name: 'DecisionExecuted' });
  const pages = await inRanges(
    { ...params, toBlock: await latestBlock(client), newestFirst: true, what: "PolicySwapper's logs" },
    (fromBlock, toBlock) =>
      client.getLogs({
        address: params.swapper,
        event,
        args: { caller: params.safe, decisionHash: params.decisionHash },
        fromBlock,
        toBlock,
      }),
    (logs) => logs.some((log) => !!log.transactionHash),
  );
  const log = pages.flat().find((l) => !!l.transactionHash);
  if (!log?.transactionHash) return undefined;
  const receipt = await client.getTransactionReceipt({ hash: log.transactionHash });
  const success = receipt.logs.find((l) => executedSafeTxHashOf(l, params.safe));
  return {
    transactionHash: log.transactionHash,
    blockNumber: receipt.blockNumber,
    safeTxHash: success ? executedSafeTxHashOf(success, params.safe) : undefined,
  };
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
  params: LogScan & { safe: Address; safeTxHash: Hex },
): Promise<Hex | undefined> {
  const event = getAbiItem({ abi: safeAbi, name: 'ExecutionSuccess' });
  const pages = await inRanges(
    { ...params, toBlock: await latestBlock(client), newestFirst: true, what: "the Safe's logs" },
    (fromBlock, toBlock) =>
      client.getLogs({
        address: params.safe,
        event,
        args: { txHash: params.safeTxHash },
        fromBlock,
        toBlock,
      }),
    (logs) => logs.some((log) => !!log.transactionHash),
  );
  return pages.flat().find((l) => !!l.transactionHash)?.transactionHash ?? undefined;
}

/** Every decision PolicySwapper executed for `safe` since `fromBlock` (its DecisionExecuted events), in chunks. */
export async function listDecisionExecutions(
  client: PublicClient<Transport, Chain>,
  params: LogScan & { swapper: Address; safe: Address },
): Promise<{ decisionHash: Hex; transactionHash: Hex; blockNumber: bigint }[]> {
  const event = getAbiItem({ abi: policySwapperAbi, name: 'DecisionExecuted' });
  const pages = await inRanges(
    { ...params, toBlock: await latestBlock(client), newestFirst: false, what: "PolicySwapper's logs" },
    (fromBlock, toBlock) =>
      client.getLogs({ address: params.swapper, event, args: { caller: params.safe }, fromBlock, toBlock }),
    () => false,
  );
  const found: { decisionHash: Hex; transactionHash: Hex; blockNumber: bigint }[] = [];
  for (const log of pages.flat()) {
    if (log.args.decisionHash && log.transactionHash && log.blockNumber !== null) {
      found.push({
        decisionHash: log.args.decisionHash,
        transactionHash: log.transactionHash,
        blockNumber: log.blockNumber,
      });
    }
  }
  return found;
}
