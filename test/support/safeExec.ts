import { type Address, concat, encodeFunctionData, type Hex, zeroAddress } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { safeAbi } from '../../contracts/abis.ts';
import { safeArtifacts } from '../../contracts/artifacts.ts';
import { makePublicClient, makeWalletClient } from '../../contracts/chainClients.ts';
import { devAccount } from '../../contracts/devAccounts.ts';
import { computeSafeTxHash, SAFE_TX_TYPES, type SafeTxData } from '../../contracts/safeTransaction.ts';

/**
 * Executes a call from the Safe signed by `ownerKeys` (enough of them for the threshold), sent by dev account 9,
 * as stewards would from their wallets. Returns the safeTxHash and the receipt.
 */
export async function execAsOwners(params: {
  chainId: number;
  rpcUrl: string;
  safe: Address;
  ownerKeys: Hex[];
  to: Address;
  data: Hex;
  value?: bigint;
  /** 1 = delegatecall (the voted batch into MultiSendCallOnly). */
  operation?: 0 | 1;
}) {
  const client = makePublicClient(params.chainId, params.rpcUrl);
  const nonce = await client.readContract({ address: params.safe, abi: safeAbi, functionName: 'nonce' });
  const safeTx: SafeTxData = {
    to: params.to,
    value: params.value ?? 0n,
    data: params.data,
    operation: params.operation ?? 0,
    safeTxGas: 0n,
    baseGas: 0n,
    gasPrice: 0n,
    gasToken: zeroAddress,
    refundReceiver: zeroAddress,
    nonce,
  };
  const signed = await Promise.all(
    params.ownerKeys.map(async (key) => {
      const account = privateKeyToAccount(key);
      const signature = await account.signTypedData({
        domain: { chainId: params.chainId, verifyingContract: params.safe },
        types: SAFE_TX_TYPES,
        primaryType: 'SafeTx',
        message: safeTx,
      });
      return { owner: account.address, signature };
    }),
  );
  signed.sort((a, b) => (BigInt(a.owner) < BigInt(b.owner) ? -1 : 1));
  const wallet = makeWalletClient(params.chainId, params.rpcUrl, devAccount(9));
  const hash = await wallet.sendTransaction({
    to: params.safe,
    gas: 3_000_000n,
    data: encodeFunctionData({
      abi: safeArtifacts.safeL2.abi,
      functionName: 'execTransaction',
      args: [
        safeTx.to,
        safeTx.value,
        safeTx.data,
        safeTx.operation,
        safeTx.safeTxGas,
        safeTx.baseGas,
        safeTx.gasPrice,
        safeTx.gasToken,
        safeTx.refundReceiver,
        concat(signed.map((x) => x.signature)),
      ],
    }),
  });
  const receipt = await client.waitForTransactionReceipt({ hash });
  return { safeTxHash: computeSafeTxHash(params.chainId, params.safe, safeTx), receipt };
}
