import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../agent/auditLog.ts';
import type { ProposalRow } from '../agent/ledger.ts';
import { daoModel, recordSummary, voteSentence } from '../console/daoView.ts';

/**
 * The console's reading of an audit log, for the states a short real run does not reach: shadow drafts, a vote
 * the agent refused, an execution that waited then expired, one that failed, a foreign proposal, a pause.
 */

let seq = 0;
function record(kind: string, data: Record<string, unknown>, at = 1_700_000_000 + seq * 3600): AuditRecord {
  seq++;
  return { seq, id: `rec-${String(seq).padStart(6, '0')}`, at, kind, data, prevHash: '', hash: '' };
}
const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
const decision = (outcome: string, title: string, n: number) =>
  record('decision', { outcome, safeTxHash: hash(n), proposal: { title }, plan: { swaps: [{}] } });
const posted = (d: AuditRecord, key: string, id: string) =>
  record('proposal-posted', { decisionRecord: d.id, ledgerKey: key, proposalId: id, safeTxHash: '' });

describe('the console reads an audit log', () => {
  const shadow = decision('shadow', 'a shadow draft', 1);
  const refused = decision('propose', 'vote refused', 2);
  const expired = decision('propose', 'waited then expired', 3);
  const failed = decision('propose', 'failed on execution', 4);
  const records = [
    record('decision', { outcome: 'no-trades' }),
    shadow,
    refused,
    posted(refused, 'k2', hash(102)),
    record('vote-refused', {
      ledgerKey: 'k2',
      proposalId: hash(102),
      problems: ['scores differ', 'end moved'],
    }),
    expired,
    posted(expired, 'k3', hash(103)),
    record('vote-result', {
      ledgerKey: 'k3',
      proposalId: hash(103),
      outcome: 'passed',
      reason: 'For 4300000 beat Against 3800000 with quorum 9600000 ≥ 1000000',
      tally: {
        for: 4_300_000,
        against: 3_800_000,
        abstain: 1_500_000,
        total: 9_600_000,
        quorum: 1_000_000,
        votes: 5,
      },
      votes: [{ voter: '0x0000000000000000000000000000000000000001', choice: 1, vp: 4_300_000 }],
    }),
    record('execution-waiting', { ledgerKey: 'k3', reason: 'the price policy refuses: GOV below its floor' }),
    record('execution-refused', {
      ledgerKey: 'k3',
      proposalId: hash(103),
      outcome: 'expired',
      reason: 'the voted validity window ended at 2022-01-07 18:02 UTC (last refusal: GOV below its floor)',
    }),
    record('execution-refused', {
      proposalId: hash(999),
      outcome: 'refused',
      reason: 'posted by another author (0xabc): the agent executes only its own proposals',
    }),
    failed,
    posted(failed, 'k4', hash(104)),
    record('execution-failed', {
      ledgerKey: 'k4',
      outcome: 'failed',
      reason: 'simulation: call 2 would revert\nmore',
    }),
    record('cycle-stopped', { reason: 'market data refused at block 9: WETH feed is stale → fix the feed' }),
    record('circuit-breaker', {
      reason: 'circuit breaker: WBTC: 1,000 is -45.0% from the close',
      problems: [],
    }),
  ];

  it('gives each proposal its state, reason and timeline', () => {
    const model = daoModel(records);
    const byTitle = Object.fromEntries(model.proposals.map((p) => [p.title, p]));
    expect(model.proposals).toHaveLength(4);
    expect(byTitle['a shadow draft']).toMatchObject({ state: 'shadow', reason: /not posted/ });
    expect(byTitle['vote refused']).toMatchObject({
      state: 'failed',
      reason: "the hub's account of the vote does not hold: scores differ",
      proposalId: hash(102),
    });
    const e = byTitle['waited then expired']!;
    expect(e.state).toBe('expired');
    expect(e.reason).toMatch(/^the voted validity window ended/);
    expect(e.timeline.map((t) => t.what)).toEqual([
      'decided',
      'posted to Snapshot',
      'vote closed: passed',
      'execution waits',
      'not executed: expired',
    ]);
    expect(e.vote?.tally.for).toBe(4_300_000);
    expect(e.vote?.ballots).toEqual([
      { voter: '0x0000000000000000000000000000000000000001', choice: 'For', vp: 4_300_000 },
    ]);
    expect(byTitle['failed on execution']).toMatchObject({
      state: 'failed',
      reason: 'simulation: call 2 would revert',
    });
    expect(model.foreign).toEqual([
      expect.objectContaining({ proposalId: hash(999), reason: expect.stringMatching(/another author/) }),
    ]);
    expect(model.stopped[0]!.reason).toBe('market data refused at block 9: WETH feed is stale');
    expect(model.pause).toMatchObject({ source: 'audit log', reason: /^circuit breaker: WBTC/ });
  });

  it('puts figures in display units', () => {
    const t = {
      for: 4_300_000,
      against: 3_800_000,
      abstain: 1_500_000,
      total: 9_600_000,
      quorum: 1_000_000,
      votes: 5,
    };
    expect(voteSentence('passed', t)).toBe(
      'For 4,300,000 beat Against 3,800,000 (Abstain 1,500,000); quorum 9,600,000 of 1,000,000 GOV',
    );
    expect(voteSentence('rejected', { ...t, total: 400_000 })).toBe(
      'short of quorum: 400,000 of 1,000,000 GOV voted (rejected)',
    );
    expect(recordSummary(records[7]!)).toBe(`passed: ${voteSentence('passed', t)}`);
  });

  it("takes the ledger's state and pause when it has them, keeping the log's words for the same state", () => {
    const row = (key: string, state: string, decisionRecordId: string, reason: string | null) =>
      ({
        key,
        state,
        reason,
        proposalId: null,
        cycleAt: 1,
        record: { decisionRecordId },
      }) as unknown as ProposalRow;
    const model = daoModel(records, {
      rows: [
        row('k3', 'expired', expired.id, 'the voted validity window ended (ledger words)'),
        row('k4', 'failed', failed.id, 'ledger reason'),
        row('k9', 'planned', 'rec-999999', null),
      ],
      paused: 'balances diverged from the plan after 0xabc',
      transitions: () => [{ from: null, to: 'planned', at: 1, detail: null }],
    });
    const e = model.proposals.find((p) => p.ledgerKey === 'k3')!;
    expect(e.reason).toMatch(/last refusal: GOV below its floor/);
    expect(e.transitions).toHaveLength(1);
    expect(model.proposals.find((p) => p.key === 'k9')).toMatchObject({ state: 'planned', title: 'k9' });
    expect(model.pause).toMatchObject({
      source: 'ledger',
      reason: 'balances diverged from the plan after 0xabc',
    });
    expect(daoModel(records, { rows: [], transitions: () => [] }).pause).toBeUndefined();
  });
});
