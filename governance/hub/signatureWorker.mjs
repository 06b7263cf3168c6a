// Worker thread of the hub's signature pool (plain JS so it runs without the TypeScript loader).
// Recovers EOA signers from EIP-712 digests and signs relayer receipts, off the main thread.
import { parentPort } from 'node:worker_threads';
import { recoverAddress } from 'viem';
import { signMessage } from 'viem/accounts';

parentPort.on('message', async (task) => {
  try {
    if (task.kind === 'recover') {
      const address = await recoverAddress({ hash: task.hash, signature: task.signature });
      parentPort.postMessage({ id: task.id, ok: true, value: address });
    } else if (task.kind === 'sign') {
      const signature = await signMessage({ message: task.message, privateKey: task.privateKey });
      parentPort.postMessage({ id: task.id, ok: true, value: signature });
    } else {
      parentPort.postMessage({ id: task.id, ok: false, value: `unknown task ${task.kind}` });
    }
  } catch (error) {
    parentPort.postMessage({ id: task.id, ok: false, value: String(error?.message ?? error) });
  }
});
