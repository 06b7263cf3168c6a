import type { HubProposal } from '../../governance/hubReplies.ts';

/**
 * The demo's token holders and how each one votes: simple, visible policies, applied to what a member can
 * read on the proposal itself (its title and body) and to the week's market.
 */
export type VoteChoice = 1 | 2 | 3; // For, Against, Abstain (Snapshot basic voting)

export type MarketContext = { ethWeeklyChange: number };

export type MemberPolicy = {
  name: string;
  stake: number;
  policy: string;
  decide: (
    proposal: Pick<HubProposal, 'title' | 'body'>,
    market: MarketContext,
  ) => { choice: VoteChoice; reason: string } | undefined;
};

/** The share of the treasury a proposal moves, from its title ("… (9.8% of treasury)"). */
export function movedPercent(title: string): number | undefined {
  const match = /\(([\d.]+)% of treasury\)/.exec(title);
  return match ? Number(match[1]) : undefined;
}

/** The largest price impact the proposal states in its guardrail checks ("largest 0.85% ≤ 2.00%"). */
export function statedPriceImpact(body: string): number | undefined {
  const match = /largest ([\d.]+)%/.exec(body);
  return match ? Number(match[1]) : undefined;
}

export const DEMO_MEMBERS: MemberPolicy[] = [
  {
    name: 'Ada',
    stake: 2_500_000,
    policy: 'founder: always votes For',
    decide: () => ({ choice: 1, reason: 'I back the treasury plan' }),
  },
  {
    name: 'Ben',
    stake: 2_600_000,
    policy: 'cautious: Against any proposal moving more than 5% of the treasury',
    decide: (p) => {
      const moved = movedPercent(p.title) ?? 100;
      return moved > 5
        ? { choice: 2, reason: `moves ${moved}% of the treasury: too much at once` }
        : { choice: 1, reason: 'small step' };
    },
  },
  {
    name: 'Cy',
    stake: 1_500_000,
    policy: 'delegate without a mandate: always Abstains',
    decide: () => ({ choice: 3, reason: 'abstaining' }),
  },
  {
    name: 'Dee',
    stake: 1_200_000,
    policy: 'follows the stated risk level: For when the largest price impact is under 1.5%',
    decide: (p) => {
      const impact = statedPriceImpact(p.body ?? '');
      if (impact === undefined) return { choice: 2, reason: 'no stated price impact' };
      return impact < 1.5
        ? { choice: 1, reason: `price impact ${impact}% is acceptable` }
        : { choice: 2, reason: `price impact ${impact}% is too high` };
    },
  },
  {
    name: 'Eve',
    stake: 1_800_000,
    policy: 'contrarian: Against after a week in which ETH fell more than 10%, else For',
    decide: (_p, market) =>
      market.ethWeeklyChange < -0.1
        ? { choice: 2, reason: `ETH fell ${(market.ethWeeklyChange * -100).toFixed(1)}% this week: wait` }
        : { choice: 1, reason: 'market is calm enough' },
  },
  {
    name: 'Fay',
    stake: 300_000,
    policy: 'passive holder: never votes',
    decide: () => undefined,
  },
];
