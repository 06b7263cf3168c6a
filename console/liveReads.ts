import type { Address, Chain, Hex, PublicClient, Transport } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { AuditRecord } from '../agent/auditLog.ts';
import { type AuditSources, type AuditVerification, verifyAudit } from '../agent/auditTools.ts';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { makePublicClient } from '../contracts/chainClients.ts';
import { executedSafeTx } from '../contracts/safeEvents.ts';
import { policySwapsIn } from '../contracts/safeExecutor.ts';
import { createSnapshotClient, type SnapshotClient } from '../governance/snapshotClient.ts';
import { safeText } from './daoSources.ts';
import { choiceName, type ExecutedData, type PolicySwapView, type VoteView } from './daoView.ts';

/**
 * What live mode reads besides the files: the hub (votes of open proposals, the audit heads its proposals
 * carry) and the chain (receipts, PolicySwapper's executions). Reads only: no message is signed or sent, no
 * final scores are requested. Every failure becomes text for the page (URLs redacted), never a crash.
 */

export type LiveLinks = { client: PublicClient<Transport, Chain>; hub: SnapshotClient };

export function liveLinks(config: TreasuryAgentConfig): LiveLinks {
  return {
    client: makePublicClient(config.chain.id, config.chain.rpcUrl),
    // The hub client needs an account to exist; this one is thrown away and never signs anything.
    hub: createSnapshotClient({
      hubUrl: config.governance.hubUrl,
      account: privateKeyToAccount(generatePrivateKey()),
    }),
  };
}

export type LiveVerification = { result: AuditVerification; unreachable: string[] };

/**
 * verifyAudit with every anchor live mode has: the ledger's mirror, the audit heads in the agent's proposals on
 * the hub, PolicySwapper's executions for the Safe, and each executed record's receipt. A source that cannot be
 * reached is left out and named.
 */
export async function liveVerification(
  config: TreasuryAgentConfig,
  links: LiveLinks,
  records: AuditRecord[],
  mirror: AuditSources['mirror'],
): Promise<LiveVerification> {
  const unreachable: string[] = [];
  let hub: AuditSources['hub'];
  let fromBlock = 0n;
  try {
    const proposals = await links.hub.listProposals(config.governance.space, { first: 1000, state: 'all' });
    hub = { proposals, agent: config.safe.agent };
    const own = proposals.filter((p) => p.author.toLowerCase() === config.safe.agent.toLowerCase());
    const first = own.reduce((min, p) => Math.min(min, p.snapshot ?? min), Number.POSITIVE_INFINITY);
    fromBlock = BigInt(Number.isFinite(first) ? first : 0);
  } catch (error) {
    unreachable.push(`the hub: ${safeText(error)}`);
  }
  let client: AuditSources['client'] = links.client;
  try {
    await links.client.getBlockNumber();
  } catch (error) {
    unreachable.push(`the chain: ${safeText(error)}`);
    client = undefined;
  }
  const anchors =
    client && config.execution.policySwapper && config.safe.address
      ? { swapper: config.execution.policySwapper, safe: config.safe.address, fromBlock }
      : undefined;
  const result = await verifyAudit(records, { client, mirror, hub, anchors });
  return { result, unreachable };
}

/** An open vote as the hub has it now: its scores, each ballot, the quorum the agent applies. */
export async function liveVote(
  links: LiveLinks,
  proposalId: string,
  quorum: number,
): Promise<VoteView | { error: string }> {
  try {
    const [proposal, votes] = await Promise.all([
      links.hub.getProposal(proposalId),
      links.hub.getVotes(proposalId),
    ]);
    if (!proposal) return { error: 'the proposal is not on the hub' };
    const [forVotes = 0, against = 0, abstain = 0] = proposal.scores ?? [];
    return {
      source: 'hub (live)',
      hubState: proposal.state ?? undefined,
      tally: {
        for: forVotes,
        against,
        abstain,
        total: proposal.scores_total ?? forVotes + against + abstain,
        quorum,
        votes: proposal.votes ?? votes.length,
      },
      ballots: votes.map((v) => ({ voter: v.voter, choice: choiceName(v.choice), vp: v.vp ?? 0 })),
    };
  } catch (error) {
    return { error: `the hub: ${safeText(error)}` };
  }
}

export type ReceiptView = {
  status: string;
  blockNumber: string;
  gasUsed: string;
  /** The Safe's ExecutionSuccess for the recorded safeTxHash is in the receipt. */
  safeExecuted: boolean;
  /** PolicySwapper's PolicySwap events in the receipt, decoded. */
  swaps: PolicySwapView[];
};

/** The executed record's transaction as the chain has it now. */
export async function liveReceipt(
  links: LiveLinks,
  executed: ExecutedData,
): Promise<ReceiptView | { error: string }> {
  try {
    const receipt = await links.client.getTransactionReceipt({ hash: executed.transactionHash as Hex });
    const swaps =
      executed.policySwapper && executed.safe
        ? policySwapsIn(receipt.logs, executed.policySwapper as Address, executed.safe as Address)
        : [];
    return {
      status: receipt.status,
      blockNumber: receipt.blockNumber.toString(),
      gasUsed: receipt.gasUsed.toLocaleString('en-US'),
      safeExecuted: executedSafeTx(receipt.logs, executed.safeTxHash, executed.safe as Address | undefined),
      swaps: swaps.map((s) => ({
        index: s.index,
        tokenIn: s.tokenIn,
        tokenOut: s.tokenOut,
        amountIn: s.amountIn.toString(),
        amountOut: s.amountOut.toString(),
        minOut: s.minOut.toString(),
        oraclePrice: s.oraclePrice.toString(),
        decisionHash: s.decisionHash,
      })),
    };
  } catch (error) {
    return { error: `the chain: ${safeText(error)}` };
  }
}
