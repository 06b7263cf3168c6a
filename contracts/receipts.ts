import type { Chain, Hex, PublicClient, TransactionReceipt, Transport } from 'viem';
import { ChainError } from '../shared/errors.ts';

/** How long a sent transaction may take to confirm before the step gives up: generous, on any chain. */
export const CONFIRMATION_TIMEOUT_MS = 10 * 60_000;
/** Read errors in a row (a node restarting, a network blip) tolerated while waiting. */
const READ_FAILURES_TOLERATED = 8;

export type WaitForReceiptParameters = {
  hash: Hex;
  /** What the transaction does, for people: "deploying PolicySwapper", "executing the Safe transaction". */
  step: string;
  /** What to do if it does not confirm in time (default: check the node, then look the transaction up). */
  hint?: string;
  /** Default CONFIRMATION_TIMEOUT_MS. */
  timeoutMs?: number;
};

/** A sent transaction was not confirmed in time: names the step, the transaction and what to do. */
export class ConfirmationTimeoutError extends ChainError {
  override name = 'ConfirmationTimeoutError';
  readonly step: string;
  readonly hash: Hex;
  constructor(step: string, hash: Hex, waitedMs: number, hint?: string, cause?: unknown) {
    super(`${step}: transaction ${hash} was not confirmed within ${Math.round(waitedMs / 1000)} s`, {
      cause,
      hint:
        hint ??
        'the node is slow or stuck: check that it is up and not starved of CPU; the transaction may still confirm, so look it up before sending anything again',
    });
    this.step = step;
    this.hash = hash;
  }
}

const named = (error: unknown, ...names: string[]) =>
  error instanceof Error && names.includes((error as { name: string }).name);

/**
 * Waits until `hash` has a receipt, asking for it directly (a local chain mines no further block to wake a
 * block watcher up), from the client's polling interval backing off to 1 s. A missing receipt keeps waiting
 * until `timeoutMs`, then throws ConfirmationTimeoutError; read errors are tolerated a few times in a row, then
 * throw a ChainError naming the step. Viem's `waitForTransactionReceipt` gives up after a fixed 180 s with a
 * message that names no step.
 *
 * @example
 * const receipt = await waitForReceipt(client, { hash, step: 'deploying PolicySwapper' });
 */
export async function waitForReceipt(
  client: PublicClient<Transport, Chain>,
  { hash, step, hint, timeoutMs = CONFIRMATION_TIMEOUT_MS }: WaitForReceiptParameters,
): Promise<TransactionReceipt> {
  const started = Date.now();
  let delay = client.pollingInterval;
  let failures = 0;
  let lastError: unknown;
  for (;;) {
    try {
      return await client.getTransactionReceipt({ hash });
    } catch (error) {
      if (named(error, 'TransactionReceiptNotFoundError')) {
        failures = 0;
      } else if (++failures > READ_FAILURES_TOLERATED) {
        throw new ChainError(`${step}: cannot read the receipt of ${hash}`, {
          cause: error,
          hint: 'is the RPC up? the transaction was sent and may confirm: look it up before sending it again',
        });
      }
      lastError = error;
    }
    const waited = Date.now() - started;
    if (waited >= timeoutMs) throw new ConfirmationTimeoutError(step, hash, waited, hint, lastError);
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, timeoutMs - waited)));
    delay = Math.min(delay * 1.5, Math.max(1_000, client.pollingInterval));
  }
}
