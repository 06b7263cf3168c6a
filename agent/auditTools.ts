import {
  type Address,
  type Chain,
  formatUnits,
  getAddress,
  type Hex,
  type PublicClient,
  type Transport,
} from 'viem';
import { executedSafeTx } from '../contracts/safeEvents.ts';
import { policySwapsIn } from '../contracts/safeExecutor.ts';
import { AuditError, type AuditRecord, verifyAuditChain } from './auditLog.ts';
import { type DecisionInputs, decide } from './decide.ts';

/**
 * What auditors run: `verify` (the hash chain, and each executed record against the chain), `replay`
 * (recompute the plan and the safeTxHash from a decision's logged inputs), `show` (the decision for a person).
 */

type ExecutedData = {
  safeTxHash: string;
  transactionHash: Hex;
  proposalId?: string;
  safe?: Address;
  /** The decision PolicySwapper ran (records from before the price policy have none). */
  decisionHash?: Hex;
  policySwapper?: Address;
};

export type AuditVerification = {
  chain: ReturnType<typeof verifyAuditChain>;
  executed: { id: string; transactionHash: string; onChain: 'verified' | 'skipped' | string }[];
  ok: boolean;
};

/** Checks the chain of hashes and, when a client is given, that each executed transaction is on chain with its safeTxHash. */
export async function verifyAudit(
  records: AuditRecord[],
  client?: PublicClient<Transport, Chain>,
): Promise<AuditVerification> {
  const chain = verifyAuditChain(records);
  const executed: AuditVerification['executed'] = [];
  for (const record of records.filter((r) => r.kind === 'executed')) {
    const data = record.data as ExecutedData;
    if (!client) {
      executed.push({ id: record.id, transactionHash: data.transactionHash, onChain: 'skipped' });
      continue;
    }
    let status: string;
    try {
      const receipt = await client.getTransactionReceipt({ hash: data.transactionHash });
      const ran = executedSafeTx(receipt.logs, data.safeTxHash, data.safe);
      const anchored =
        !data.decisionHash ||
        (!!data.policySwapper &&
          !!data.safe &&
          policySwapsIn(receipt.logs, data.policySwapper, data.safe).some(
            (e) => e.decisionHash.toLowerCase() === data.decisionHash!.toLowerCase(),
          ));
      status =
        receipt.status !== 'success'
          ? 'reverted on chain'
          : !ran
            ? `no ExecutionSuccess for ${data.safeTxHash}`
            : !anchored
              ? `no PolicySwapper event for decision ${data.decisionHash}`
              : 'verified';
    } catch (error) {
      status = `not found on chain (${(error as { shortMessage?: string }).shortMessage ?? 'error'})`;
    }
    executed.push({ id: record.id, transactionHash: data.transactionHash, onChain: status });
  }
  const ok = chain.ok && executed.every((e) => e.onChain === 'verified' || e.onChain === 'skipped');
  return { chain, executed, ok };
}

function findRecord(records: AuditRecord[], id: string): AuditRecord {
  const record = records.find((r) => r.id === id);
  if (!record)
    throw new AuditError(`no record ${id} in the audit log`, {
      hint: 'ids look like rec-000012; see the log',
    });
  return record;
}

export type ReplayResult = {
  id: string;
  logged: { safeTxHash: string | null; swaps: number };
  replayed: { safeTxHash: string | null; swaps: number };
  matches: boolean;
  differences: string[];
};

/** Recomputes targets, plan and safeTxHash from a decision record's inputs and compares them with the log. */
export function replayDecision(records: AuditRecord[], id: string): ReplayResult {
  const record = findRecord(records, id);
  if (record.kind !== 'decision')
    throw new AuditError(`${id} is a ${record.kind} record; replay takes a decision record`);
  const data = record.data as {
    inputs: DecisionInputs;
    targets: Record<string, number>;
    plan: { swaps: { sell: string; buy: string; amountIn: string; minAmountOut: string }[] };
    safeTxHash?: string;
    decisionHash?: string;
    dataHash?: string;
  };
  const again = decide(data.inputs);
  const differences: string[] = [];
  if (JSON.stringify(again.targets) !== JSON.stringify(data.targets))
    differences.push('target weights differ');
  const swaps = again.plan.swaps.map((s) => ({
    sell: s.sell,
    buy: s.buy,
    amountIn: s.amountIn.toString(),
    minAmountOut: s.minAmountOut.toString(),
  }));
  const logged = data.plan.swaps.map((s) => ({
    sell: s.sell,
    buy: s.buy,
    amountIn: s.amountIn,
    minAmountOut: s.minAmountOut,
  }));
  if (JSON.stringify(swaps) !== JSON.stringify(logged)) differences.push('the planned swaps differ');
  const replayedHash = again.tx?.safeTxHash ?? null;
  if ((data.safeTxHash ?? null) !== replayedHash)
    differences.push(`safeTxHash ${replayedHash} ≠ logged ${data.safeTxHash ?? null}`);
  if (data.decisionHash !== undefined && data.decisionHash !== again.decisionHash)
    differences.push(`decision hash ${again.decisionHash} ≠ logged ${data.decisionHash}`);
  if (data.dataHash !== undefined && data.dataHash !== (again.tx?.dataHash ?? null))
    differences.push(`calldata hash ${again.tx?.dataHash ?? null} ≠ logged ${data.dataHash}`);
  return {
    id,
    logged: { safeTxHash: data.safeTxHash ?? null, swaps: logged.length },
    replayed: { safeTxHash: replayedHash, swaps: swaps.length },
    matches: differences.length === 0,
    differences,
  };
}

/** The story of one decision, for a person: what, why, who voted, what was executed. */
export function showDecision(records: AuditRecord[], id: string): string[] {
  const record = findRecord(records, id);
  const decision = record.kind === 'decision' ? record : undefined;
  if (!decision) throw new AuditError(`${id} is a ${record.kind} record; show takes a decision record`);
  const data = decision.data as {
    mode: string;
    outcome: string;
    inputs: DecisionInputs;
    plan: {
      swaps: { sell: string; buy: string; amountIn: string; minAmountOut: string }[];
      valueUsd: number;
      movedUsd: number;
    };
    safeTxHash?: string;
    draft?: { summary: string; rationale: string; risks: string[] };
    writer?: string;
    fallbackReason?: string | null;
    proposal?: { title: string };
  };
  const decimals = Object.fromEntries(data.inputs.tokens.map((t) => [t.symbol, t.decimals]));
  const lines = [
    `${record.id} — decision at ${new Date(record.at * 1000).toISOString()} (${data.mode}, ${data.outcome})`,
    `strategy: ${data.inputs.strategy.description}`,
    `treasury: $${Math.round(data.plan.valueUsd).toLocaleString('en-US')}; moves $${Math.round(data.plan.movedUsd).toLocaleString('en-US')}`,
  ];
  if (data.proposal) lines.push(`proposal: ${data.proposal.title}`);
  lines.push('what:');
  for (const s of data.plan.swaps) {
    lines.push(
      `  sell ${formatUnits(BigInt(s.amountIn), decimals[s.sell]!)} ${s.sell} for at least ${formatUnits(BigInt(s.minAmountOut), decimals[s.buy]!)} ${s.buy} (at the floor price; more when the oracle price is higher)`,
    );
  }
  if (data.safeTxHash)
    lines.push(
      `Safe ${data.inputs.safe.address} nonce ${data.inputs.safe.nonce} safeTxHash ${data.safeTxHash}`,
    );
  if (data.draft) {
    lines.push(
      `why (${data.writer}${data.fallbackReason ? `; model draft rejected: ${data.fallbackReason}` : ''}):`,
      `  ${data.draft.summary}`,
      `  ${data.draft.rationale}`,
    );
    for (const risk of data.draft.risks) lines.push(`  risk: ${risk}`);
  }
  // Later records of the same decision: posting, the vote, the execution.
  const posted = records.find(
    (r) =>
      r.kind === 'proposal-posted' && (r.data as { decisionRecord?: string }).decisionRecord === record.id,
  );
  const proposalId = (posted?.data as { proposalId?: string } | undefined)?.proposalId;
  if (proposalId) {
    lines.push(`posted: ${posted!.id} proposal ${proposalId}`);
    const vote = records.find(
      (r) => r.kind === 'vote-result' && (r.data as { proposalId?: string }).proposalId === proposalId,
    );
    if (vote) {
      const v = vote.data as {
        outcome: string;
        reason: string;
        votes?: { voter: string; choice: unknown; vp: number }[];
      };
      lines.push(`vote: ${v.outcome} — ${v.reason}`);
      for (const ballot of v.votes ?? []) {
        const choice = ['', 'For', 'Against', 'Abstain'][Number(ballot.choice)] ?? String(ballot.choice);
        lines.push(`  ${getAddress(ballot.voter)} ${choice} (${ballot.vp.toLocaleString('en-US')} GOV)`);
      }
    }
    const done = records.find(
      (r) =>
        ['executed', 'execution-refused', 'execution-failed'].includes(r.kind) &&
        (r.data as { proposalId?: string }).proposalId === proposalId,
    );
    if (done) {
      const d = done.data as {
        transactionHash?: string;
        reason?: string;
        outcome?: string;
        safeTxHash?: string;
        votedSafeTxHash?: string;
        decisionHash?: string;
      };
      lines.push(
        done.kind === 'executed'
          ? `executed: transaction ${d.transactionHash}, safeTxHash ${d.safeTxHash}${d.votedSafeTxHash && d.votedSafeTxHash !== d.safeTxHash ? ` (voted at an earlier nonce as ${d.votedSafeTxHash})` : ''}${d.decisionHash ? `, decision ${d.decisionHash} anchored by PolicySwapper` : ''}`
          : `not executed (${d.outcome ?? done.kind}): ${d.reason}`,
      );
    } else {
      lines.push('execution: none yet');
    }
  }
  return lines;
}
