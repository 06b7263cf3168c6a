import { formatUnits, getAddress, isAddress } from 'viem';
import type { HubProposal, HubVote } from '../governance/hubReplies.ts';

/**
 * What the agent checks itself before it believes a vote (issue 11, "the vote"): the hub's copy of the proposal
 * against the message the agent signed (space, author, start, end, period, snapshot block, type, choices), the
 * end by the agent's own clock, the space's voting strategy, and the tally recomputed from the hub's list of
 * votes with each voter's power read from the chain at the snapshot block. Pure: the caller reads the hub and
 * the chain. What it cannot check is in the README (a forged list of votes from real holders).
 */

/** The fields of the proposal message the agent signed (the ledger keeps the prepared message). */
export type PostedProposal = {
  from: string;
  space: string;
  timestamp: number;
  type: string;
  choices: string[];
  start: number;
  end: number;
  snapshot: number;
};

export type Tally = { for: number; against: number; abstain: number; total: number; votes: number };

export type VoteCheckInput = {
  posted: PostedProposal;
  /** The space's voting delay and period as configured. */
  timing: { delay: number; period: number };
  /** The governance token: voting power is its balance at the snapshot block (erc20-balance-of). */
  token: { address: string; decimals: number };
  chainId: number;
  /** The agent's clock (chain time locally). */
  now: number;
  hub: HubProposal;
  votes: readonly HubVote[];
  /** Each voter's token balance (base units) at the snapshot block, read from the chain. */
  balances: ReadonlyMap<string, bigint>;
};

export type VoteCheck = { ok: true; tally: Tally } | { ok: false; problems: string[]; tally: Tally };

/** Relative agreement for floating-point tallies (the hub stores them as floats). */
function same(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

export function checkVote(input: VoteCheckInput): VoteCheck {
  const { posted, hub } = input;
  const problems: string[] = [];
  const say = (problem: string) => problems.push(problem);

  // 1. The proposal is the one the agent signed.
  if ((hub.space?.id ?? '').toLowerCase() !== posted.space.toLowerCase())
    say(`the hub puts the proposal in space ${hub.space?.id ?? 'none'}, not ${posted.space}`);
  if (!isAddress(hub.author, { strict: false }) || getAddress(hub.author) !== getAddress(posted.from))
    say(`the hub names ${hub.author} as author, not the agent ${posted.from}`);
  if (hub.start !== posted.start || hub.end !== posted.end)
    say(`the hub says voting runs ${hub.start}–${hub.end}, the agent posted ${posted.start}–${posted.end}`);
  if (
    posted.end - posted.start !== input.timing.period ||
    posted.start - posted.timestamp !== input.timing.delay
  )
    say('the posted voting period or delay is not the configured one');
  if (hub.snapshot !== posted.snapshot)
    say(`the hub says snapshot block ${hub.snapshot}, the agent posted ${posted.snapshot}`);
  if (hub.type !== posted.type) say(`the hub says voting type ${hub.type}, the agent posted ${posted.type}`);
  if (JSON.stringify(hub.choices) !== JSON.stringify(posted.choices))
    say(
      `the hub lists choices ${JSON.stringify(hub.choices)}, the agent posted ${JSON.stringify(posted.choices)}`,
    );
  if (input.now < posted.end) say(`the vote ends at ${posted.end}; the agent's clock says ${input.now}`);

  // 2. Voting power is the governance token's balance at the snapshot block, and nothing else.
  const strategies = hub.strategies ?? [];
  const only = strategies.length === 1 ? strategies[0] : undefined;
  const params = (only?.params ?? {}) as { address?: unknown; decimals?: unknown };
  if (
    only?.name !== 'erc20-balance-of' ||
    typeof params.address !== 'string' ||
    params.address.toLowerCase() !== input.token.address.toLowerCase() ||
    Number(params.decimals) !== input.token.decimals ||
    (only.network !== null && only.network !== String(input.chainId))
  ) {
    say(
      `the proposal's voting strategies are ${JSON.stringify(strategies)}, not erc20-balance-of on the governance token ${input.token.address}`,
    );
  }

  // 3. The tally, from the votes and the chain.
  const scores = [0, 0, 0];
  const seen = new Set<string>();
  for (const vote of input.votes) {
    if (!isAddress(vote.voter, { strict: false })) {
      say(`a vote has no valid voter address (${JSON.stringify(vote.voter).slice(0, 60)})`);
      continue;
    }
    const voter = getAddress(vote.voter);
    if (seen.has(voter)) {
      say(`${voter} appears twice in the hub's list of votes`);
      continue;
    }
    seen.add(voter);
    const choice = vote.choice;
    if (choice !== 1 && choice !== 2 && choice !== 3) {
      say(`${voter} voted ${JSON.stringify(choice)}, not 1, 2 or 3`);
      continue;
    }
    if (vote.created < posted.start || vote.created > posted.end)
      say(`${voter} voted at ${vote.created}, outside the voting window`);
    const balance = input.balances.get(voter);
    if (balance === undefined) {
      say(`no balance was read for ${voter}`);
      continue;
    }
    const power = Number.parseFloat(formatUnits(balance, input.token.decimals));
    if (!(power > 0)) say(`${voter} held no governance token at block ${posted.snapshot} yet has a vote`);
    if (vote.vp === null || !same(vote.vp, power))
      say(`the hub gives ${voter} ${vote.vp} votes; the chain says ${power} at block ${posted.snapshot}`);
    scores[choice - 1]! += power;
  }
  const total = scores[0]! + scores[1]! + scores[2]!;
  const tally: Tally = { for: scores[0]!, against: scores[1]!, abstain: scores[2]!, total, votes: seen.size };
  const hubScores = hub.scores ?? [];
  if (!scores.every((s, i) => same(s, hubScores[i] ?? 0)) || !same(total, hub.scores_total ?? 0)) {
    say(
      `the hub's scores ${JSON.stringify(hubScores)} (total ${hub.scores_total}) disagree with its own votes and the chain: ${JSON.stringify(scores)} (total ${total})`,
    );
  }
  if ((hub.votes ?? 0) !== input.votes.length)
    say(`the hub counts ${hub.votes} votes but lists ${input.votes.length}`);
  return problems.length === 0 ? { ok: true, tally } : { ok: false, problems, tally };
}
