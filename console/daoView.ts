import { formatUnits, getAddress } from 'viem';
import type { AuditRecord } from '../agent/auditLog.ts';
import { type Decision, type DecisionInputs, decide } from '../agent/decide.ts';
import type { ProposalRow } from '../agent/ledger.ts';
import { callsInWords, policyInWords } from '../agent/proposalContent.ts';
import { displayAmount, type TreasuryAgentPlugin } from '../governance/proposalBody.ts';
import { describeStrategy } from '../strategies/describe.ts';
import { priceToNumber } from '../strategies/pricePolicy.ts';
import type { StrategyConfig } from '../strategies/registry.ts';

/**
 * What the console shows of one DAO, computed purely from its audit records (and, live, its ledger rows): the
 * proposals with their state and timeline, the vote, the voted Safe transaction decoded, the simulation made
 * when drafting, the execution and PolicySwapper's events. Nothing here reads a file, the chain or the hub.
 */

export const UTC = (t: number) => `${new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** Whole tokens for people (display units, sensible precision). */
export function tokenAmount(value: string | bigint, decimals: number | undefined, symbol: string): string {
  if (decimals === undefined) return `${value} (base units of ${symbol})`;
  return `${displayAmount(BigInt(value), decimals)} ${symbol}`;
}

/** Whole votes (GOV) for people: 4,300,000. */
export const votesText = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 2 });

type DecisionData = {
  mode?: string;
  outcome?: string;
  reason?: string;
  inputs?: DecisionInputs;
  targets?: Record<string, number>;
  plan?: {
    valueUsd: number;
    movedUsd: number;
    beforeBps: Record<string, number>;
    expectedAfterBps: Record<string, number>;
    swaps: { sell: string; buy: string; amountIn: string; minAmountOut: string; expectedAmountOut: string }[];
  };
  decisionHash?: string;
  safeTx?: Record<string, string | number>;
  safeTxHash?: string;
  dataHash?: string;
  calls?: string[];
  draft?: { summary: string; rationale: string; risks: string[] };
  writer?: string;
  fallbackReason?: string | null;
  proposal?: { title: string; bodySha256: string; plugins?: TreasuryAgentPlugin };
  simulation?: { gasUsed: string[]; balancesAfter: Record<string, string> };
};

export type PolicySwapView = {
  index: number;
  tokenIn: string;
  tokenOut: string;
  amountIn: string;
  amountOut: string;
  minOut: string;
  oraclePrice: string;
  decisionHash: string;
};

export type ExecutedData = {
  proposalId?: string;
  safe?: string;
  decisionHash?: string;
  policySwapper?: string;
  dataHash?: string;
  votedSafeTxHash?: string;
  safeTxHash: string;
  nonce?: string | null;
  transactionHash: string;
  gasUsed?: string | null;
  policySwaps?: PolicySwapView[];
  balanceChanges?: Record<
    string,
    { symbol: string; decimals: number; before: string; after: string; delta: string }
  > | null;
  divergences?: string[];
};

export type Tally = {
  for: number;
  against: number;
  abstain: number;
  total: number;
  quorum: number;
  votes: number;
};

export type VoteView = {
  /** Where the figures come from: the agent's logged result, or the hub now (an open vote). */
  source: 'audit log' | 'hub (live)';
  outcome?: string;
  reason?: string;
  tally: Tally;
  ballots: { voter: string; choice: string; vp: number }[];
  /** The hub's state of the proposal when read live (pending, active, closed). */
  hubState?: string;
};

export type TimelineEvent = { at: number; what: string; detail?: string; record?: string };

export type ProposalView = {
  /** The decision record's id: the proposal's address in the console (and the record its body cites). */
  key: string;
  title: string;
  /** planned, posted, passed, rejected, expired, executing, executed, failed; shadow; skipped-by-model. */
  state: string;
  reason: string | null;
  proposalId: string | null;
  ledgerKey: string | null;
  at: number;
  decision: AuditRecord;
  timeline: TimelineEvent[];
  vote?: VoteView;
  executed?: { record: AuditRecord; data: ExecutedData };
  /** Ledger transitions (live mode). */
  transitions?: { from: string | null; to: string; at: number; detail: string | null }[];
};

export type PauseView = { reason: string; since?: number; record?: string; source: 'ledger' | 'audit log' };

export type DaoModel = {
  proposals: ProposalView[];
  /** Proposals by another author that carry the agent's plugin: refused, never executed. */
  foreign: { record: string; at: number; proposalId: string; reason: string }[];
  /** The last decision record, whatever its outcome (on target, not proposed, …). */
  lastDecision?: { record: AuditRecord; outcome: string; reason?: string };
  /** The last pause the log records (offline) or the ledger's pause (live). */
  pause?: PauseView;
  /** Cycles stopped by refused market data, newest first. */
  stopped: { record: string; at: number; reason: string }[];
};

const CHOICES = ['', 'For', 'Against', 'Abstain'];
export const choiceName = (choice: unknown) => CHOICES[Number(choice)] ?? String(choice);

const STATE_OF_OUTCOME: Record<string, string> = {
  propose: 'planned',
  shadow: 'shadow',
  'skipped-by-model': 'skipped-by-model',
};

/** Builds the proposals and the agent's status from the audit records (in order), optionally with the ledger. */
export function daoModel(
  records: readonly AuditRecord[],
  ledger?: {
    rows: ProposalRow[];
    paused?: string;
    transitions: (key: string) => ProposalView['transitions'];
  },
): DaoModel {
  const proposals: ProposalView[] = [];
  const byRecord = new Map<string, ProposalView>();
  const byLedgerKey = new Map<string, ProposalView>();
  const byProposalId = new Map<string, ProposalView>();
  const foreign: DaoModel['foreign'] = [];
  const stopped: DaoModel['stopped'] = [];
  let lastDecision: DaoModel['lastDecision'];
  let pause: PauseView | undefined;
  const find = (d: { ledgerKey?: string; proposalId?: string }) =>
    (d.ledgerKey ? byLedgerKey.get(d.ledgerKey) : undefined) ??
    (d.proposalId ? byProposalId.get(d.proposalId.toLowerCase()) : undefined);

  for (const record of records) {
    const data = (record.data ?? {}) as Record<string, unknown>;
    switch (record.kind) {
      case 'decision': {
        const d = data as DecisionData;
        lastDecision = { record, outcome: d.outcome ?? '?', ...(d.reason ? { reason: d.reason } : {}) };
        const state = STATE_OF_OUTCOME[d.outcome ?? ''];
        if (!state || !d.safeTxHash) break;
        const view: ProposalView = {
          key: record.id,
          title: d.proposal?.title ?? `Decision ${record.id}`,
          state,
          reason:
            state === 'shadow'
              ? 'shadow mode: drafted and logged, not posted'
              : state === 'skipped-by-model'
                ? 'the model recommended skipping it'
                : null,
          proposalId: null,
          ledgerKey: null,
          at: record.at,
          decision: record,
          timeline: [
            {
              at: record.at,
              what: 'decided',
              detail: `${d.plan?.swaps.length ?? 0} swap(s), safeTxHash ${d.safeTxHash}; rationale by ${d.writer ?? '?'}${d.fallbackReason ? ` (the model's draft was not used: ${d.fallbackReason})` : ''}`,
              record: record.id,
            },
          ],
        };
        proposals.push(view);
        byRecord.set(record.id, view);
        break;
      }
      case 'proposal-posted': {
        const view = byRecord.get(String(data.decisionRecord));
        if (!view) break;
        view.state = 'posted';
        view.proposalId = String(data.proposalId);
        view.ledgerKey = String(data.ledgerKey);
        byLedgerKey.set(view.ledgerKey, view);
        byProposalId.set(view.proposalId.toLowerCase(), view);
        view.timeline.push({
          at: record.at,
          what: 'posted to Snapshot',
          detail: `proposal ${view.proposalId}${data.recovered ? ' (found on the hub after a restart)' : ''}`,
          record: record.id,
        });
        break;
      }
      case 'vote-result': {
        const view = find(data);
        if (!view) break;
        const outcome = String(data.outcome);
        const tally = data.tally as Tally | undefined;
        view.state = outcome;
        view.reason = tally ? voteSentence(outcome, tally) : String(data.reason ?? '');
        if (tally) {
          view.vote = {
            source: 'audit log',
            outcome,
            reason: String(data.reason ?? ''),
            tally,
            ballots: ((data.votes ?? []) as { voter: string; choice: unknown; vp: number }[]).map((v) => ({
              voter: v.voter,
              choice: choiceName(v.choice),
              vp: v.vp,
            })),
          };
        }
        view.timeline.push({
          at: record.at,
          what: outcome === 'expired' ? 'gone from the hub' : `vote closed: ${outcome}`,
          detail: view.reason,
          record: record.id,
        });
        break;
      }
      case 'vote-refused': {
        const view = find(data);
        if (!view) break;
        const problems = (data.problems ?? []) as string[];
        view.state = 'failed';
        view.reason = `the hub's account of the vote does not hold: ${problems[0] ?? '?'}`;
        view.timeline.push({
          at: record.at,
          what: 'vote refused',
          detail: problems.join('; '),
          record: record.id,
        });
        break;
      }
      case 'execution-waiting': {
        const view = find(data);
        if (!view) break;
        view.timeline.push({
          at: record.at,
          what: 'execution waits',
          detail: String(data.reason ?? ''),
          record: record.id,
        });
        break;
      }
      case 'executed': {
        const view = find(data);
        if (!view) break;
        const executed = data as unknown as ExecutedData;
        view.state = 'executed';
        view.reason = null;
        view.executed = { record, data: executed };
        view.timeline.push({
          at: record.at,
          what: 'executed',
          detail: `transaction ${executed.transactionHash}${executed.votedSafeTxHash && executed.votedSafeTxHash !== executed.safeTxHash ? ` (the Safe's nonce had moved: executed as ${executed.safeTxHash})` : ''}`,
          record: record.id,
        });
        break;
      }
      case 'execution-refused':
      case 'execution-failed': {
        const view = find(data);
        if (!view) {
          if (record.kind === 'execution-refused' && data.proposalId) {
            foreign.push({
              record: record.id,
              at: record.at,
              proposalId: String(data.proposalId),
              reason: String(data.reason ?? ''),
            });
          }
          break;
        }
        view.state = String(data.outcome ?? 'failed');
        view.reason = firstLine(String(data.reason ?? ''));
        view.timeline.push({
          at: record.at,
          what: `not executed: ${view.state}`,
          detail: view.reason,
          record: record.id,
        });
        break;
      }
      case 'paused':
      case 'circuit-breaker':
        pause = {
          reason: String(data.reason ?? ''),
          since: record.at,
          record: record.id,
          source: 'audit log',
        };
        break;
      case 'cycle-stopped':
        stopped.unshift({ record: record.id, at: record.at, reason: firstLine(String(data.reason ?? '')) });
        break;
    }
  }

  if (ledger) {
    // The ledger is the state machine: its state and reason win; a row the log does not explain is shown too.
    for (const row of ledger.rows) {
      const stored = row.record as { decisionRecordId?: string; propose?: { title?: string } };
      let view = stored.decisionRecordId ? byRecord.get(stored.decisionRecordId) : undefined;
      if (!view) {
        view = {
          key: row.key,
          title: stored.propose?.title ?? row.key,
          state: row.state,
          reason: row.reason,
          proposalId: row.proposalId,
          ledgerKey: row.key,
          at: row.cycleAt,
          decision: {
            seq: 0,
            id: row.key,
            at: row.cycleAt,
            kind: 'decision',
            data: {},
            prevHash: '',
            hash: '',
          },
          timeline: [],
        };
        proposals.push(view);
      }
      // The log's reason for the same state is kept (its figures are in display units); else the ledger's.
      view.reason = row.state === view.state && view.reason ? view.reason : row.reason;
      view.state = row.state;
      view.proposalId = row.proposalId;
      view.ledgerKey = row.key;
      view.transitions = ledger.transitions(row.key);
    }
    pause = ledger.paused
      ? {
          reason: ledger.paused,
          source: 'ledger',
          ...(pause ? { since: pause.since, record: pause.record } : {}),
        }
      : undefined;
  }
  return { proposals, foreign, stopped, pause, ...(lastDecision ? { lastDecision } : {}) };
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.split(' → ')[0]!;
}

/** The vote's result in words, with figures in display units: "For 4,300,000 beat Against 3,800,000 …". */
export function voteSentence(outcome: string, t: Tally): string {
  if (t.total < t.quorum)
    return `short of quorum: ${votesText(t.total)} of ${votesText(t.quorum)} GOV voted (${outcome})`;
  const beat = t.for > t.against ? 'beat' : 'did not beat';
  return `For ${votesText(t.for)} ${beat} Against ${votesText(t.against)} (Abstain ${votesText(t.abstain)}); quorum ${votesText(t.total)} of ${votesText(t.quorum)} GOV`;
}

export type CallView = {
  index: number;
  to: string;
  /** What `to` is: a token symbol, PolicySwapper, the router, or the raw address. */
  toName: string;
  value: string;
  operation: number;
  data: string;
  words?: string;
};

export type TransactionView = {
  safe?: string;
  chainId?: number;
  nonce?: number;
  safeTxHash?: string;
  dataHash?: string;
  decisionHash?: string;
  policySwapper?: string;
  validUntil?: number;
  /** Every field of the outer Safe transaction, as signed. */
  safeTx?: Record<string, string | number>;
  calls: CallView[];
  /** Each swap's price policy, in words. */
  policies: string[];
  strategy?: string;
  /** Whether the logged inputs rebuild exactly the voted calls (decide(inputs)). */
  rebuilt: { ok: boolean; detail: string };
  auditHead?: { seq: number; hash: string };
};

/** The decision's inputs rebuilt into a decision (undefined for logs this code can no longer replay). */
export function rebuildDecision(record: AuditRecord): { decision?: Decision; error?: string } {
  const data = record.data as DecisionData;
  if (!data.inputs) return { error: 'the record has no inputs' };
  try {
    return { decision: decide(data.inputs) };
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] };
  }
}

/** The voted Safe transaction, every call in words (from the rebuilt decision) and in hex (from the plugin). */
export function transactionView(record: AuditRecord): TransactionView {
  const data = record.data as DecisionData;
  const plugin = data.proposal?.plugins;
  const inputs = data.inputs;
  const { decision, error } = rebuildDecision(record);
  const names = new Map<string, string>();
  for (const t of inputs?.tokens ?? []) names.set(getAddress(t.address), t.symbol);
  if (inputs?.contracts) {
    names.set(getAddress(inputs.contracts.swapper), 'PolicySwapper');
    names.set(getAddress(inputs.contracts.router), 'Uniswap V2 router');
    names.set(getAddress(inputs.contracts.multiSendCallOnly), 'MultiSendCallOnly');
  }
  const nameOf = (address: string) => names.get(getAddress(address)) ?? address;
  const words = decision?.tx ? callsInWords(decision) : (data.calls ?? []);
  const logged =
    plugin?.transactions ??
    decision?.tx?.calls.map((c) => ({ ...c, value: c.value.toString() })) ??
    ([] as TreasuryAgentPlugin['transactions']);
  const calls: CallView[] = logged.map((c, i) => ({
    index: i + 1,
    to: c.to,
    toName: nameOf(c.to),
    value: String(c.value),
    operation: c.operation,
    data: c.data,
    ...(words[i] !== undefined ? { words: words[i] } : {}),
  }));
  let rebuilt: TransactionView['rebuilt'];
  if (!decision) {
    rebuilt = { ok: false, detail: `the logged inputs do not replay here (${error})` };
  } else if (!decision.tx) {
    rebuilt = { ok: false, detail: 'the logged inputs replay to no transaction' };
  } else {
    const same =
      decision.tx.safeTxHash.toLowerCase() === (data.safeTxHash ?? '').toLowerCase() &&
      (!plugin ||
        (plugin.transactions.length === decision.tx.calls.length &&
          plugin.transactions.every(
            (c, i) => c.data.toLowerCase() === decision.tx!.calls[i]!.data.toLowerCase(),
          )));
    rebuilt = same
      ? { ok: true, detail: 'decide(inputs) rebuilds exactly these calls and this safeTxHash' }
      : { ok: false, detail: `decide(inputs) gives safeTxHash ${decision.tx.safeTxHash}: not these calls` };
  }
  const decimals = Object.fromEntries((inputs?.tokens ?? []).map((t) => [t.symbol, t.decimals]));
  const policies =
    decision && inputs
      ? decision.plan.swaps.map((s) => policyInWords(s, decimals, Number(inputs.deadline)))
      : [];
  let strategy: string | undefined;
  try {
    strategy = inputs ? describeStrategy(inputs.strategy.config as StrategyConfig) : undefined;
  } catch {
    strategy = inputs?.strategy.description;
  }
  return {
    safe: plugin?.safe ?? inputs?.safe.address,
    chainId: plugin?.chainId ?? inputs?.safe.chainId,
    nonce: plugin?.nonce ?? (inputs ? Number(inputs.safe.nonce) : undefined),
    safeTxHash: data.safeTxHash,
    dataHash: data.dataHash ?? plugin?.dataHash,
    decisionHash: data.decisionHash ?? plugin?.decisionHash,
    policySwapper: plugin?.policySwapper ?? inputs?.contracts.swapper,
    validUntil: plugin?.validUntil ?? (inputs ? Number(inputs.deadline) : undefined),
    safeTx: data.safeTx,
    calls,
    policies,
    strategy,
    rebuilt,
    ...(plugin?.auditHead ? { auditHead: plugin.auditHead } : {}),
  };
}

export type SimulationView = {
  gasUsed: string[];
  totalGas: string;
  balances: { symbol: string; before: string; after: string; change: string }[];
};

/** The exact voted calls run from the Safe when drafted: balances after, gas (absent in logs from before it). */
export function simulationView(record: AuditRecord): SimulationView | undefined {
  const data = record.data as DecisionData;
  if (!data.simulation || !data.inputs) return undefined;
  const { gasUsed, balancesAfter } = data.simulation;
  return {
    gasUsed: gasUsed.map((g) => BigInt(g).toLocaleString('en-US')),
    totalGas: gasUsed.reduce((a, b) => a + BigInt(b), 0n).toLocaleString('en-US'),
    balances: data.inputs.tokens.map((t) => {
      const before = BigInt(data.inputs!.holdings[t.symbol] ?? '0');
      const after = BigInt(balancesAfter[t.symbol] ?? '0');
      const delta = after - before;
      return {
        symbol: t.symbol,
        before: tokenAmount(before, t.decimals, t.symbol),
        after: tokenAmount(after, t.decimals, t.symbol),
        change: `${delta > 0n ? '+' : delta < 0n ? '−' : ''}${tokenAmount(delta < 0n ? -delta : delta, t.decimals, t.symbol)}`,
      };
    }),
  };
}

export type SwapEventView = {
  index: number;
  pair: string;
  amountIn: string;
  amountOut: string;
  minOut: string;
  oraclePrice: string;
  decisionHash: string;
};

/** PolicySwapper's PolicySwap events in words: what the chain checked and paid, per voted swap. */
export function swapEventsView(
  events: readonly PolicySwapView[],
  tokens: readonly { symbol: string; address: string; decimals: number }[],
): SwapEventView[] {
  const token = (address: string) =>
    tokens.find((t) => t.address.toLowerCase() === address.toLowerCase()) ?? {
      symbol: address,
      decimals: undefined,
    };
  return events.map((e) => {
    const tin = token(e.tokenIn);
    const tout = token(e.tokenOut);
    const price = priceToNumber(BigInt(e.oraclePrice));
    return {
      index: e.index,
      pair: `${tin.symbol} → ${tout.symbol}`,
      amountIn: tokenAmount(e.amountIn, tin.decimals, tin.symbol),
      amountOut: tokenAmount(e.amountOut, tout.decimals, tout.symbol),
      minOut: tokenAmount(e.minOut, tout.decimals, tout.symbol),
      oraclePrice: `${price.toPrecision(6)} ${tout.symbol} per ${tin.symbol}`,
      decisionHash: e.decisionHash,
    };
  });
}

/** The decision record's summary, rationale and risks (the words voters read). */
export function draftOf(record: AuditRecord): DecisionData['draft'] & { writer?: string } {
  const data = record.data as DecisionData;
  return { ...(data.draft ?? { summary: '', rationale: '', risks: [] }), writer: data.writer };
}

export function decisionData(record: AuditRecord): DecisionData {
  return record.data as DecisionData;
}

/** One line per record for the audit log's list. */
export function recordSummary(record: AuditRecord): string {
  const d = (record.data ?? {}) as Record<string, unknown>;
  switch (record.kind) {
    case 'decision': {
      const data = d as DecisionData;
      const title = data.proposal?.title ? `: ${data.proposal.title}` : '';
      return `${data.outcome ?? ''}${title}${data.reason ? ` — ${firstLine(data.reason)}` : ''}`;
    }
    case 'proposal-posted':
      return `proposal ${d.proposalId} (decision ${d.decisionRecord})`;
    case 'vote-result':
      return `${d.outcome}: ${d.tally ? voteSentence(String(d.outcome), d.tally as Tally) : d.reason}`;
    case 'executed':
      return `transaction ${d.transactionHash}, safeTxHash ${d.safeTxHash}`;
    case 'execution-refused':
    case 'execution-failed':
    case 'vote-refused':
      return `${d.outcome ?? ''} ${firstLine(String(d.reason ?? (d.problems as string[] | undefined)?.[0] ?? ''))}`;
    default:
      return firstLine(String(d.reason ?? ''));
  }
}

/** Token decimals by symbol from a decision's inputs. */
export function decimalsOf(record: AuditRecord): Record<string, number> {
  const inputs = (record.data as DecisionData).inputs;
  return Object.fromEntries((inputs?.tokens ?? []).map((t) => [t.symbol, t.decimals]));
}

/** The treasury's USD value in words ($20.1M). */
export function usdText(x: number): string {
  return Math.abs(x) >= 1e6
    ? `$${(x / 1e6).toFixed(2)}M`
    : `$${Math.round(x).toLocaleString('en-US', { maximumFractionDigits: 0 })}`;
}

export const bpsText = (bps: number) => `${(bps / 100).toFixed(2)}%`;

/** Base units → whole tokens, exact (for tables where precision matters). */
export const exactUnits = (value: string, decimals: number) => formatUnits(BigInt(value), decimals);
