import { type Address, decodeEventLog, getAddress, type Hex, type Log } from 'viem';
import { safeAbi } from './abis.ts';

/**
 * Whether a receipt's logs hold the Safe's ExecutionSuccess for `safeTxHash`: the proof that this transaction
 * executed that Safe transaction. With `safe`, only events emitted by that Safe count.
 */
export function executedSafeTx(
  logs: readonly Pick<Log, 'address' | 'data' | 'topics'>[],
  safeTxHash: Hex | string,
  safe?: Address,
): boolean {
  return logs.some((log) => {
    if (safe && getAddress(log.address) !== getAddress(safe)) return false;
    try {
      const event = decodeEventLog({ abi: safeAbi, data: log.data, topics: log.topics });
      return (
        event.eventName === 'ExecutionSuccess' && event.args.txHash.toLowerCase() === safeTxHash.toLowerCase()
      );
    } catch {
      return false;
    }
  });
}
