import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { privateKeyToAccount } from 'viem/accounts';
import type { TreasuryAgentConfig } from '../../config/schema.ts';
import { setChainTime } from '../../contracts/chainTime.ts';
import { DEFAULT_PRICES_PATH } from '../../contracts/localDevnet.ts';
import { readHoldings } from '../../contracts/treasuryReads.ts';
import { chainClock } from '../../governance/clock.ts';
import { createSnapshotClient } from '../../governance/snapshotClient.ts';
import { TreasuryError } from '../../shared/errors.ts';
import { dayOf, isoDateOf, loadPriceHistory } from '../../strategies/priceHistory.ts';
import { type AuditRecord, parseAuditLog } from '../auditLog.ts';
import { runCycle } from '../cycle.ts';
import { startLocalStack } from '../localStack.ts';
import { buildRuntime } from '../runtime.ts';
import { applyMarketDay, postClosesOfDays, pricesOnDay } from './market.ts';
import { DEMO_MEMBERS, type MemberPolicy } from './members.ts';

/**
 * The demo: the whole product on one machine. A DAO (its Safe, its token held by six members, a treasury 90% in
 * its own token) lives through a stretch of real market history at accelerated time. Every simulated week the
 * agent runs its cycle; members vote through snapshot.js by their policies; passed proposals execute through
 * the Safe with the co-signers' signatures; feeds and pools follow history.
 */
export type DemoOptions = {
  config: TreasuryAgentConfig;
  from: string;
  to: string;
  outDir: string;
  log: (line: string) => void;
  signal: AbortSignal;
  members?: MemberPolicy[];
  pricesPath?: string;
};

export type WeekPoint = {
  date: string;
  valueUsd: number;
  baselineUsd: number;
  allocationBps: Record<string, number>;
  runwayMonths: number;
  prices: Record<string, number>;
};

export type DemoProposal = {
  id: string;
  title: string;
  state: string;
  /** passed or rejected by the vote (absent while voting). */
  voteOutcome: string | null;
  reason: string | null;
  safeTxHash: string;
  executionTxHash: string | null;
  /** USD the proposal moves (one-way, as planned). */
  movedUsd: number;
  rationale: string;
  summary: string;
  writer: string;
  votes: { member: string; address: string; choice: string; vp: number; reason: string }[];
};

export type DemoResult = {
  weeks: WeekPoint[];
  proposals: DemoProposal[];
  auditPath: string;
  /** Where the stack was (valid only inside the keep-alive callback, before everything stops). */
  rpcUrl?: string;
  hubUrl?: string;
  space?: string;
  safeAddress?: string;
  members: { name: string; address: string; stake: number; policy: string }[];
  elapsedMs: number;
  aborted: boolean;
};

const NOON = 12 * 3600;
const CHOICES = ['', 'For', 'Against', 'Abstain'];

/** A step of the demo failed: names the simulated day and the step; the original error is the cause. */
export class DemoStepError extends TreasuryError {
  override name = 'DemoStepError';
  readonly step: string;
  constructor(step: string, cause: unknown) {
    const inner = cause instanceof TreasuryError ? cause : undefined;
    const what = inner?.shortMessage ?? (cause as { shortMessage?: string })?.shortMessage ?? String(cause);
    const rpc = /Http|Rpc|Timeout|fetch failed|ECONN/.test(`${(cause as Error)?.name} ${what}`);
    super(`demo stopped at ${step}: ${what}`, {
      cause,
      details: inner?.details,
      hint:
        inner?.hint ??
        (rpc
          ? 'the local chain or hub did not answer: if the machine is busy, run the demo again when it is quieter'
          : 'TREASURY_DEBUG=1 prints where it failed'),
    });
    this.step = step;
  }
}

/** Runs one step; whatever fails in it is reported with the step's name. */
async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw error instanceof DemoStepError ? error : new DemoStepError(name, error);
  }
}

export async function runDemo(
  options: DemoOptions,
  keepAlive?: (result: DemoResult) => Promise<void>,
): Promise<DemoResult> {
  const started = Date.now();
  const members = options.members ?? DEMO_MEMBERS;
  const fromDay = dayOf(options.from);
  const toDay = dayOf(options.to);
  mkdirSync(options.outDir, { recursive: true });
  for (const file of [
    'audit.jsonl',
    'ledger.db',
    'ledger.db-wal',
    'ledger.db-shm',
    'hub.db',
    'hub.db-wal',
    'hub.db-shm',
  ]) {
    rmSync(join(options.outDir, file), { force: true });
  }
  const config: TreasuryAgentConfig = {
    ...options.config,
    mode: 'live',
    devnet: { ...options.config.devnet!, priceDate: isoDateOf(fromDay - 1) },
    state: {
      ledgerPath: join(options.outDir, 'ledger.db'),
      auditLogPath: join(options.outDir, 'audit.jsonl'),
    },
  };
  const history = await loadPriceHistory(options.pricesPath ?? DEFAULT_PRICES_PATH);
  const say = options.log;
  say(`starting the local chain and hub; replaying ${options.from} → ${options.to}`);
  const stack = await step('starting the local chain and hub', () =>
    startLocalStack({
      config,
      memberStakes: members.map((m) => m.stake),
      hubDbPath: join(options.outDir, 'hub.db'),
      pricesPath: options.pricesPath,
    }),
  );
  const runtime = await buildRuntime({
    config: stack.config,
    env: stack.env,
    contractNetworks: stack.contractNetworks,
    log: (line) => say(`  agent  ${line}`),
  });
  const clock = chainClock(stack.config.chain.rpcUrl);
  say(
    `local chain ${stack.config.chain.rpcUrl} · hub ${stack.hub.url} · DAO Safe ${stack.config.safe.address}`,
  );
  const voters = stack.members.map((m) =>
    createSnapshotClient({ hubUrl: stack.hub.url, account: privateKeyToAccount(m.key), clock }),
  );
  const voteReasons = new Map<string, string>();
  const weeks: WeekPoint[] = [];
  const memberList = members.map((m, i) => ({
    name: m.name,
    address: stack.members[i]!.address,
    stake: m.stake,
    policy: m.policy,
  }));
  for (const m of memberList)
    say(`member ${m.name} ${m.address} holds ${m.stake.toLocaleString('en-US')} GOV — ${m.policy}`);
  const safe = stack.config.safe.address!;
  const tokens = stack.config.tokens.map((t) => ({
    symbol: t.symbol,
    address: t.address!,
    decimals: t.decimals,
  }));
  const initial = await readHoldings(runtime.client, { safe, tokens });
  const stableSymbols = new Set(stack.config.tokens.filter((t) => t.role === 'stable').map((t) => t.symbol));
  let aborted = false;
  let previousEth: number | undefined;
  /** The last day whose close the feeds hold (the devnet starts with priceDate's). */
  let lastMoved = fromDay - 1;

  const value = (amounts: Record<string, bigint>, prices: Record<string, number>) => {
    const usd: Record<string, number> = {};
    for (const t of tokens)
      usd[t.symbol] = (Number(amounts[t.symbol] ?? 0n) / 10 ** t.decimals) * (prices[t.symbol] ?? 0);
    return usd;
  };

  /** The agent's cycle at the chain's current time; the members vote an hour later on any proposal it posted. */
  const cycleAndVote = async (day: number, ethChange: number) => {
    const date = isoDateOf(day);
    const before = new Set((await runtime.ledger.all()).map((r) => r.key));
    await step(`${date}, the agent's cycle`, () => runCycle(runtime));
    const posted = (await runtime.ledger.all()).filter((r) => !before.has(r.key) && r.proposalId);
    for (const row of posted) {
      const proposal = await step(`${date}, reading the proposal from the hub`, async () => {
        await setChainTime(runtime.client, day * 86_400 + NOON + 3600);
        return runtime.governance.getProposal(row.proposalId!);
      });
      if (!proposal) continue;
      for (const [i, member] of members.entries()) {
        const decision = member.decide(proposal, { ethWeeklyChange: ethChange });
        if (!decision) continue;
        await step(`${date}, ${member.name}'s vote`, () =>
          voters[i]!.vote({
            space: stack.config.governance.space,
            proposal: proposal.id,
            choice: decision.choice,
            reason: decision.reason,
          }),
        );
        voteReasons.set(`${proposal.id}:${stack.members[i]!.address}`, decision.reason);
        say(
          `  vote   ${member.name} votes ${CHOICES[decision.choice]} (${member.stake.toLocaleString('en-US')} GOV): ${decision.reason}`,
        );
      }
    }
  };

  try {
    for (let day = fromDay; day <= toDay; day += 7) {
      if (options.signal.aborted) {
        aborted = true;
        break;
      }
      // Monday: the market moves to the day's closes, then the agent's cycle (its lookback read from the feeds,
      // which hold every day's close: the days skipped since the last move are posted first).
      const monday = isoDateOf(day);
      const prices = pricesOnDay(stack, history, day);
      await step(`${monday}, moving the market to the day's closes`, async () => {
        await setChainTime(runtime.client, day * 86_400 + NOON);
        if (lastMoved < day - 1) await postClosesOfDays(stack, history, lastMoved + 1, day - 1);
        await applyMarketDay(stack, prices);
      });
      lastMoved = day;
      const eth = prices.WETH ?? 0;
      const ethChange = previousEth ? eth / previousEth - 1 : 0;
      previousEth = eth;
      say(
        `${isoDateOf(day)} market  ${Object.entries(prices)
          .filter(([s]) => !stableSymbols.has(s))
          .map(([s, p]) => {
            const cents = p < 100 ? 2 : 0; // $8.80, not $8.8
            return `${s} $${p.toLocaleString('en-US', { minimumFractionDigits: cents, maximumFractionDigits: cents })}`;
          })
          .join(
            ' · ',
          )}${previousEth && ethChange ? ` (ETH ${ethChange >= 0 ? '+' : ''}${(ethChange * 100).toFixed(1)}% w/w)` : ''}`,
      );
      await cycleAndVote(day, ethChange);
      if (options.signal.aborted) {
        aborted = true;
        break;
      }
      // Once the vote has closed and the execution delay passed: the market moves again, the agent executes
      // (and may post the next proposal: the members vote on it then, as on Monday's).
      const g = stack.config.governance;
      const friday =
        day +
        Math.ceil((g.votingDelaySeconds + g.votingPeriodSeconds + g.executionDelaySeconds + 3600) / 86_400);
      const fridayPrices = pricesOnDay(stack, history, friday);
      await step(`${isoDateOf(friday)}, moving the market to the day's closes`, async () => {
        await setChainTime(runtime.client, friday * 86_400 + NOON);
        await postClosesOfDays(stack, history, day + 1, friday - 1);
        await applyMarketDay(stack, fridayPrices);
      });
      lastMoved = friday;
      await cycleAndVote(friday, ethChange);
      const holdings = await step(`${isoDateOf(friday)}, reading the Safe's holdings`, () =>
        readHoldings(runtime.client, { safe, tokens }),
      );
      const amounts = Object.fromEntries(Object.values(holdings.holdings).map((h) => [h.symbol, h.amount]));
      const usd = value(amounts, fridayPrices);
      const total = Object.values(usd).reduce((a, b) => a + b, 0);
      const baseline = Object.values(
        value(
          Object.fromEntries(Object.values(initial.holdings).map((h) => [h.symbol, h.amount])),
          fridayPrices,
        ),
      ).reduce((a, b) => a + b, 0);
      const stables = Object.entries(usd)
        .filter(([s]) => stableSymbols.has(s))
        .reduce((a, [, v]) => a + v, 0);
      weeks.push({
        date: isoDateOf(friday),
        valueUsd: total,
        baselineUsd: baseline,
        allocationBps: Object.fromEntries(
          Object.entries(usd).map(([s, v]) => [s, total > 0 ? Math.round((v / total) * 10_000) : 0]),
        ),
        runwayMonths:
          stack.config.treasury.monthlySpendUsd > 0
            ? stables / stack.config.treasury.monthlySpendUsd
            : Number.POSITIVE_INFINITY,
        prices: fridayPrices,
      });
    }
    const records = parseAuditLog(readFileSync(stack.config.state.auditLogPath, 'utf8'));
    const proposals = collectProposals(await runtime.ledger.all(), records, voteReasons, memberList);
    const result: DemoResult = {
      weeks,
      proposals,
      auditPath: stack.config.state.auditLogPath,
      rpcUrl: stack.config.chain.rpcUrl,
      hubUrl: stack.hub.url,
      space: stack.config.governance.space,
      safeAddress: safe,
      members: memberList,
      elapsedMs: Date.now() - started,
      aborted,
    };
    if (keepAlive) await keepAlive(result);
    return result;
  } finally {
    await runtime.close();
    await stack.stop();
  }
}

function collectProposals(
  rows: import('../ledger.ts').ProposalRow[],
  records: AuditRecord[],
  voteReasons: Map<string, string>,
  members: { name: string; address: string }[],
): DemoProposal[] {
  return rows.map((row) => {
    const record = row.record as { propose: { title: string }; decisionRecordId: string };
    const decision = records.find((r) => r.id === record.decisionRecordId)?.data as
      | { draft?: { summary: string; rationale: string }; writer?: string; plan?: { movedUsd?: number } }
      | undefined;
    const vote = records.find(
      (r) => r.kind === 'vote-result' && (r.data as { proposalId?: string }).proposalId === row.proposalId,
    )?.data as { outcome?: string; votes?: { voter: string; choice: number; vp: number }[] } | undefined;
    return {
      id: row.proposalId ?? '',
      title: record.propose.title,
      state: row.state,
      voteOutcome: vote?.outcome ?? null,
      reason: row.reason,
      safeTxHash: row.safeTxHash,
      executionTxHash: row.executionTxHash,
      movedUsd: decision?.plan?.movedUsd ?? 0,
      summary: decision?.draft?.summary ?? '',
      rationale: decision?.draft?.rationale ?? '',
      writer: decision?.writer ?? '',
      votes: (vote?.votes ?? []).map((v) => {
        const member = members.find((m) => m.address.toLowerCase() === v.voter.toLowerCase());
        return {
          member: member?.name ?? v.voter,
          address: v.voter,
          choice: CHOICES[Number(v.choice)] ?? String(v.choice),
          vp: v.vp,
          reason: voteReasons.get(`${row.proposalId}:${member?.address}`) ?? '',
        };
      }),
    };
  });
}
