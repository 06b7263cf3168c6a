import { type Address, getAddress, type Hex, recoverAddress } from 'viem';
import { ChainError } from '../agent/errors.ts';
import { type SafeTxData, safeTxToJson } from './safeTransaction.ts';

/**
 * Where the Safe's other owners add their signatures (production: the Safe Transaction Service). The agent
 * proposes the voted transaction with its own signature; co-signers confirm in their wallets; the agent reads
 * the confirmations back and executes once the threshold is met. Two adapters: `apiKitTransactionService`
 * (@safe-global/api-kit) and `memoryTransactionService` (tests and local runs).
 */
export type OwnerSignature = { owner: Address; signature: Hex };

export type TransactionService = {
  name: string;
  /** Proposes `safeTx` with the sender's signature; proposing the same safeTxHash again is a no-op. */
  propose: (input: {
    safe: Address;
    safeTx: SafeTxData;
    safeTxHash: Hex;
    sender: Address;
    senderSignature: Hex;
  }) => Promise<void>;
  /** The owners' signatures collected so far for `safeTxHash` (empty when unknown). */
  confirmations: (safeTxHash: Hex) => Promise<OwnerSignature[]>;
};

/** Keeps only signatures that recover to their owner over safeTxHash (an EIP-712 digest): forged ones never count. */
export async function verifiedSignatures(
  safeTxHash: Hex,
  signatures: OwnerSignature[],
): Promise<OwnerSignature[]> {
  const valid: OwnerSignature[] = [];
  for (const s of signatures) {
    try {
      if ((await recoverAddress({ hash: safeTxHash, signature: s.signature })) === getAddress(s.owner))
        valid.push(s);
    } catch {
      // malformed signature: not counted
    }
  }
  return valid;
}

export function memoryTransactionService(): TransactionService & {
  confirm: (safeTxHash: Hex, owner: Address, signature: Hex) => void;
  proposed: (safeTxHash: Hex) => boolean;
} {
  const store = new Map<string, Map<Address, Hex>>();
  return {
    name: 'memory',
    async propose(input) {
      const key = input.safeTxHash.toLowerCase();
      const confirmations = store.get(key) ?? new Map<Address, Hex>();
      confirmations.set(getAddress(input.sender), input.senderSignature);
      store.set(key, confirmations);
    },
    async confirmations(safeTxHash) {
      return [...(store.get(safeTxHash.toLowerCase()) ?? new Map()).entries()].map(([owner, signature]) => ({
        owner,
        signature,
      }));
    },
    confirm(safeTxHash, owner, signature) {
      const confirmations = store.get(safeTxHash.toLowerCase());
      if (!confirmations) throw new Error(`unknown transaction ${safeTxHash}`);
      confirmations.set(getAddress(owner), signature);
    },
    proposed: (safeTxHash) => store.has(safeTxHash.toLowerCase()),
  };
}

/** The Safe Transaction Service through @safe-global/api-kit (loaded on first use). */
export function apiKitTransactionService(options: {
  chainId: number;
  txServiceUrl?: string;
  apiKey?: string;
}): TransactionService {
  type ApiKit = {
    getTransaction: (hash: string) => Promise<{ confirmations?: { owner: string; signature: string }[] }>;
    proposeTransaction: (props: {
      safeAddress: string;
      safeTransactionData: Record<string, unknown>;
      safeTxHash: string;
      senderAddress: string;
      senderSignature: string;
      origin?: string;
    }) => Promise<void>;
  };
  let kit: Promise<ApiKit> | undefined;
  const load = () => {
    kit ??= import('@safe-global/api-kit').then((m) => {
      const SafeApiKit = ((m as unknown as { default: { default?: unknown } }).default.default ??
        m.default) as new (
        config: Record<string, unknown>,
      ) => ApiKit;
      return new SafeApiKit({
        chainId: BigInt(options.chainId),
        txServiceUrl: options.txServiceUrl,
        apiKey: options.apiKey,
      });
    });
    return kit;
  };
  const notFound = (error: unknown) => /not found|404/i.test(String((error as Error)?.message ?? error));
  return {
    name: `safe-transaction-service${options.txServiceUrl ? ` ${options.txServiceUrl}` : ''}`,
    async propose(input) {
      const api = await load();
      try {
        await api.getTransaction(input.safeTxHash);
        return; // already proposed
      } catch (error) {
        if (!notFound(error))
          throw new ChainError('the Safe Transaction Service did not answer', { cause: error });
      }
      const json = safeTxToJson(input.safeTx);
      try {
        await api.proposeTransaction({
          safeAddress: input.safe,
          safeTransactionData: { ...json, operation: input.safeTx.operation },
          safeTxHash: input.safeTxHash,
          senderAddress: input.sender,
          senderSignature: input.senderSignature,
          origin: 'dao-treasury-agent',
        });
      } catch (error) {
        throw new ChainError('proposing to the Safe Transaction Service failed', { cause: error });
      }
    },
    async confirmations(safeTxHash) {
      const api = await load();
      try {
        const tx = await api.getTransaction(safeTxHash);
        return (tx.confirmations ?? []).map((c) => ({
          owner: getAddress(c.owner),
          signature: c.signature as Hex,
        }));
      } catch (error) {
        if (notFound(error)) return [];
        throw new ChainError('the Safe Transaction Service did not answer', { cause: error });
      }
    },
  };
}
