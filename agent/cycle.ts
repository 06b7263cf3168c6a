import {
  type Address,
  type Chain,
  formatUnits,
  getAddress,
  type Hex,
  isAddress,
  type PublicClient,
  type Transport,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { type ExecutionFound, findDecisionExecution } from '../contracts/executionLogs.ts';
import { ConfirmationTimeoutError } from '../contracts/receipts.ts';
import {
  type BatchSimulation,
  decisionExecuted,
  type ExecutorContext,
  executePolicyBatch,
  PolicyRefusedError,
  policySwapsIn,
  preparePolicyBatch,
  type RebalanceExecution,
  simulateBatch,
  simulateInnerCalls,
} from '../contracts/safeExecutor.ts';
import { SAFE_TX_TYPES, safeTxAtNonce, safeTxToJson } from '../contracts/safeTransaction.ts';
import {
  type OwnerSignature,
  type TransactionService,
  verifiedSignatures,
} from '../contracts/transactionService.ts';
import { readBalancesAt, readSafeState } from '../contracts/treasuryReads.ts';
import { parseTreasuryPlugin, renderProposalBody } from '../governance/proposalBody.ts';
import type { PreparedMessage, ProposeInput, SnapshotClient } from '../governance/snapshotClient.ts';
import { ChainError, MarketDataError, RefusedError, TreasuryError } from '../shared/errors.ts';
import { formatNumber } from '../shared/numberFormat.ts';
import { priceAsOf } from '../strategies/priceHistory.ts';
import { configureStrategy } from '../strategies/registry.ts';
import { type AuditLog, sha256Hex } from './auditLog.ts';
import { DAY_SECONDS, type Decision, type DecisionInputs, decide, decisionInputs } from './decide.ts';
import type { RationaleWriter } from './draft/types.ts';
import type { Ledger, ProposalRow } from './ledger.ts';
import type { DailyCloses, MarketHistory } from './marketHistory.ts';
import {
  circuitBreakerProblems,
  LAST_OBSERVATION_KEY,
  type Observation,
  observe,
  type PriceReference,
  REFERENCE_MAX_AGE_SECONDS,
  tokenRefs,
} from './observe.ts';
import { draftFacts, proposalBodyInput, proposalTitle } from './proposalContent.ts';
import { checkVote, type PostedProposal } from './voteCheck.ts';
import { runWatchdog } from './watchdog.ts';

/**
 * One cycle of the agent (DESIGN.md): carry every open proposal forward (watch → execute exactly the voted
 * hash → verify), then, if none is open and the cadence allows, observe → decide → draft → propose.
 * Each ledger transition is committed before its side effect; every decision, refusal and effect is
 * appended to the audit log. The clock is injected (the chain's time locally), so tests and the demo run
 * cycles at any simulated time. Mode shadow logs the decision and posts nothing, executes nothing.
 */

export type CycleDeps = {
  config: TreasuryAgentConfig;
  client: PublicClient<Transport, Chain>;
  contracts: {
    router: Address;
    factory: Address;
    multiSendCallOnly: Address;
    /** PolicySwapper: checks each voted swap's price policy on chain (execution.policySwapper). */
    swapper: Address;
    contractNetworks?: ExecutorContext['contractNetworks'];
  };
  /** The daily closes for the strategy's lookback and the circuit breaker (the feeds' rounds, or a price file). */
  marketHistory: MarketHistory;
  ledger: Ledger;
  audit: AuditLog;
  clock: () => Promise<number>;
  writer: RationaleWriter;
  governance: SnapshotClient;
  agentKey: Hex;
  /** Co-signer keys (the devnet); production collects signatures through the Safe Transaction Service. */
  coSignerKeys: Hex[];
  /** Where co-signers confirm (execution.coSigning: safe-transaction-service). */
  transactionService?: TransactionService;
  /** One readable line per event (the demo's narrative). */
  log?: (line: string) => void;
  /**
   * Fault injection for the crash tests: called at each durable step (CRASH_POINTS); the test harness kills
   * the process there. Absent in normal runs.
   */
  crashPoint?: (point: CrashPoint) => void;
};

/** The steps between which a crash must leave the agent resumable without posting or executing twice. */
export const CRASH_POINTS = [
  'after-decision-record',
  'after-planned',
  'after-posted-transition',
  'after-proposal-sent',
  'after-executing-transition',
  'after-execution-sent',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** What the ledger keeps to rebuild and re-post a proposal. */
export type ProposalRecord = {
  inputs: DecisionInputs;
  propose: ProposeInput;
  decisionRecordId: string;
  writer: string;
};

export type CycleReport = { at: number; events: string[] };

class Expire extends TreasuryError {
  override name = 'Expire';
}

/** Not executable now, maybe later inside the voted window (the price policy refuses it at this moment). */
class Wait extends TreasuryError {
  override name = 'Wait';
}

const short = (hash: string) => `${hash.slice(0, 10)}…`;
const day = (at: number) => new Date(at * 1000).toISOString().slice(0, 10);

export async function runCycle(deps: CycleDeps): Promise<CycleReport> {
  const at = await deps.clock();
  const events: string[] = [];
  const say = (line: string) => {
    events.push(line);
    deps.log?.(`${day(at)} ${line}`);
  };
  // The watchdog looks first, paused or not: a change nobody explains is reported even while paused.
  await runWatchdog({ ...deps, log: say }, at);
  const paused = await deps.ledger.getState('paused');
  if (paused) {
    say(`agent paused: ${paused}`);
    return { at, events };
  }
  for (const row of await deps.ledger.open()) await advance(deps, row, at, say);
  await refuseForeignProposals(deps, at, say);
  if ((await deps.ledger.open()).length === 0 && (await cadenceAllows(deps, at)))
    await decideAndPropose(deps, at, say);
  return { at, events };
}

/** Set when a steward clears a circuit-breaker pause: the next observation is the new normal. */
const BREAKER_CLEARED_KEY = 'circuitBreakerCleared';

/**
 * What `treasury resume` does after a steward investigated: clears the pause and returns its reason (undefined
 * when not paused). A cleared circuit breaker makes the prices that tripped it the next reference.
 */
export async function clearPause(ledger: Ledger): Promise<string | undefined> {
  const reason = await ledger.getState('paused');
  if (!reason) return undefined;
  await ledger.clearState('paused');
  if (reason.startsWith('circuit breaker')) await ledger.setState(BREAKER_CLEARED_KEY, '1');
  return reason;
}
const BREAKER_CLEARED_AT_KEY = 'circuitBreakerClearedAt';

/**
 * observe, then the daily closes of the `lookbackDays + 1` days before the observation's day (read at its
 * block), then the circuit breaker: the prices are compared with the previous observation (within 36 h) and
 * with the close of the day before (unless a steward cleared a breaker within 36 h); a move beyond
 * observe.circuitBreaker pauses the agent, with the reason in the audit log, and stops this cycle. A feed
 * without a close on every one of those days stops the cycle too (MarketDataError).
 */
async function observeChecked(
  deps: CycleDeps,
  at: number,
  say: (line: string) => void,
  lookbackDays: number,
): Promise<{ observation: Observation; closes: DailyCloses }> {
  const { config, ledger } = deps;
  const observation = await observe({ client: deps.client, config, factory: deps.contracts.factory });
  const yesterday = Math.floor(observation.at / DAY_SECONDS) - 1;
  const feeds = tokenRefs(config);
  const closes = await deps.marketHistory.dailyCloses({
    tokens: config.tokens.map((t, i) => ({
      symbol: t.symbol,
      priceAsset: t.priceAsset,
      feed: feeds[i]!.feed,
    })),
    fromDay: yesterday - lookbackDays,
    toDay: yesterday,
    blockNumber: observation.blockNumber,
    blockTimestamp: observation.at,
  });
  const prices = Object.fromEntries(Object.values(observation.prices).map((p) => [p.symbol, p.usd]));
  const references: PriceReference[] = [];
  const last = await ledger.getState(LAST_OBSERVATION_KEY);
  if (last) {
    const previous = JSON.parse(last) as { at: number; prices: Record<string, number> };
    if (previous.at <= observation.at && observation.at - previous.at <= REFERENCE_MAX_AGE_SECONDS) {
      references.push({ what: `the previous observation (${utcTime(previous.at)})`, ...previous });
    }
  }
  if (await ledger.getState(BREAKER_CLEARED_KEY)) {
    await ledger.clearState(BREAKER_CLEARED_KEY);
    await ledger.setState(BREAKER_CLEARED_AT_KEY, String(observation.at));
  }
  const clearedAt = Number((await ledger.getState(BREAKER_CLEARED_AT_KEY)) ?? Number.NEGATIVE_INFINITY);
  if (observation.at - clearedAt > REFERENCE_MAX_AGE_SECONDS) {
    const yesterdays: Record<string, number> = {};
    for (const token of config.tokens) {
      const close = priceAsOf(closes.history, token.priceAsset, yesterday);
      if (close !== undefined) yesterdays[token.symbol] = close;
    }
    if (Object.keys(yesterdays).length > 0) {
      references.push({
        what: `the close of ${day(yesterday * DAY_SECONDS)}`,
        at: yesterday * DAY_SECONDS,
        prices: yesterdays,
      });
    }
  }
  const problems = circuitBreakerProblems(config, observation, references);
  // This observation is the next one's reference, also when it trips: a steward who clears the pause accepts it.
  await ledger.setState(LAST_OBSERVATION_KEY, JSON.stringify({ at: observation.at, prices }));
  if (problems.length) {
    const reason = `circuit breaker: ${problems.join('; ')}`;
    await ledger.setState('paused', reason);
    await deps.audit.append('circuit-breaker', { reason, problems, prices, references }, at);
    say(`PAUSED: ${reason}`);
    throw new MarketDataError(
      `circuit breaker tripped at block ${observation.blockNumber}: the agent is paused`,
      {
        details: problems,
        hint: 'investigate the move; if the prices are right, clear it with `treasury resume --config FILE`',
      },
    );
  }
  return { observation, closes };
}

async function cadenceAllows(deps: CycleDeps, at: number): Promise<boolean> {
  const last = (await deps.ledger.all()).at(-1);
  const lastShadow = Number((await deps.ledger.getState('lastShadowCycle')) ?? 0);
  const lastAt = Math.max(last?.cycleAt ?? 0, lastShadow);
  return at - lastAt >= deps.config.governance.proposalCadenceDays * 86_400 - 3600;
}

function contractsOf(deps: CycleDeps) {
  return {
    router: deps.contracts.router,
    factory: deps.contracts.factory,
    multiSendCallOnly: deps.contracts.multiSendCallOnly,
    swapper: deps.contracts.swapper,
  };
}

async function decideAndPropose(deps: CycleDeps, at: number, say: (line: string) => void) {
  const { config, audit } = deps;
  let observation: Observation;
  let closes: DailyCloses;
  try {
    const lookbackDays = config.strategy ? configureStrategy(config.strategy).lookbackDays : 0;
    ({ observation, closes } = await observeChecked(deps, at, say, lookbackDays));
  } catch (error) {
    if (!(error instanceof MarketDataError)) throw error;
    await audit.append('cycle-stopped', { reason: error.message }, at);
    say(`market data refused, no proposal: ${error.shortMessage}`);
    return;
  }
  const inputs = decisionInputs({
    config,
    observation,
    history: closes.history,
    provenance: closes.provenance,
    contracts: contractsOf(deps),
  });
  const decision = decide(inputs);
  const base = {
    mode: config.mode,
    inputs,
    targets: decision.targets,
    plan: decision.plan,
  };
  if (!decision.tx) {
    await audit.append('decision', { ...base, outcome: 'no-trades' }, at);
    say(`on target (or trades below the minimum): nothing to propose`);
    if (config.mode === 'shadow') await deps.ledger.setState('lastShadowCycle', String(at));
    return;
  }
  // The exact voted calls, run from the Safe now: what voters will read as the simulation, and a batch that
  // would already fail is never proposed.
  let simulation: BatchSimulation;
  try {
    simulation = await simulateBatch(executorContext(deps, { inputs }), decision.tx);
  } catch (error) {
    if (!(error instanceof TreasuryError)) throw error;
    await audit.append('decision', { ...base, outcome: 'not-proposed', reason: error.message }, at);
    say(`the voted batch would fail now, not proposed: ${error.shortMessage}`);
    if (config.mode === 'shadow') await deps.ledger.setState('lastShadowCycle', String(at));
    return;
  }

  const tokenNames = Object.fromEntries(config.tokens.map((t) => [t.symbol, t.name ?? t.symbol]));
  const earlier = (await deps.ledger.all()).slice(-3).map((r) => (r.record as ProposalRecord).propose.title);
  const facts = draftFacts(decision, observation, tokenNames, earlier);
  const draft = await deps.writer.write(facts);
  const decisionRecordId = audit.nextId();
  const bodyInput = proposalBodyInput({
    decision,
    observation,
    draft: draft.draft,
    auditRecordId: decisionRecordId,
    auditHead: audit.head(),
    simulation,
    discussionUrl: config.governance.discussionUrl,
    auditLogUrl: config.state.auditLogUrl,
  });
  const rendered = renderProposalBody(bodyInput);
  const propose: ProposeInput = {
    space: config.governance.space,
    title: proposalTitle(decision),
    body: rendered.body,
    snapshot: Number(observation.blockNumber),
    plugins: rendered.plugins,
    choices: ['For', 'Against', 'Abstain'],
    ...(config.governance.discussionUrl ? { discussion: config.governance.discussionUrl } : {}),
    timing: { delay: config.governance.votingDelaySeconds, period: config.governance.votingPeriodSeconds },
  };
  const skip = draft.draft.recommendation === 'skip';
  await audit.append(
    'decision',
    {
      ...base,
      outcome: config.mode === 'shadow' ? 'shadow' : skip ? 'skipped-by-model' : 'propose',
      decisionHash: decision.decisionHash,
      safeTx: safeTxToJson(decision.tx.safeTx),
      safeTxHash: decision.tx.safeTxHash,
      dataHash: decision.tx.dataHash,
      calls: decision.tx.callLabels,
      draft: draft.draft,
      writer: draft.writer,
      fallbackReason: draft.fallbackReason ?? null,
      prompt: draft.prompt ?? null,
      reply: draft.reply ?? null,
      proposal: { title: propose.title, bodySha256: sha256Hex(propose.body), plugins: rendered.plugin },
      simulation: { gasUsed: simulation.gasUsed, balancesAfter: simulation.balancesAfter },
    },
    at,
  );
  if (draft.fallbackReason)
    say(`the model's draft was not used (${draft.fallbackReason}); deterministic rationale instead`);
  if (config.mode === 'shadow') {
    await deps.ledger.setState('lastShadowCycle', String(at));
    say(`shadow mode: drafted "${propose.title}" (safeTxHash ${short(decision.tx.safeTxHash)}), not posted`);
    return;
  }
  if (skip) {
    say(`the model recommended skipping "${propose.title}": not proposed`);
    return;
  }
  deps.crashPoint?.('after-decision-record');
  const record: ProposalRecord = { inputs, propose, decisionRecordId, writer: draft.writer };
  const key = `p-${at}-${decision.tx.safeTxHash.slice(2, 10)}`;
  const row = await deps.ledger.insertPlanned({
    key,
    cycleAt: at,
    record,
    safeTxHash: decision.tx.safeTxHash,
    safeNonce: inputs.safe.nonce,
    now: at,
  });
  deps.crashPoint?.('after-planned');
  await post(deps, row, at, say);
}

/** planned → posted: the transition is stored first; then the message is sent (or found already sent). */
async function post(deps: CycleDeps, row: ProposalRow, at: number, say: (line: string) => void) {
  const record = row.record as ProposalRecord;
  const posted = await deps.ledger.transition(row.key, 'planned', 'posted', {}, at);
  deps.crashPoint?.('after-posted-transition');
  await sendProposal(deps, posted, at, say, record);
}

async function findOwnProposal(deps: CycleDeps, row: ProposalRow): Promise<string | undefined> {
  const record = row.record as ProposalRecord;
  const list = await deps.governance.listProposals(record.propose.space, { first: 20, state: 'all' });
  const agent = getAddress(deps.governance.address);
  const found = list.find((p) => {
    if (getAddress(p.author) !== agent) return false;
    try {
      return parseTreasuryPlugin(p.plugins).safeTxHash.toLowerCase() === row.safeTxHash.toLowerCase();
    } catch {
      return false;
    }
  });
  return found?.id;
}

async function sendProposal(
  deps: CycleDeps,
  row: ProposalRow,
  at: number,
  say: (line: string) => void,
  record: ProposalRecord,
) {
  // Never re-send what may have been accepted: look for it on the hub first.
  const existing = row.proposalId ?? (await findOwnProposal(deps, row));
  let proposalId = existing;
  if (!existing) {
    // The signed message is kept first: a crash after this re-sends the same message (same id), and the watch
    // step later compares the hub's copy with exactly what was signed.
    const prepared =
      (row.envelope as PreparedMessage | null) ?? (await deps.governance.prepareProposal(record.propose));
    if (!row.envelope) await deps.ledger.annotate(row.key, { envelope: prepared }, at);
    const receipt = await deps.governance.send(prepared);
    proposalId = receipt.id;
    deps.crashPoint?.('after-proposal-sent');
  }
  await deps.ledger.annotate(row.key, { proposalId }, at);
  await deps.audit.append(
    'proposal-posted',
    {
      ledgerKey: row.key,
      proposalId,
      safeTxHash: row.safeTxHash,
      decisionRecord: record.decisionRecordId,
      recovered: !!existing,
    },
    at,
  );
  say(
    `proposal posted: "${record.propose.title}" — id ${short(proposalId!)}, safeTxHash ${short(row.safeTxHash)}`,
  );
}

async function advance(deps: CycleDeps, row: ProposalRow, at: number, say: (line: string) => void) {
  if (row.state === 'planned') {
    if (deps.config.mode === 'shadow') return;
    return post(deps, row, at, say);
  }
  if (row.state === 'posted') {
    if (!row.proposalId) return sendProposal(deps, row, at, say, row.record as ProposalRecord);
    return watch(deps, row, at, say);
  }
  if (row.state === 'passed') return execute(deps, row, at, say);
  if (row.state === 'executing') return resumeExecution(deps, row, at, say);
}

/** posted → passed | rejected | expired, once the hub says the vote is closed and final. */
async function watch(deps: CycleDeps, row: ProposalRow, at: number, say: (line: string) => void) {
  const scores = await deps.governance.getScores(row.proposalId!);
  if (!scores) {
    const next = await deps.ledger.transition(
      row.key,
      'posted',
      'expired',
      { reason: 'the proposal is gone from the hub (cancelled)' },
      at,
    );
    await deps.audit.append(
      'vote-result',
      { ledgerKey: row.key, proposalId: row.proposalId, outcome: 'expired', reason: next.reason },
      at,
    );
    say(`proposal ${short(row.proposalId!)} is gone from the hub: expired`);
    return;
  }
  if (!scores.final) return;
  // The hub's word is checked against what the agent signed and against the chain before it is believed.
  const checked = await verifyVote(deps, row, at);
  if (!checked.ok) {
    const reason = `the hub's account of the vote does not hold: ${checked.problems[0]}`;
    await deps.ledger.transition(row.key, 'posted', 'failed', { reason }, at);
    await deps.audit.append(
      'vote-refused',
      {
        ledgerKey: row.key,
        proposalId: row.proposalId,
        problems: checked.problems,
        recomputed: checked.tally,
      },
      at,
    );
    say(`vote on ${short(row.proposalId!)} refused: ${reason}`);
    return;
  }
  const quorum = deps.config.governance.quorum;
  const { for: forVotes, against, abstain, total } = checked.tally;
  const tally = { for: forVotes, against, abstain, total, quorum, votes: checked.tally.votes };
  let outcome: 'passed' | 'rejected';
  let reason: string;
  const symbol = deps.config.tokens.find((t) => t.role === 'governance')!.symbol;
  const tokens = (n: number) => `${formatNumber(n, { maximumFractionDigits: 2 })} ${symbol}`;
  if (total < quorum) {
    outcome = 'rejected';
    reason = `short of quorum: ${tokens(total)} voted, ${tokens(quorum)} needed`;
  } else if (forVotes <= against) {
    outcome = 'rejected';
    reason = `For ${tokens(forVotes)} did not beat Against ${tokens(against)}`;
  } else {
    outcome = 'passed';
    reason = `For ${tokens(forVotes)} beat Against ${tokens(against)}, with ${tokens(total)} voted (quorum ${tokens(quorum)})`;
  }
  const votes = checked.votes.map((v) => ({ voter: v.voter, choice: v.choice, vp: v.vp }));
  await deps.ledger.transition(row.key, 'posted', outcome, { reason }, at);
  await deps.audit.append(
    'vote-result',
    { ledgerKey: row.key, proposalId: row.proposalId, outcome, reason, tally, votes },
    at,
  );
  say(`vote closed on ${short(row.proposalId!)}: ${outcome} (${reason})`);
  if (outcome === 'passed') await execute(deps, (await deps.ledger.get(row.key))!, at, say);
}

/**
 * The vote as the agent can establish it itself: the hub's copy against the signed message, the tally from the
 * hub's votes with each voter's power read from the chain at the snapshot block (agent/voteCheck.ts).
 */
export async function verifyVote(deps: CycleDeps, row: ProposalRow, at: number) {
  const prepared = row.envelope as PreparedMessage | null;
  const [hub, votes] = await Promise.all([
    deps.governance.getProposal(row.proposalId!),
    deps.governance.getVotes(row.proposalId!),
  ]);
  const token = deps.config.tokens.find((t) => t.role === 'governance')!;
  const none = { for: 0, against: 0, abstain: 0, total: 0, votes: 0 };
  if (!prepared || !hub) {
    const problem = !prepared
      ? 'the agent kept no copy of the message it signed, so the hub cannot be checked'
      : 'the proposal is gone from the hub';
    return { ok: false as const, problems: [problem], tally: none, votes };
  }
  const voters = [
    ...new Set(votes.filter((v) => isAddress(v.voter, { strict: false })).map((v) => getAddress(v.voter))),
  ];
  const snapshot = (prepared.message as { snapshot: number }).snapshot;
  const balances = await readBalancesAt(deps.client, {
    token: token.address!,
    holders: voters,
    blockNumber: BigInt(snapshot),
  });
  const check = checkVote({
    posted: prepared.message as unknown as PostedProposal,
    timing: {
      delay: deps.config.governance.votingDelaySeconds,
      period: deps.config.governance.votingPeriodSeconds,
    },
    token: { address: token.address!, decimals: token.decimals },
    chainId: deps.config.chain.id,
    now: at,
    hub,
    votes,
    balances,
  });
  return { ...check, votes };
}

function sameCalls(
  a: { to: string; value: string; data: string; operation: number }[],
  b: { to: string; value: bigint; data: string; operation: number }[],
) {
  return (
    a.length === b.length &&
    a.every(
      (x, i) =>
        getAddress(x.to) === getAddress(b[i]!.to) &&
        BigInt(x.value) === b[i]!.value &&
        x.data.toLowerCase() === b[i]!.data.toLowerCase() &&
        x.operation === b[i]!.operation,
    )
  );
}

/** The executor's view of this agent's Safe, allowlists and contracts. */
function executorContext(deps: CycleDeps, record: Pick<ProposalRecord, 'inputs'>): ExecutorContext {
  return {
    client: deps.client,
    rpcUrl: deps.config.chain.rpcUrl,
    chainId: deps.config.chain.id,
    safe: record.inputs.safe.address,
    router: record.inputs.contracts.router,
    factory: record.inputs.contracts.factory,
    multiSendCallOnly: record.inputs.contracts.multiSendCallOnly,
    swapper: deps.contracts.swapper,
    contractNetworks: deps.contracts.contractNetworks,
    tokens: tokenRefs(deps.config),
    allowedRouters: [deps.contracts.router],
  };
}

/**
 * The checks before executing a passed proposal. Throws RefusedError (never executable: failed), Expire
 * (no longer executable as voted: expired), MarketDataError (wait) or returns the rebuilt decision.
 * What voters approved is the batch of calls: the Safe's nonce may have moved (payroll, grants) and the same
 * calls run at the nonce of the moment; PolicySwapper refuses a decision it already executed.
 */
async function checkBeforeExecution(deps: CycleDeps, row: ProposalRow, at: number): Promise<Decision> {
  const record = row.record as ProposalRecord;
  // 1. The hub's copy, re-read now: same author, same body, same transaction.
  const hub = await deps.governance.getProposal(row.proposalId!);
  if (!hub) throw new Expire('the proposal is gone from the hub');
  if (getAddress(hub.author) !== getAddress(deps.governance.address)) {
    throw new RefusedError(`posted by another author (${hub.author}), not the agent`);
  }
  if ((hub.body ?? '') !== record.propose.body || hub.title !== record.propose.title) {
    throw new RefusedError(
      "the hub's copy was edited after posting: its body differs from what the agent posted",
    );
  }
  const plugin = parseTreasuryPlugin(hub.plugins);
  if (plugin.safeTxHash.toLowerCase() !== row.safeTxHash.toLowerCase()) {
    throw new RefusedError(
      `the hub's safeTxHash ${plugin.safeTxHash} differs from the ledger's ${row.safeTxHash}`,
    );
  }
  // 2. Rebuild from the ledger: the same inputs must give the same calls, calldata and hash.
  const decision = decide(record.inputs);
  if (!decision.tx || decision.tx.safeTxHash.toLowerCase() !== row.safeTxHash.toLowerCase()) {
    throw new RefusedError(
      `rebuilding the transaction gave ${decision.tx?.safeTxHash ?? 'no transaction'}, not ${row.safeTxHash}`,
    );
  }
  if (
    !sameCalls(plugin.transactions, decision.tx.calls) ||
    plugin.nonce !== Number(decision.tx.safeTx.nonce) ||
    plugin.dataHash.toLowerCase() !== decision.tx.dataHash.toLowerCase() ||
    plugin.decisionHash.toLowerCase() !== decision.decisionHash.toLowerCase()
  ) {
    throw new RefusedError("the hub's transaction list differs from the rebuilt transaction");
  }
  // 3. The voted window.
  if (BigInt(record.inputs.deadline) < BigInt(at)) {
    const waited = await deps.ledger.getState(`waiting:${row.key}`);
    const last = waited ? ` (last refusal: ${waited})` : '';
    throw new Expire(`the voted validity window ended at ${utcTime(Number(record.inputs.deadline))}${last}`);
  }
  // 4. Prices: fresh, sane feeds (else wait), then the batch as the chain would run it now.
  await observeChecked(deps, at, () => {}, 0);
  const ctx = executorContext(deps, record);
  try {
    const prepared = await preparePolicyBatch(ctx, {
      decision: decision.policyDecision,
      expectedDataHash: decision.tx.dataHash,
    });
    await simulateInnerCalls(ctx, prepared);
  } catch (error) {
    // The chain would refuse the batch now (a price below the floor, a pool pushed from the oracle, a
    // stale feed): nothing is sent, and the agent tries again until the voted window ends.
    if (error instanceof PolicyRefusedError && error.reason !== 'already-executed') {
      throw new Wait(error.shortMessage, { cause: error });
    }
    throw error;
  }
  return decision;
}

const utcTime = (t: number) => `${new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** passed → executing → executed | failed (or expired when it can no longer run as voted). */
async function execute(deps: CycleDeps, row: ProposalRow, at: number, say: (line: string) => void) {
  const record = row.record as ProposalRecord;
  const hub = await deps.governance.getProposal(row.proposalId!);
  if (hub && at < hub.end + deps.config.governance.executionDelaySeconds) return; // not yet
  // Executed already (a co-signer ran the confirmed transaction from the Safe Transaction Service)?
  const found = await executedOnChain(deps, record);
  if (found) {
    await deps.ledger.transition(row.key, 'passed', 'executing', {}, at);
    say(`${short(row.safeTxHash)} was already executed on chain in ${short(found.transactionHash)}`);
    await finishFromChain(deps, (await deps.ledger.get(row.key))!, found, at, say);
    return;
  }
  let decision: Decision;
  try {
    decision = await checkBeforeExecution(deps, row, at);
  } catch (error) {
    if (error instanceof MarketDataError || error instanceof Wait) {
      say(`execution of ${short(row.proposalId!)} waits: ${error.shortMessage}`);
      await deps.ledger.setState(`waiting:${row.key}`, error.shortMessage);
      await deps.audit.append('execution-waiting', { ledgerKey: row.key, reason: error.message }, at);
      return;
    }
    if (!(error instanceof TreasuryError)) throw error;
    const to = error instanceof Expire ? 'expired' : 'failed';
    await deps.ledger.transition(row.key, 'passed', to, { reason: error.shortMessage }, at);
    await deps.audit.append(
      'execution-refused',
      { ledgerKey: row.key, proposalId: row.proposalId, outcome: to, reason: error.shortMessage },
      at,
    );
    say(`not executed (${to}): ${error.shortMessage}`);
    return;
  }
  if (deps.config.execution.coSigning === 'safe-transaction-service') {
    const signing = await collectSignatures(deps, decision, record);
    if (signing.count < signing.threshold) {
      say(
        `waiting for co-signatures on the Safe Transaction Service: ${signing.count} of ${signing.threshold}`,
      );
      return;
    }
  }
  await deps.ledger.transition(row.key, 'passed', 'executing', {}, at);
  deps.crashPoint?.('after-executing-transition');
  await executeNow(deps, (await deps.ledger.get(row.key))!, decision, record, at, say);
}

/**
 * The signatures for a voted transaction at the Safe's current nonce. local-keys: the agent's and enough
 * co-signer keys from the environment (the devnet). safe-transaction-service: the agent proposes the
 * transaction with its own signature (idempotent) and reads the other owners' confirmations, each verified
 * against the safeTxHash.
 */
async function collectSignatures(deps: CycleDeps, decision: Decision, record: ProposalRecord) {
  const safe = await readSafeState(deps.client, { safe: record.inputs.safe.address });
  const owners = new Set(safe.owners.map((o) => getAddress(o)));
  const agent = privateKeyToAccount(deps.agentKey);
  if (deps.config.execution.coSigning === 'local-keys') {
    const coSigners = deps.coSignerKeys
      .filter(
        (k) => owners.has(privateKeyToAccount(k).address) && privateKeyToAccount(k).address !== agent.address,
      )
      .slice(0, Math.max(0, safe.threshold - 1));
    return {
      keys: [deps.agentKey, ...coSigners],
      collected: [] as OwnerSignature[],
      count: 1 + coSigners.length,
      threshold: safe.threshold,
    };
  }
  const service = deps.transactionService;
  if (!service)
    throw new TreasuryError('execution.coSigning is safe-transaction-service but no service is configured');
  const now = safeTxAtNonce(record.inputs.safe.chainId, record.inputs.safe.address, decision.tx!, safe.nonce);
  const senderSignature = await agent.signTypedData({
    domain: { chainId: record.inputs.safe.chainId, verifyingContract: record.inputs.safe.address },
    types: SAFE_TX_TYPES,
    primaryType: 'SafeTx',
    message: now.safeTx,
  });
  await service.propose({
    safe: record.inputs.safe.address,
    safeTx: now.safeTx,
    safeTxHash: now.safeTxHash,
    sender: agent.address,
    senderSignature,
  });
  const collected = (
    await verifiedSignatures(now.safeTxHash, await service.confirmations(now.safeTxHash))
  ).filter((c) => owners.has(getAddress(c.owner)) && getAddress(c.owner) !== agent.address);
  return { keys: [deps.agentKey], collected, count: 1 + collected.length, threshold: safe.threshold };
}

async function executeNow(
  deps: CycleDeps,
  row: ProposalRow,
  decision: Decision,
  record: ProposalRecord,
  at: number,
  say: (line: string) => void,
) {
  const signing = await collectSignatures(deps, decision, record);
  let result: RebalanceExecution;
  try {
    result = await executePolicyBatch(
      executorContext(deps, record),
      { decision: decision.policyDecision, expectedDataHash: decision.tx!.dataHash },
      signing.keys,
      signing.collected,
    );
  } catch (error) {
    if (!(error instanceof TreasuryError)) throw error;
    // Sent, not yet confirmed: it may still be mined, so this is no failure. The row stays `executing` and the
    // next cycle looks for it on chain first (resumeExecution); the Safe's nonce forbids a second run anyway.
    if (error instanceof ConfirmationTimeoutError) throw error;
    // A price-policy refusal is found before anything is sent (the batch is simulated first). While the voted
    // window is open it waits, as the check before execution does: another swap may have moved the pool between
    // that check and now, and arbitrage brings it back. The row stays `executing`, so the next cycle looks on
    // chain first (resumeExecution) and then tries the same voted batch again; after the window it expires.
    const windowOpen = BigInt(record.inputs.deadline) >= BigInt(at);
    if (error instanceof PolicyRefusedError && error.reason !== 'already-executed' && windowOpen) {
      say(`execution of ${short(row.proposalId!)} waits: ${error.shortMessage}`);
      await deps.ledger.setState(`waiting:${row.key}`, error.shortMessage);
      await deps.audit.append('execution-waiting', { ledgerKey: row.key, reason: error.message }, at);
      return;
    }
    const to = error instanceof PolicyRefusedError ? 'expired' : 'failed';
    await deps.ledger.transition(row.key, 'executing', to, { reason: error.shortMessage }, at);
    await deps.audit.append(
      'execution-failed',
      { ledgerKey: row.key, outcome: to, reason: error.message },
      at,
    );
    say(`execution ${to}: ${error.shortMessage}`);
    return;
  }
  deps.crashPoint?.('after-execution-sent');
  await finishExecution(deps, row, decision, result, at, say);
}

type ExecutionFacts = Pick<RebalanceExecution, 'transactionHash' | 'safeTxHash' | 'policySwaps'> &
  Partial<Pick<RebalanceExecution, 'balanceChanges' | 'gasUsed' | 'nonce'>>;

async function finishExecution(
  deps: CycleDeps,
  row: ProposalRow,
  decision: Decision,
  result: ExecutionFacts,
  at: number,
  say: (line: string) => void,
) {
  const divergences = result.balanceChanges ? compareWithPlan(decision, result.balanceChanges) : [];
  await deps.ledger.transition(
    row.key,
    'executing',
    'executed',
    { executionTxHash: result.transactionHash },
    at,
  );
  await deps.audit.append(
    'executed',
    {
      ledgerKey: row.key,
      proposalId: row.proposalId,
      safe: decision.inputs.safe.address,
      decisionHash: decision.decisionHash,
      policySwapper: decision.inputs.contracts.swapper,
      dataHash: decision.tx!.dataHash,
      votedSafeTxHash: row.safeTxHash,
      safeTxHash: result.safeTxHash,
      nonce: result.nonce ?? null,
      transactionHash: result.transactionHash,
      gasUsed: result.gasUsed ?? null,
      policySwaps: result.policySwaps,
      balanceChanges: result.balanceChanges ?? null,
      divergences,
    },
    at,
  );
  const moved =
    result.safeTxHash.toLowerCase() === row.safeTxHash.toLowerCase()
      ? ''
      : ` (the Safe's nonce had moved: executed as ${short(result.safeTxHash)})`;
  say(`executed ${short(row.safeTxHash)} in transaction ${short(result.transactionHash)}${moved}`);
  if (divergences.length) {
    const reason = `balances diverged from the plan after ${result.transactionHash}: ${divergences.join('; ')}`;
    await deps.ledger.setState('paused', reason);
    await deps.audit.append('paused', { reason }, at);
    say(`PAUSED: ${reason}`);
  }
}

/** Each sold token must fall by exactly its amount in; each bought token rise by at least its minimum out. */
export function compareWithPlan(decision: Decision, changes: RebalanceExecution['balanceChanges']): string[] {
  const expectedMin: Record<string, bigint> = {};
  const expectedMax: Record<string, bigint> = {};
  for (const s of decision.plan.swaps) {
    expectedMin[s.sell] = (expectedMin[s.sell] ?? 0n) - s.amountIn;
    expectedMax[s.sell] = (expectedMax[s.sell] ?? 0n) - s.amountIn;
    expectedMin[s.buy] = (expectedMin[s.buy] ?? 0n) + s.minAmountOut;
    expectedMax[s.buy] = (expectedMax[s.buy] ?? 0n) + s.expectedAmountOut * 2n;
  }
  const problems: string[] = [];
  for (const [symbol, change] of Object.entries(changes)) {
    const min = expectedMin[symbol] ?? 0n;
    const max = expectedMax[symbol] ?? 0n;
    if (change.delta < min || change.delta > max)
      problems.push(
        // exact display units: a divergence may be in the last digits
        `${symbol} changed by ${formatUnits(change.delta, change.decimals)} ${symbol}, expected between ${formatUnits(min, change.decimals)} and ${formatUnits(max, change.decimals)} ${symbol}`,
      );
  }
  return problems;
}

/** Where PolicySwapper executed this proposal's decision, if it did (its replay guard is the proof). */
async function executedOnChain(deps: CycleDeps, record: ProposalRecord): Promise<ExecutionFound | undefined> {
  const decision = decide(record.inputs);
  const safe = record.inputs.safe.address;
  if (!(await decisionExecuted(deps.client, deps.contracts.swapper, safe, decision.decisionHash)))
    return undefined;
  const found = await findDecisionExecution(deps.client, {
    swapper: deps.contracts.swapper,
    safe,
    decisionHash: decision.decisionHash,
    fromBlock: BigInt(record.propose.snapshot),
    chunkBlocks: deps.config.chain.logChunkBlocks ? BigInt(deps.config.chain.logChunkBlocks) : undefined,
  });
  if (!found) {
    throw new ChainError(
      `PolicySwapper says decision ${decision.decisionHash} executed, but no DecisionExecuted event was found since block ${record.propose.snapshot}`,
      { hint: 'is the RPC an archive of recent logs? the agent will look again next cycle' },
    );
  }
  return found;
}

async function finishFromChain(
  deps: CycleDeps,
  row: ProposalRow,
  found: ExecutionFound,
  at: number,
  say: (line: string) => void,
) {
  const record = row.record as ProposalRecord;
  const decision = decide(record.inputs);
  const receipt = await deps.client.getTransactionReceipt({ hash: found.transactionHash });
  await finishExecution(
    deps,
    row,
    decision,
    {
      transactionHash: found.transactionHash,
      safeTxHash: found.safeTxHash ?? (row.safeTxHash as Hex),
      policySwaps: policySwapsIn(receipt.logs, deps.contracts.swapper, record.inputs.safe.address),
      gasUsed: receipt.gasUsed,
    },
    at,
    say,
  );
}

/** A crash while executing: the chain says whether the voted decision ran (PolicySwapper's replay guard). */
async function resumeExecution(deps: CycleDeps, row: ProposalRow, at: number, say: (line: string) => void) {
  const record = row.record as ProposalRecord;
  const found = await executedOnChain(deps, record);
  if (found) {
    say(`resumed: ${short(row.safeTxHash)} had already executed in ${short(found.transactionHash)}`);
    await finishFromChain(deps, row, found, at, say);
    return;
  }
  // Fresh, sane prices first, as before any execution (a stale feed or the circuit breaker: wait).
  try {
    await observeChecked(deps, at, () => {}, 0);
  } catch (error) {
    if (!(error instanceof MarketDataError)) throw error;
    say(`execution of ${short(row.proposalId!)} waits: ${error.shortMessage}`);
    await deps.ledger.setState(`waiting:${row.key}`, error.shortMessage);
    await deps.audit.append('execution-waiting', { ledgerKey: row.key, reason: error.message }, at);
    return;
  }
  say(`resuming the execution of ${short(row.safeTxHash)}`);
  await executeNow(deps, row, decide(record.inputs), record, at, say);
}

/** Proposals in the space that carry our plugin but were not posted by the agent: refused, and recorded once. */
async function refuseForeignProposals(deps: CycleDeps, at: number, say: (line: string) => void) {
  if (deps.config.mode === 'shadow') return;
  const list = await deps.governance.listProposals(deps.config.governance.space, { first: 20, state: 'all' });
  const agent = getAddress(deps.governance.address);
  for (const p of list) {
    if (getAddress(p.author) === agent || (await deps.ledger.getState(`refused:${p.id}`))) continue;
    let plugin: ReturnType<typeof parseTreasuryPlugin>;
    try {
      plugin = parseTreasuryPlugin(p.plugins);
    } catch {
      continue;
    }
    const reason = `posted by another author (${p.author}): the agent executes only its own proposals`;
    await deps.ledger.setState(`refused:${p.id}`, reason);
    await deps.audit.append(
      'execution-refused',
      { proposalId: p.id, safeTxHash: plugin.safeTxHash, outcome: 'refused', reason },
      at,
    );
    say(`refused proposal ${short(p.id)}: ${reason}`);
  }
}
