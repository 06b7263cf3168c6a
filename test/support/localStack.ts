import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, concat, encodeFunctionData, type Hex, zeroAddress } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { RationaleWriter } from '../../agent/draft/types.ts';
import { type LocalStack, postFeedPrices, startLocalStack } from '../../agent/localStack.ts';
import { buildRuntime, type Runtime } from '../../agent/runtime.ts';
import { loadConfig } from '../../config/loadConfig.ts';
import type { TreasuryAgentConfig } from '../../config/schema.ts';
import { safeArtifacts } from '../../contracts/artifacts.ts';
import { makeWalletClient } from '../../contracts/chainClients.ts';
import { advanceChainTime } from '../../contracts/chainTime.ts';
import { devAccount } from '../../contracts/devAccounts.ts';
import { DEFAULT_DEVNET_CONFIG } from '../../contracts/devnetCommand.ts';
import { SAFE_TX_TYPES } from '../../contracts/safeTransaction.ts';
import type { TransactionService } from '../../contracts/transactionService.ts';
import { readSafeState } from '../../contracts/treasuryReads.ts';
import { chainClock } from '../../governance/clock.ts';
import { createSnapshotClient } from '../../governance/snapshotClient.ts';

/** Member stakes (GOV): large enough to reach the example quorum of 1,000,000 in different combinations. */
export const STAKES = [3_000_000, 2_000_000, 1_500_000, 400_000];

export type CycleStack = {
  stack: LocalStack;
  runtime: Runtime;
  dir: string;
  /** Moves the chain (and so the hub and the agent) forward. */
  advance: (seconds: number) => Promise<number>;
  /** Member i votes 1 = For, 2 = Against, 3 = Abstain through snapshot.js. */
  vote: (member: number, proposal: string, choice: 1 | 2 | 3) => Promise<void>;
  stop: () => Promise<void>;
};

export async function startCycleStack(
  edit: (config: TreasuryAgentConfig) => TreasuryAgentConfig = (c) => c,
  options: { writer?: RationaleWriter; transactionService?: TransactionService } = {},
): Promise<CycleStack> {
  const dir = mkdtempSync(join(tmpdir(), 'cycle-'));
  const base = await loadConfig(DEFAULT_DEVNET_CONFIG);
  const config = edit({
    ...base,
    mode: 'live',
    state: { ledgerPath: join(dir, 'ledger.db'), auditLogPath: join(dir, 'audit.jsonl') },
  });
  const stack = await startLocalStack({ config, memberStakes: STAKES, hubDbPath: join(dir, 'hub.db') });
  const runtime = await buildRuntime({
    config: stack.config,
    env: stack.env,
    contractNetworks: stack.contractNetworks,
    writer: options.writer,
    transactionService: options.transactionService,
  });
  const clock = chainClock(stack.config.chain.rpcUrl);
  return {
    stack,
    runtime,
    dir,
    async advance(seconds) {
      const now = await advanceChainTime(runtime.client, seconds);
      await postFeedPrices(stack);
      return now;
    },
    async vote(member, proposal, choice) {
      const voter = createSnapshotClient({
        hubUrl: stack.hub.url,
        account: privateKeyToAccount(stack.members[member]!.key),
        clock,
      });
      await voter.vote({ space: stack.config.governance.space, proposal, choice });
    },
    async stop() {
      runtime.close();
      await stack.stop();
    },
  };
}

/**
 * A Safe transaction signed by the owners that hold keys in the stack (the agent and the stewards), sent
 * straight to the Safe: what owners do outside the agent (a payroll, a new owner, a module). Gas is given, so
 * a reverting transaction is mined (its receipt says so) rather than refused by estimation.
 */
export async function execAsOwners(
  s: Pick<CycleStack, 'stack' | 'runtime'>,
  tx: { to: Address; data: Hex; value?: bigint; operation?: 0 | 1 },
) {
  const safe = s.runtime.config.safe.address!;
  const { nonce } = await readSafeState(s.runtime.client, { safe });
  const safeTx = {
    to: tx.to,
    value: tx.value ?? 0n,
    data: tx.data,
    operation: tx.operation ?? 0,
    safeTxGas: 0n,
    baseGas: 0n,
    gasPrice: 0n,
    gasToken: zeroAddress,
    refundReceiver: zeroAddress,
    nonce,
  };
  const keys = [s.stack.env.TREASURY_AGENT_KEY!, ...s.stack.env.TREASURY_COSIGNER_KEYS!.split(',')] as Hex[];
  const signed = await Promise.all(
    keys.map(async (key) => {
      const account = privateKeyToAccount(key);
      const signature = await account.signTypedData({
        domain: { chainId: s.runtime.config.chain.id, verifyingContract: safe },
        types: SAFE_TX_TYPES,
        primaryType: 'SafeTx',
        message: safeTx,
      });
      return { owner: account.address, signature };
    }),
  );
  signed.sort((a, b) => (BigInt(a.owner) < BigInt(b.owner) ? -1 : 1));
  const wallet = makeWalletClient(s.runtime.config.chain.id, s.runtime.config.chain.rpcUrl, devAccount(9));
  const hash = await wallet.sendTransaction({
    to: safe,
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
  return s.runtime.client.waitForTransactionReceipt({ hash });
}
