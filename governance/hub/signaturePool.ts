import { Worker } from 'node:worker_threads';
import type { Address, Hex } from 'viem';
import { signatureFunctions } from './nativeSecp256k1.ts';

/**
 * The hub's CPU-heavy signature work: ECDSA public-key recovery and receipt signatures (~0.05 ms each with
 * libsecp256k1, ~3 ms and ~0.7 ms in JS when its binary is missing).
 */
export type SignaturePool = {
  /** The EOA that signed `hash`, or undefined when `signature` is not a valid 65-byte ECDSA signature. */
  recover: (hash: Hex, signature: Hex) => Promise<Address | undefined>;
  /** EIP-191 signature of `message` with the relayer key (the sequencer's receipt). */
  signReceipt: (privateKey: Hex, message: string) => Promise<Hex>;
  close: () => Promise<void>;
};

/** True when libsecp256k1's binary loads here: then the work is cheap enough for the calling thread. */
export const nativeSignatures = (): boolean => signatureFunctions().native;

/** On the calling thread: the default with libsecp256k1, and for the in-memory hub. `native: false` = viem. */
export function inlineSignaturePool(options: { native?: boolean } = {}): SignaturePool {
  const { recover, signReceipt } = signatureFunctions(options);
  return { recover, signReceipt, close: async () => {} };
}

type Pending = { resolve: (value: string | undefined) => void; reject: (error: Error) => void };

/** `size` worker threads; tasks go to the least busy one. Falls back to inline work if a worker dies. */
export function workerSignaturePool(size: number): SignaturePool {
  const inline = inlineSignaturePool();
  const workers = Array.from({ length: size }, () => {
    const worker = new Worker(new URL('./signatureWorker.mjs', import.meta.url));
    worker.unref();
    const pending = new Map<number, Pending>();
    const entry = { worker, pending, alive: true };
    worker.on('message', (reply: { id: number; ok: boolean; value: string }) => {
      const task = pending.get(reply.id);
      pending.delete(reply.id);
      if (!task) return;
      if (reply.ok) task.resolve(reply.value);
      else task.resolve(undefined);
    });
    const fail = (error: Error) => {
      entry.alive = false;
      for (const task of pending.values()) task.reject(error);
      pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('signature worker exited')));
    return entry;
  });
  let nextId = 0;
  const run = (task: Record<string, unknown>): Promise<string | undefined> | undefined => {
    const live = workers.filter((w) => w.alive);
    if (live.length === 0) return undefined;
    const target = live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      target.pending.set(id, { resolve, reject });
      target.worker.postMessage({ ...task, id });
    });
  };
  return {
    recover: async (hash, signature) => {
      const result = run({ kind: 'recover', hash, signature });
      if (!result) return inline.recover(hash, signature);
      return (await result) as Address | undefined;
    },
    signReceipt: async (privateKey, message) => {
      const result = run({ kind: 'sign', privateKey, message });
      const value = result ? await result : undefined;
      return (value as Hex | undefined) ?? inline.signReceipt(privateKey, message);
    },
    close: async () => {
      await Promise.all(
        workers.map(async (w) => {
          w.alive = false;
          await w.worker.terminate();
        }),
      );
    },
  };
}
