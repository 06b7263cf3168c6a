// Worker thread of the hub's signature pool (plain JS so it runs without the TypeScript loader).
// Recovers EOA signers from EIP-712 digests and signs relayer receipts, off the main thread: with libsecp256k1
// when its binary loads, the same way as nativeSecp256k1.ts (keep the two in step), else with viem.
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { hashMessage, hexToBytes, recoverAddress } from 'viem';
import { publicKeyToAddress, signMessage } from 'viem/accounts';

let lib;
try {
  lib = createRequire(import.meta.url)('secp256k1/bindings.js');
} catch {
  lib = undefined;
}
const HEX_SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
const HEX_HASH = /^0x[0-9a-fA-F]{64}$/;

async function recover(hash, signature) {
  if (!lib || !HEX_SIGNATURE.test(signature) || !HEX_HASH.test(hash))
    return recoverAddress({ hash, signature });
  const v = Number.parseInt(signature.slice(130), 16);
  const recid = v === 0 || v === 27 ? 0 : v === 1 || v === 28 ? 1 : undefined;
  if (recid === undefined) throw new Error('Invalid yParityOrV value');
  const publicKey = lib.ecdsaRecover(hexToBytes(signature.slice(0, 130)), recid, hexToBytes(hash), false);
  return publicKeyToAddress(`0x${Buffer.from(publicKey).toString('hex')}`);
}

async function sign(privateKey, message) {
  if (!lib) return signMessage({ message, privateKey });
  const { signature, recid } = lib.ecdsaSign(hexToBytes(hashMessage(message)), hexToBytes(privateKey));
  return `0x${Buffer.from(signature).toString('hex')}${recid ? '1c' : '1b'}`;
}

parentPort.on('message', async (task) => {
  try {
    if (task.kind === 'recover') {
      parentPort.postMessage({ id: task.id, ok: true, value: await recover(task.hash, task.signature) });
    } else if (task.kind === 'sign') {
      parentPort.postMessage({ id: task.id, ok: true, value: await sign(task.privateKey, task.message) });
    } else {
      parentPort.postMessage({ id: task.id, ok: false, value: `unknown task ${task.kind}` });
    }
  } catch (error) {
    parentPort.postMessage({ id: task.id, ok: false, value: String(error?.message ?? error) });
  }
});
