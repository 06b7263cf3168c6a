import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { RationaleWriter } from '../../agent/draft/types.ts';
import { advanceWithHeartbeats, type LocalStack, startLocalStack } from '../../agent/localStack.ts';
import { buildRuntime, type Runtime } from '../../agent/runtime.ts';
import { DEFAULT_DEVNET_CONFIG } from '../../cli/devnetCommand.ts';
import { loadConfig } from '../../config/loadConfig.ts';
import type { TreasuryAgentConfig } from '../../config/schema.ts';
import type { TransactionService } from '../../contracts/transactionService.ts';
import { chainClock } from '../../governance/clock.ts';
import { createSnapshotClient } from '../../governance/snapshotClient.ts';
import { execAsOwners } from './safeExec.ts';

/** Member stakes (GOV): large enough to reach the example quorum of 1,000,000 in different combinations. */
export const STAKES = [3_000_000, 2_000_000, 1_500_000, 400_000];

export type CycleStack = {
  stack: LocalStack;
  runtime: Runtime;
  dir: string;
  /** Moves the chain (and so the hub and the agent) forward; the feeds post every day's close on the way. */
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
      return advanceWithHeartbeats(stack, seconds);
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
      await runtime.close();
      await stack.stop();
    },
  };
}

/** What test/support/safeExec.ts's execAsOwners needs to act as the stack's owners (the agent and the stewards). */
export function ownersOf(s: Pick<CycleStack, 'stack' | 'runtime'>) {
  return {
    chainId: s.runtime.config.chain.id,
    rpcUrl: s.runtime.config.chain.rpcUrl,
    safe: s.runtime.config.safe.address!,
    ownerKeys: [s.stack.env.TREASURY_AGENT_KEY!, ...s.stack.env.TREASURY_COSIGNER_KEYS!.split(',')] as Hex[],
  };
}

/** A Safe transaction signed by the stack's owners, sent straight to the Safe (as stewards would): its receipt. */
export async function execAsOwnersOf(
  s: Pick<CycleStack, 'stack' | 'runtime'>,
  tx: { to: Hex; data: Hex; operation?: 0 | 1 },
) {
  return (await execAsOwners({ ...ownersOf(s), ...tx })).receipt;
}
