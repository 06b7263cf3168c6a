import type { Logger } from 'pino';
import { describeError } from '../shared/errors.ts';
import type { AuditRecord } from './auditLog.ts';
import { runCycle } from './cycle.ts';
import type { ProposalRow } from './ledger.ts';
import type { Runtime } from './runtime.ts';

/** What one cycle came to, for the one line `treasury run` logs per cycle. */
export type CycleOutcome = {
  outcome:
    | 'executed'
    | 'proposed'
    | 'refused'
    | 'expired'
    | 'rejected'
    | 'stopped'
    | 'drafted'
    | 'not proposed'
    | 'waiting'
    | 'paused'
    | 'nothing due';
  proposalId?: string;
  /** Why, in a few words (a refusal's reason, what a proposal waits for). */
  detail?: string;
  /** Set when the agent is paused at the end of the cycle (also when something else happened first). */
  paused?: string;
};

// When a cycle does several things (a vote closes and executes, then a new proposal is posted), the line
// names the first of these that happened; the events list has them all.
const PRECEDENCE: CycleOutcome['outcome'][] = [
  'executed',
  'proposed',
  'refused',
  'expired',
  'rejected',
  'stopped',
  'not proposed',
  'drafted',
  'waiting',
  'paused',
  'nothing due',
];

type Candidate = Omit<CycleOutcome, 'paused'>;

function fromRecord(record: AuditRecord, proposalIdOf: (key: string) => string | undefined): Candidate[] {
  const data = (record.data ?? {}) as {
    ledgerKey?: string;
    proposalId?: string | null;
    outcome?: string;
    reason?: string;
  };
  const proposalId = data.proposalId ?? (data.ledgerKey ? proposalIdOf(data.ledgerKey) : undefined);
  const base = proposalId ? { proposalId } : {};
  const detail = data.reason ? { detail: data.reason } : {};
  switch (record.kind) {
    case 'executed':
      return [{ outcome: 'executed', ...base }];
    case 'proposal-posted':
      return [{ outcome: 'proposed', ...base }];
    case 'vote-refused':
      return [{ outcome: 'refused', ...base, detail: "the hub's account of the vote does not hold" }];
    case 'execution-refused':
    case 'execution-failed':
      return [{ outcome: data.outcome === 'expired' ? 'expired' : 'refused', ...base, ...detail }];
    case 'vote-result':
      if (data.outcome === 'rejected' || data.outcome === 'expired')
        return [{ outcome: data.outcome, ...base, ...detail }];
      return [{ outcome: 'waiting', ...base, detail: 'passed, to execute' }];
    case 'execution-waiting':
      return [{ outcome: 'waiting', ...base, ...detail }];
    case 'cycle-stopped':
      return [{ outcome: 'stopped', ...detail }];
    case 'decision':
      if (data.outcome === 'shadow') return [{ outcome: 'drafted', detail: 'shadow mode: not posted' }];
      if (data.outcome === 'not-proposed') return [{ outcome: 'not proposed', ...detail }];
      if (data.outcome === 'skipped-by-model')
        return [{ outcome: 'not proposed', detail: 'the model recommended skipping' }];
      if (data.outcome === 'no-trades') return [{ outcome: 'nothing due', detail: 'on target' }];
      return [];
    default:
      return [];
  }
}

/**
 * The outcome of a cycle from the audit records it appended and the ledger after it: the most consequential
 * thing that happened (executed before proposed before refused …), else what the open proposals wait for,
 * else the pause, else nothing due.
 */
export function cycleOutcome(
  appended: readonly AuditRecord[],
  after: { paused?: string; open: readonly ProposalRow[]; proposalIdOf: (key: string) => string | undefined },
): CycleOutcome {
  const candidates = appended.flatMap((r) => fromRecord(r, after.proposalIdOf));
  const open = after.open[0];
  if (open)
    candidates.push({
      outcome: 'waiting',
      ...(open.proposalId ? { proposalId: open.proposalId } : {}),
      detail: open.state === 'posted' ? 'the vote is open' : `the proposal is ${open.state}`,
    });
  if (after.paused) candidates.push({ outcome: 'paused', detail: after.paused });
  const best = candidates.sort(
    (a, b) => PRECEDENCE.indexOf(a.outcome) - PRECEDENCE.indexOf(b.outcome),
  )[0] ?? { outcome: 'nothing due' as const };
  return { ...best, ...(after.paused ? { paused: after.paused } : {}) };
}

/**
 * What the cycle that started at audit sequence `fromSeq` came to: the records it appended, read with the ledger
 * as it is after the cycle (cycleOutcome).
 */
export async function outcomeSince(runtime: Runtime, fromSeq: number): Promise<CycleOutcome> {
  const appended = fromSeq < runtime.audit.head().seq ? runtime.audit.records().slice(fromSeq) : [];
  const proposalIds = new Map<string, string | undefined>();
  for (const record of appended) {
    const key = (record.data as { ledgerKey?: unknown } | null)?.ledgerKey;
    if (typeof key === 'string' && !proposalIds.has(key))
      proposalIds.set(key, (await runtime.ledger.get(key))?.proposalId ?? undefined);
  }
  return cycleOutcome(appended, {
    paused: await runtime.ledger.getState('paused'),
    open: await runtime.ledger.open(),
    proposalIdOf: (key) => proposalIds.get(key),
  });
}

/** The words of a cycle's line: `proposed 0x…: detail; paused: why (812 ms)`. */
export function outcomeText(outcome: CycleOutcome, ms: number): string {
  const id = outcome.proposalId ? ` ${outcome.proposalId}` : '';
  const detail = outcome.detail ? `: ${outcome.detail}` : '';
  const paused = outcome.paused && outcome.outcome !== 'paused' ? `; paused: ${outcome.paused}` : '';
  return `${outcome.outcome}${id}${detail}${paused} (${ms} ms)`;
}

/**
 * Runs one cycle and logs exactly one line about it: the DAO (space and Safe), the outcome, the proposal id,
 * the duration and every event of the cycle; a cycle that throws logs one error line instead.
 */
export async function runLoggedCycle(runtime: Runtime, log: Logger): Promise<CycleOutcome | undefined> {
  const started = performance.now();
  const dao = { space: runtime.config.governance.space, safe: runtime.config.safe.address ?? null };
  const fromSeq = runtime.audit.head().seq;
  try {
    const report = await runCycle(runtime);
    const outcome = await outcomeSince(runtime, fromSeq);
    const ms = Math.round(performance.now() - started);
    log.info(
      {
        ...dao,
        at: new Date(report.at * 1000).toISOString(),
        ...outcome,
        ms,
        events: report.events,
      },
      `${dao.space}: ${outcomeText(outcome, ms)}`,
    );
    return outcome;
  } catch (error) {
    const ms = Math.round(performance.now() - started);
    log.error(
      { ...dao, outcome: 'failed', ms, error: describeError(error) },
      `${dao.space}: cycle failed: ${describeError(error)} (${ms} ms)`,
    );
    return undefined;
  }
}
