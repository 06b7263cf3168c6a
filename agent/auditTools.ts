import {
  type Address,
  type Chain,
  formatUnits,
  getAddress,
  type Hex,
  type PublicClient,
  type Transport,
} from 'viem';
import { listDecisionExecutions } from '../contracts/executionLogs.ts';
import { executedSafeTx } from '../contracts/safeEvents.ts';
import { policySwapsIn } from '../contracts/safeExecutor.ts';
import { parseTreasuryPlugin } from '../governance/proposalBody.ts';
import { AuditError, type AuditRecord, mirrorProblems, verifyAuditChain } from './auditLog.ts';
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
  /** The ledger's mirror against the file (truncation, replacement); checked: false without a ledger. */
  mirror: { checked: boolean; problems: string[] };
  /** Each decision record's inputs replay to its logged decision hash. */
  decisions: { checked: number; problems: string[] };
  /** The audit heads the hub keeps in the agent's proposals (the log's anchors outside this machine). */
  hub: { checked: number; problems: string[] } | undefined;
  /** The decisions PolicySwapper executed for the Safe, each of which the log must hold. */
  onChain: { checked: number; problems: string[] } | undefined;
  executed: { id: string; transactionHash: string; onChain: 'verified' | 'skipped' | string }[];
  ok: boolean;
};

/** Where `audit verify` looks besides the file: the chain, the ledger, the hub. Each is optional. */
export type AuditSources = {
  client?: PublicClient<Transport, Chain>;
  /** The ledger's mirror of the log (seq and hash of each record as appended). */
  mirror?: readonly { seq: number; hash: string }[];
  /** The agent's proposals as the hub has them. */
  hub?: { proposals: readonly { id: string; author: string; plugins: unknown }[]; agent: Address };
  /** PolicySwapper's executions for the Safe since a block (needs `client`). */
  anchors?: { swapper: Address; safe: Address; fromBlock: bigint; chunkBlocks?: bigint };
};

/**
 * Checks the chain of hashes, the ledger's mirror, each decision's hash against its inputs, the anchors the hub
 * and the chain keep (a truncated or forged log disagrees with them), and that each executed transaction is on
 * chain with its safeTxHash and its decision.
 */
export async function verifyAudit(
  records: AuditRecord[],
  sources: AuditSources = {},
): Promise<AuditVerification> {
  const { client } = sources;
  const chain = verifyAuditChain(records);
  const mirror = {
    checked: sources.mirror !== undefined,
    problems: sources.mirror ? mirrorProblems(records, sources.mirror) : [],
  };
  const decisions = { checked: 0, problems: [] as string[] };
  for (const record of records.filter((r) => r.kind === 'decision')) {
    const data = record.data as { inputs?: DecisionInputs; decisionHash?: string };
    if (!data.inputs || !data.decisionHash) continue;
    decisions.checked++;
    try {
      const again = decide(data.inputs).decisionHash;
      if (again !== data.decisionHash)
        decisions.problems.push(`${record.id}: its inputs give decision hash ${again}, not the logged one`);
    } catch (error) {
      decisions.problems.push(`${record.id}: its inputs do not replay (${(error as Error).message})`);
    }
  }
  let hub: AuditVerification['hub'];
  if (sources.hub) {
    hub = { checked: 0, problems: [] };
    const posted = new Set(
      records
        .filter((r) => r.kind === 'proposal-posted')
        .map((r) => String((r.data as { proposalId?: string }).proposalId).toLowerCase()),
    );
    for (const proposal of sources.hub.proposals) {
      if (getAddress(proposal.author) !== getAddress(sources.hub.agent)) continue;
      let head: { seq: number; hash: string };
      try {
        head = parseTreasuryPlugin(proposal.plugins).auditHead;
      } catch {
        continue; // not one of the agent's treasury proposals
      }
      hub.checked++;
      const at = records[head.seq - 1];
      if (head.seq > records.length) {
        hub.problems.push(
          `proposal ${proposal.id} was drafted when the log had ${head.seq} records; the file has ${records.length} (truncated?)`,
        );
      } else if (head.seq > 0 && at?.hash !== head.hash) {
        hub.problems.push(
          `proposal ${proposal.id} anchors record ${head.seq} as ${head.hash}; the file's record differs (replaced?)`,
        );
      } else if (!posted.has(proposal.id.toLowerCase())) {
        hub.problems.push(`proposal ${proposal.id} by the agent is on the hub but not in the log`);
      }
    }
  }
  let onChain: AuditVerification['onChain'];
  if (client && sources.anchors) {
    onChain = { checked: 0, problems: [] };
    const logged = new Set(
      records
        .filter((r) => r.kind === 'executed')
        .map((r) => String((r.data as ExecutedData).decisionHash ?? '').toLowerCase()),
    );
    for (const execution of await listDecisionExecutions(client, sources.anchors)) {
      onChain.checked++;
      if (!logged.has(execution.decisionHash.toLowerCase())) {
        onChain.problems.push(
          `PolicySwapper executed decision ${execution.decisionHash} for the Safe in ${execution.transactionHash}; the log has no executed record of it`,
        );
      }
    }
  }
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
  const ok =
    chain.ok &&
    mirror.problems.length === 0 &&
    decisions.problems.length === 0 &&
    (hub?.problems.length ?? 0) === 0 &&
    (onChain?.problems.length ?? 0) === 0 &&
    executed.every((e) => e.onChain === 'verified' || e.onChain === 'skipped');
  return { chain, mirror, decisions, hub, onChain, executed, ok };
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
