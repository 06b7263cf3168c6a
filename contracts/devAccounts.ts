import { type HDAccount, mnemonicToAccount } from 'viem/accounts';
import { ANVIL_TEST_MNEMONIC } from './anvil.ts';

/**
 * anvil's development accounts (public keys from its published test mnemonic). Only for the local devnet
 * (chain 31337): real deployments take keys from the environment (agent/secrets.ts).
 * Index 0 deploys the devnet; 1 is the agent, 2 and 3 the stewards in config/examples/devnet.yaml; 4+ are members.
 */
export function devAccount(index: number): HDAccount {
  return mnemonicToAccount(ANVIL_TEST_MNEMONIC, { addressIndex: index });
}

/** The private key of a development account, for protocol-kit's signer (which takes a hex key). */
export function devPrivateKey(index: number): `0x${string}` {
  const key = devAccount(index).getHdKey().privateKey;
  if (!key) throw new Error(`no private key for dev account ${index}`);
  return `0x${Buffer.from(key).toString('hex')}`;
}
