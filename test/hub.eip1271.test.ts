import {
  type Address,
  createWalletClient,
  encodeFunctionData,
  type Hex,
  hashTypedData,
  http,
  zeroAddress,
} from 'viem';
import { foundry } from 'viem/chains';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeArtifacts } from '../contracts/artifacts.ts';
import { manualClock } from '../governance/clock.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { Client712, messageId } from '../governance/snapshotProtocol.ts';
import { devAccount, devSpace, type GovernanceChain, startGovernanceChain } from '../governance/testing.ts';

/**
 * A Safe (v1.4.1, real contracts on anvil) votes: its owner signs the Safe's EIP-712 SafeMessage over the Snapshot
 * message id, and the hub checks it with EIP-1271 isValidSignature on the chain.
 */
describe('local hub: EIP-1271 contract signers', () => {
  let chain: GovernanceChain;
  let hub: HubInstance;
  let safe: Address;
  const clock = manualClock(Math.floor(Date.now() / 1000));

  beforeAll(async () => {
    chain = await startGovernanceChain({ accounts: 3 });
    const deployer = devAccount(0);
    const wallet = createWalletClient({
      account: deployer,
      chain: { ...foundry, id: chain.anvil.chainId },
      transport: http(chain.anvil.rpcUrl),
    });
    const deploy = async (artifact: { abi: unknown; bytecode: Hex }) => {
      const hash = await wallet.deployContract({ abi: artifact.abi as never, bytecode: artifact.bytecode });
      return (await chain.publicClient.waitForTransactionReceipt({ hash })).contractAddress as Address;
    };
    const singleton = await deploy(safeArtifacts.safeL2);
    const factory = await deploy(safeArtifacts.proxyFactory);
    const handler = await deploy(safeArtifacts.fallbackHandler);
    const setup = encodeFunctionData({
      abi: safeArtifacts.safeL2.abi,
      functionName: 'setup',
      args: [[devAccount(1).address], 1n, zeroAddress, '0x', handler, zeroAddress, 0n, zeroAddress],
    });
    const { result, request } = await chain.publicClient.simulateContract({
      account: deployer,
      address: factory,
      abi: safeArtifacts.proxyFactory.abi,
      functionName: 'createProxyWithNonce',
      args: [singleton, setup, 0n],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract(request) });
    safe = result as Address;
    await chain.mint(safe, '500');
    hub = await startHub({
      spaces: [devSpace(chain)],
      rpcUrl: chain.anvil.rpcUrl,
      dbPath: ':memory:',
      clock,
      onError: () => {},
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await chain?.stop();
  });

  /** What a Safe owner signs for the Safe: the SafeMessage over the Snapshot message id (CompatibilityFallbackHandler). */
  const safeSigner = (ownerIndex: number) => ({
    _signTypedData: async (
      domain: Record<string, unknown>,
      types: Record<string, unknown>,
      message: Record<string, unknown>,
    ) => {
      const id = messageId({ domain: domain as never, types: types as never, message });
      const safeMessageHash = hashTypedData({
        domain: { chainId: chain.anvil.chainId, verifyingContract: safe },
        types: { SafeMessage: [{ name: 'message', type: 'bytes' }] },
        primaryType: 'SafeMessage',
        message: { message: id },
      });
      return devAccount(ownerIndex).sign({ hash: safeMessageHash });
    },
  });

  it("accepts a vote signed by the Safe owner and counts the Safe's balance; refuses another key", async () => {
    const snapshot = await chain.blockNumber();
    const admin = createSnapshotClient({ hubUrl: hub.url, account: devAccount(0), clock });
    const { id } = await admin.propose({
      space: 'treasury.eth',
      title: 'Safe votes',
      body: 'b',
      snapshot,
      timing: { delay: 60, period: 3600 },
    });
    clock.advance(60);
    const timestamp = await clock();
    const vote = (ownerIndex: number) =>
      new Client712(hub.url)
        .vote(safeSigner(ownerIndex) as never, safe, {
          space: 'treasury.eth',
          proposal: id,
          choice: 1,
          timestamp,
        } as never)
        .catch((e: unknown) => e);
    expect(await vote(2)).toEqual({
      error: 'client_error',
      error_description: 'signature validation failed',
    });
    const accepted = (await vote(1)) as { id: string };
    expect(accepted.id).toMatch(/^0x[0-9a-f]{64}$/);
    const votes = await admin.getVotes(id);
    expect(votes.map((v) => [v.voter, v.vp])).toEqual([[safe, 500]]);
  });
});
