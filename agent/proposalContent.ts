import { formatUnits } from 'viem';
import { displayAmount, type ProposalBodyInput } from '../governance/proposalBody.ts';
import { formatNumber, priceText } from '../shared/numberFormat.ts';
import { describeStrategy } from '../strategies/describe.ts';
import type { PlannedSwap } from '../strategies/planner.ts';
import { PRICE_SCALE, priceToNumber } from '../strategies/pricePolicy.ts';
import type { StrategyConfig } from '../strategies/registry.ts';
import { annualisedVolatility } from '../strategies/stats.ts';
import type { Decision } from './decide.ts';
import type { DraftFacts } from './draft/types.ts';
import type { Observation } from './observe.ts';

/** Whole-token amount for people, rounded to a sensible number of digits. */
export function humanAmount(amount: bigint, decimals: number, digits = 4): string {
  const value = Number(formatUnits(amount, decimals));
  return formatNumber(value, { maximumFractionDigits: value >= 1000 ? 2 : digits });
}

function stablesUsd(decision: Decision, weightsBps: Record<string, number>): number {
  const stable = new Set(decision.inputs.tokens.filter((t) => t.role === 'stable').map((t) => t.symbol));
  const share = Object.entries(weightsBps)
    .filter(([s]) => stable.has(s))
    .reduce((sum, [, bps]) => sum + bps, 0);
  return (decision.plan.valueUsd * share) / 10_000;
}

/** The facts a rationale writer may use: every figure comes from the decision and the checked prices. */
export function draftFacts(
  decision: Decision,
  observation: Observation,
  tokenNames: Record<string, string>,
  earlierProposals: string[],
): DraftFacts {
  const { plan, targets, inputs } = decision;
  const decimals = Object.fromEntries(inputs.tokens.map((t) => [t.symbol, t.decimals]));
  const symbols = inputs.tokens.map((t) => t.symbol);
  const spend = inputs.monthlySpendUsd;
  const runway = (w: Record<string, number>) =>
    spend > 0 ? stablesUsd(decision, w) / spend : Number.POSITIVE_INFINITY;
  return {
    asOf: inputs.asOf,
    strategy: inputs.strategy.id,
    treasuryUsd: plan.valueUsd,
    movedUsd: plan.movedUsd,
    monthlySpendUsd: spend,
    runwayMonthsBefore: runway(plan.beforeBps),
    runwayMonthsAfter: runway(plan.expectedAfterBps),
    allocation: symbols.map((symbol) => ({
      symbol,
      beforeBps: plan.beforeBps[symbol] ?? 0,
      targetBps: targets[symbol] ?? 0,
      afterBps: plan.expectedAfterBps[symbol] ?? 0,
    })),
    trades: plan.swaps.map((s) => ({
      sell: s.sell,
      buy: s.buy,
      amountIn: humanAmount(s.amountIn, decimals[s.sell]!),
      minOut: humanAmount(s.minAmountOut, decimals[s.buy]!),
      expectedOut: humanAmount(s.expectedAmountOut, decimals[s.buy]!),
      priceImpactBps: s.priceImpactBps,
    })),
    prices: Object.values(observation.prices).map((p) => ({
      symbol: p.symbol,
      usd: p.usd,
      source: p.source,
      updatedAt: p.updatedAt,
    })),
    volatility: Object.fromEntries(
      Object.entries(inputs.snapshot.closes).map(([s, c]) => [
        s,
        annualisedVolatility(Float64Array.from(c, (x) => x ?? Number.NaN)),
      ]),
    ),
    guardrails: guardrailChecks(decision),
    untrusted: { tokenNames, earlierProposals },
  };
}

/** The guardrails the plan was held to, with the figures that show they passed. */
export function guardrailChecks(decision: Decision): { name: string; detail: string }[] {
  const g = decision.inputs.guardrails as {
    maxMovedPerProposalBps: number;
    maxSlippageBps: number;
    maxPriceImpactBps: number;
    minTradeUsd: number;
    runwayFloorMonths: number;
    allowlist?: string[];
  };
  const { plan } = decision;
  const movedBps = plan.valueUsd > 0 ? Math.round((plan.movedUsd / plan.valueUsd) * 10_000) : 0;
  const maxImpact = Math.max(0, ...plan.swaps.map((s) => s.priceImpactBps));
  const allow = g.allowlist ?? decision.inputs.tokens.map((t) => t.symbol);
  return [
    {
      name: 'allowlisted tokens and router',
      detail: `tokens ${allow.join(', ')}; router ${decision.inputs.contracts.router}`,
    },
    {
      name: 'share of treasury moved',
      detail: `${(movedBps / 100).toFixed(2)}% ≤ ${(g.maxMovedPerProposalBps / 100).toFixed(2)}%`,
    },
    {
      name: 'price policy',
      detail: `each trade at no worse than the oracle price − (pool fee + its impact + ${(g.maxSlippageBps / 100).toFixed(2)}%) when it runs, never beyond ${(((g as { priceFloorBps?: number }).priceFloorBps ?? 0) / 100).toFixed(2)}% from today's price`,
    },
    {
      name: 'price impact',
      detail: `largest ${(maxImpact / 100).toFixed(2)}% ≤ ${(g.maxPriceImpactBps / 100).toFixed(2)}%`,
    },
    { name: 'minimum trade size', detail: `every trade ≥ $${formatNumber(g.minTradeUsd)}` },
    {
      name: 'runway floor',
      detail:
        g.runwayFloorMonths > 0
          ? `${g.runwayFloorMonths} months of spend kept in stablecoins`
          : 'none configured',
    },
    { name: 'calls only', detail: 'one MultiSendCallOnly batch: no delegatecall in the swaps' },
  ];
}

export function proposalTitle(decision: Decision): string {
  const sells = decision.plan.swaps.filter((s) => s.buy === 'USDC').map((s) => s.sell);
  const buys = decision.plan.swaps.filter((s) => s.sell === 'USDC').map((s) => s.buy);
  const movedPct =
    decision.plan.valueUsd > 0 ? ((decision.plan.movedUsd / decision.plan.valueUsd) * 100).toFixed(1) : '0';
  const parts = [
    sells.length ? `sell ${sells.join('+')}` : '',
    buys.length ? `buy ${buys.join('+')}` : '',
  ].filter(Boolean);
  return `Treasury rebalance ${decision.inputs.asOf}: ${parts.join(', ')} (${movedPct}% of treasury)`;
}

/** What each voted call does, in words, in the order of the batch (approvals, then PolicySwapper.execute). */
export function callsInWords(decision: Decision): string[] {
  const token = (address: string) =>
    decision.inputs.tokens.find((t) => t.address.toLowerCase() === address.toLowerCase())!;
  const approvals = new Map<string, bigint>();
  for (const order of decision.policyDecision.orders) {
    approvals.set(
      order.tokenIn.toLowerCase(),
      (approvals.get(order.tokenIn.toLowerCase()) ?? 0n) + order.amountIn,
    );
  }
  const words = [...approvals].map(([address, amount]) => {
    const t = token(address);
    return `approve PolicySwapper to take exactly ${displayAmount(amount, t.decimals)} ${t.symbol} from the Safe`;
  });
  const d = decision.policyDecision;
  words.push(
    `PolicySwapper.execute decision ${d.decisionHash.slice(0, 10)}…: ${d.orders
      .map((o) => `${token(o.tokenIn).symbol} → ${token(o.tokenOut).symbol}`)
      .join(
        ', ',
      )} on the Uniswap V2 router ${d.router}, each under its price policy above, valid ${UTC(Number(d.validAfter))} to ${UTC(Number(d.validUntil))}, once`,
  );
  return words;
}

const UTC = (t: number) => `${new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * One swap's price policy as a voter reads it, e.g. "sell 55,509 GOV for USDC at no worse than the oracle
 * price −1.61% when executed, and never below 16.20 USDC per GOV; valid until 2022-01-12 12:00 UTC".
 */
export function policyInWords(
  swap: PlannedSwap,
  decimals: Record<string, number>,
  validUntil: number,
): string {
  const slippage = `${(swap.policy.slippageBps / 100).toFixed(2)}%`;
  const oracle = `at no worse than the oracle price −${slippage} when executed`;
  const valid = `valid until ${UTC(validUntil)}`;
  if (swap.sell === 'USDC') {
    // the floor is `buy` per USDC: the worst price is its inverse, USDC per `buy`
    const worst =
      swap.policy.floorPrice > 0n ? priceToNumber((PRICE_SCALE * PRICE_SCALE) / swap.policy.floorPrice) : 0;
    return `buy ${swap.buy} with ${humanAmount(swap.amountIn, decimals.USDC!)} USDC ${oracle}, and never above ${priceText(worst)} USDC per ${swap.buy}; ${valid}`;
  }
  return `sell ${humanAmount(swap.amountIn, decimals[swap.sell]!)} ${swap.sell} for ${swap.buy} ${oracle}, and never below ${priceText(priceToNumber(swap.policy.floorPrice))} ${swap.buy} per ${swap.sell}; ${valid}`;
}

/** What the proposal body shows: the draft's words, and everything else from the decision itself. */
export function proposalBodyInput(params: {
  decision: Decision;
  observation: Observation;
  draft: { summary: string; rationale: string; risks: string[] };
  auditRecordId: string;
  auditHead: { seq: number; hash: string };
  /** The voted calls simulated from the Safe when drafted. */
  simulation?: { gasUsed: readonly bigint[]; balancesAfter: Readonly<Record<string, bigint>> };
  discussionUrl?: string;
  auditLogUrl?: string;
}): ProposalBodyInput {
  const { decision, observation, draft } = params;
  const tx = decision.tx!;
  const decimals = Object.fromEntries(decision.inputs.tokens.map((t) => [t.symbol, t.decimals]));
  return {
    summary: draft.summary,
    rationale: draft.rationale,
    risks: draft.risks,
    allocation: decision.inputs.tokens.map((t) => ({
      symbol: t.symbol,
      beforeBps: decision.plan.beforeBps[t.symbol] ?? 0,
      afterBps: decision.plan.expectedAfterBps[t.symbol] ?? 0,
    })),
    trades: decision.plan.swaps.map((s) => {
      const priced = s.sell === 'USDC' ? s.buy : s.sell;
      const price = observation.prices[priced]!;
      return {
        policy: policyInWords(s, decimals, Number(decision.inputs.deadline)),
        sell: { symbol: s.sell, amount: s.amountIn, decimals: decimals[s.sell]! },
        buy: {
          symbol: s.buy,
          minOut: s.minAmountOut,
          expectedOut: s.expectedAmountOut,
          decimals: decimals[s.buy]!,
        },
        price: {
          pair: `${priced}/USD`,
          value: price.usd.toPrecision(6),
          source: price.source,
          asOf: price.updatedAt,
        },
        venue: `Uniswap V2 router ${decision.inputs.contracts.router}`,
      };
    }),
    guardrails: guardrailChecks(decision),
    dataSources: [
      { name: 'holdings', source: observation.holdings.source, asOf: observation.holdings.blockTimestamp },
      { name: 'pool reserves', source: observation.pools.source, asOf: observation.pools.blockTimestamp },
      {
        name: 'price history (lookback)',
        source: decision.inputs.history?.source ?? 'data/prices_daily.csv',
        asOf: observation.at,
      },
    ],
    safe: {
      address: decision.inputs.safe.address,
      nonce: BigInt(decision.inputs.safe.nonce),
      chainId: decision.inputs.safe.chainId,
      safeTxHash: tx.safeTxHash,
      to: tx.safeTx.to,
      dataHash: tx.dataHash,
      decisionHash: decision.decisionHash,
      policySwapper: decision.inputs.contracts.swapper,
      validUntil: Number(decision.inputs.deadline),
      transactions: tx.calls.map((c) => ({ to: c.to, value: c.value, data: c.data, operation: c.operation })),
    },
    auditRecordId: params.auditRecordId,
    auditHead: params.auditHead,
    strategy: describeStrategy(decision.inputs.strategy.config as StrategyConfig),
    callWords: callsInWords(decision),
    ...(params.simulation
      ? {
          simulation: {
            block: observation.blockNumber,
            gasUsed: params.simulation.gasUsed.reduce((a, b) => a + b, 0n),
            balances: decision.inputs.tokens.map((t) => ({
              symbol: t.symbol,
              before: `${displayAmount(BigInt(decision.inputs.holdings[t.symbol] ?? '0'), t.decimals)} ${t.symbol}`,
              after: `${displayAmount(params.simulation!.balancesAfter[t.symbol] ?? 0n, t.decimals)} ${t.symbol}`,
            })),
          },
        }
      : {}),
    ...(params.discussionUrl ? { discussionUrl: params.discussionUrl } : {}),
    ...(params.auditLogUrl ? { auditLogUrl: params.auditLogUrl } : {}),
  };
}
