import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuardrailsSchema } from '../strategies/guardrails.ts';
import {
  type ExecutionMarket,
  executePolicySwaps,
  POOL_FEE_BPS,
  planRebalance,
} from '../strategies/planner.ts';
import {
  amountAtPrice,
  FEED_DECIMALS,
  feedAnswerOf,
  floorPriceOf,
  oraclePriceOf,
} from '../strategies/pricePolicy.ts';
import type { TokenInfo } from '../strategies/types.ts';
import { getAmountIn, getAmountOut, poolAtPrice, priceImpactBps } from '../strategies/uniswap.ts';
import { baseUnitsOf, toBasisPoints, unitsOf } from '../strategies/weights.ts';

const TOKENS: TokenInfo[] = [
  { symbol: 'GOV', decimals: 18, role: 'governance', priceAsset: 'UNI' },
  { symbol: 'WETH', decimals: 18, role: 'risk', priceAsset: 'ETH' },
  { symbol: 'WBTC', decimals: 8, role: 'risk', priceAsset: 'WBTC' },
  { symbol: 'USDC', decimals: 6, role: 'stable', priceAsset: 'USDC' },
  { symbol: 'DAI', decimals: 18, role: 'stable', priceAsset: 'DAI' },
];
const dec = Object.fromEntries(TOKENS.map((t) => [t.symbol, t.decimals]));
const symbols = TOKENS.map((t) => t.symbol);

function value(balances: Record<string, bigint>, prices: Record<string, number>) {
  let v = 0;
  for (const [s, b] of Object.entries(balances)) v += unitsOf(b, dec[s]!) * prices[s]!;
  return v;
}

function distance(
  balances: Record<string, bigint>,
  prices: Record<string, number>,
  targets: Record<string, number>,
) {
  const total = value(balances, prices);
  let d = 0;
  for (const s of symbols)
    d += Math.abs((unitsOf(balances[s] ?? 0n, dec[s]!) * prices[s]!) / total - (targets[s] ?? 0) / 10_000);
  return d;
}

const scenario = fc.record({
  usd: fc.array(fc.double({ min: 0, max: 5e7, noNaN: true }), { minLength: 5, maxLength: 5 }),
  shares: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 5, maxLength: 5 }),
  prices: fc.tuple(
    fc.double({ min: 0.05, max: 100, noNaN: true }),
    fc.double({ min: 100, max: 5000, noNaN: true }),
    fc.double({ min: 5000, max: 70000, noNaN: true }),
    fc.double({ min: 0.97, max: 1.03, noNaN: true }),
    fc.double({ min: 0.97, max: 1.03, noNaN: true }),
  ),
  depthUsd: fc.double({ min: 1e6, max: 1e9, noNaN: true }),
  guardrails: fc.record({
    maxMovedPerProposalBps: fc.integer({ min: 100, max: 10_000 }),
    maxSlippageBps: fc.integer({ min: 0, max: 500 }),
    maxPriceImpactBps: fc.integer({ min: 10, max: 1000 }),
    minTradeUsd: fc.double({ min: 0, max: 50_000, noNaN: true }),
    runwayFloorMonths: fc.integer({ min: 0, max: 36 }),
    govCapBps: fc.integer({ min: 0, max: 10_000 }),
  }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function setup(s: Scenario) {
  const prices = Object.fromEntries(symbols.map((sym, i) => [sym, s.prices[i]!]));
  const holdings = Object.fromEntries(
    symbols.map((sym, i) => [sym, baseUnitsOf(s.usd[i]! / prices[sym]!, dec[sym]!)]),
  );
  const shares = Object.fromEntries(symbols.map((sym, i) => [sym, s.shares[i]!]));
  if (!Object.values(shares).some((v) => v > 0)) shares.USDC = 1;
  const targets = toBasisPoints(shares);
  const pools = Object.fromEntries(
    TOKENS.filter((t) => t.symbol !== 'USDC').map((t) => [
      t.symbol,
      poolAtPrice(prices[t.symbol]!, s.depthUsd, t.decimals, 6, prices.USDC!),
    ]),
  );
  const { govCapBps, ...rest } = s.guardrails;
  const guardrails = GuardrailsSchema.parse({ ...rest, maxTradeBpsPerAsset: { GOV: govCapBps } });
  return { prices, holdings, targets, pools, guardrails };
}

const NOW = 1_700_000_000;

/** Feeds at `prices`, fresh at NOW. */
function marketAt(
  prices: Record<string, number>,
  pools: ExecutionMarket['pools'],
  overrides: Partial<ExecutionMarket> = {},
): ExecutionMarket {
  const feeds = Object.fromEntries(
    Object.entries(prices).map(([s, p]) => [
      s,
      { answer: feedAnswerOf(p), updatedAt: NOW - 60, decimals: FEED_DECIMALS },
    ]),
  );
  return { pools, feeds, now: NOW, maxFeedAgeSeconds: 86_400, ...overrides };
}

describe('Uniswap V2 math', () => {
  it('matches the reference getAmountOut / getAmountIn', () => {
    // 1 ETH into a 100 ETH / 300,000 USDC pool: 997·1e18·3e11 / (1e20·1000 + 997·1e18)
    expect(getAmountOut(10n ** 18n, 10n ** 20n, 3n * 10n ** 11n)).toBe(2_961_474_103n);
    expect(getAmountIn(2_961_474_103n, 10n ** 20n, 3n * 10n ** 11n)! <= 10n ** 18n).toBe(true);
    expect(priceImpactBps(10n ** 18n, 10n ** 20n)).toBe(98);
  });
});

describe('planner', () => {
  it('sells before buys, USDC on one side of every swap, each with its price policy', () => {
    const prices = { GOV: 10, WETH: 2000, WBTC: 40000, USDC: 1, DAI: 1 };
    const holdings = { GOV: 10n ** 24n, USDC: 100_000n * 10n ** 6n };
    const pools = Object.fromEntries(
      TOKENS.filter((t) => t.symbol !== 'USDC').map((t) => [
        t.symbol,
        poolAtPrice(prices[t.symbol as 'GOV']!, 1e8, t.decimals),
      ]),
    );
    const plan = planRebalance({
      tokens: TOKENS,
      holdings,
      targets: { GOV: 5000, WETH: 2500, WBTC: 1500, USDC: 1000 },
      prices,
      pools,
      guardrails: GuardrailsSchema.parse({
        maxMovedPerProposalBps: 10_000,
        maxSlippageBps: 50,
        maxPriceImpactBps: 5000,
        priceFloorBps: 2000,
      }),
    });
    expect(plan.swaps.map((s) => `${s.sell}->${s.buy}`)).toEqual(['GOV->USDC', 'USDC->WETH', 'USDC->WBTC']);
    for (const s of plan.swaps) {
      const oracle = oraclePriceOf(
        feedAnswerOf(prices[s.sell as 'GOV']),
        feedAnswerOf(prices[s.buy as 'GOV']),
      );
      expect(s.oraclePrice).toBe(oracle);
      // slippage against the oracle = pool fee + the planned impact (rounded up) + the tolerance
      expect(s.policy.slippageBps).toBe(POOL_FEE_BPS + s.priceImpactBps + 1 + 50);
      // the floor is 20% under the drafting price; the minimum out is the amount in at the floor
      expect(s.policy.floorPrice).toBe(floorPriceOf(oracle, 2000));
      expect(s.minAmountOut).toBe(amountAtPrice(s.amountIn, s.policy.floorPrice, dec[s.sell]!, dec[s.buy]!));
    }
    // GOV at $10 → the floor is $8 per GOV, i.e. 8e18 (USDC per GOV, × 1e18)
    expect(plan.swaps[0]!.policy.floorPrice).toBe(8n * 10n ** 18n);
    expect(plan.swaps[0]!.amountIn).toBe(baseUnitsOf(4_950_000 / 10, 18));
  });

  it('does nothing when already on target, and only the drift when near it', () => {
    const prices = { GOV: 10, WETH: 2000, WBTC: 40000, USDC: 1, DAI: 1 };
    const holdings = { GOV: 10n ** 23n, WETH: 500n * 10n ** 18n, USDC: 10n ** 12n }; // $1M each
    const pools = { GOV: poolAtPrice(10, 1e8, 18), WETH: poolAtPrice(2000, 1e8, 18) };
    const guardrails = GuardrailsSchema.parse({ minTradeUsd: 1000 });
    const base = { tokens: TOKENS, holdings, prices, pools, guardrails };
    const onTarget = planRebalance({ ...base, targets: { GOV: 3334, WETH: 3333, USDC: 3333 } });
    expect(onTarget.beforeBps).toEqual({ GOV: 3334, USDC: 3333, WETH: 3333 });
    expect(onTarget.swaps).toEqual([]);
    const near = planRebalance({ ...base, targets: { GOV: 3234, WETH: 3433, USDC: 3333 } });
    expect(near.swaps.map((s) => `${s.sell}->${s.buy}`)).toEqual(['GOV->USDC', 'USDC->WETH']);
    expect(unitsOf(near.swaps[0]!.amountIn, 18) * 10).toBeCloseTo(29_800, -1);
  });

  it('under the per-proposal cap, risky assets are sold before stablecoins (the runway fills first)', () => {
    const prices = { GOV: 10, WETH: 2000, WBTC: 40000, USDC: 1, DAI: 1 };
    // $10M: GOV $6M, DAI $3M, USDC $1M; the targets sell 20 points of GOV and 10 of DAI for WETH
    const holdings = { GOV: 6n * 10n ** 23n, DAI: 3n * 10n ** 24n, USDC: 10n ** 12n };
    const pools = Object.fromEntries(
      TOKENS.filter((t) => t.symbol !== 'USDC').map((t) => [
        t.symbol,
        poolAtPrice(prices[t.symbol as 'GOV'], 1e9, t.decimals),
      ]),
    );
    const plan = planRebalance({
      tokens: TOKENS,
      holdings,
      targets: { GOV: 4000, WETH: 3000, DAI: 2000, USDC: 1000 },
      prices,
      pools,
      guardrails: GuardrailsSchema.parse({ maxMovedPerProposalBps: 1000, maxPriceImpactBps: 5000 }),
    });
    const sells = plan.swaps.filter((x) => x.buy === 'USDC');
    expect(sells.map((x) => x.sell)).toEqual(['GOV']); // the whole 10% cap on GOV, none on DAI
    expect(unitsOf(sells[0]!.amountIn, 18) * 10).toBeCloseTo(1_000_000, -2);
  });

  it("buys of risky assets never take the stables below the targets' share when the sells are cut", () => {
    const prices = { GOV: 10, WETH: 2000, WBTC: 40000, USDC: 1, DAI: 1 };
    // $20M: GOV $18M, USDC $2M; targets 30% stables, 20% WETH/WBTC; a thin GOV pool cuts the GOV sale to ~$1M
    const holdings = { GOV: 18n * 10n ** 23n, USDC: 2n * 10n ** 12n };
    const pools = {
      GOV: poolAtPrice(10, 5e7, 18),
      WETH: poolAtPrice(2000, 1e9, 18),
      WBTC: poolAtPrice(40000, 1e9, 8),
      DAI: poolAtPrice(1, 1e9, 18),
    };
    const plan = planRebalance({
      tokens: TOKENS,
      holdings,
      targets: { GOV: 5000, WETH: 1000, WBTC: 1000, USDC: 3000 },
      prices,
      pools,
      guardrails: GuardrailsSchema.parse({ maxMovedPerProposalBps: 10_000, maxPriceImpactBps: 200 }),
      monthlySpendUsd: 250_000,
    });
    const sold = plan.swaps.find((x) => x.sell === 'GOV')!;
    expect(unitsOf(sold.amountIn, 18) * 10).toBeLessThan(1_100_000); // cut by the impact cap
    // stables $2M + ~$1M from the sale stay under the 30% ($6M) the targets ask for: nothing is bought
    expect(plan.swaps.filter((x) => x.sell === 'USDC')).toEqual([]);
    expect(plan.skipped.some((t) => t.symbol === 'WETH' && t.side === 'buy')).toBe(true);
    // with more USDC than the targets ask for, the excess (and only it) buys WETH/WBTC
    const richer = planRebalance({
      tokens: TOKENS,
      holdings: { GOV: 10n ** 24n, USDC: 10n ** 13n }, // GOV $10M, USDC $10M
      targets: { GOV: 5000, WETH: 1000, WBTC: 1000, USDC: 3000 },
      prices,
      pools,
      guardrails: GuardrailsSchema.parse({ maxMovedPerProposalBps: 10_000, maxPriceImpactBps: 200 }),
    });
    const bought = richer.swaps
      .filter((x) => x.sell === 'USDC')
      .reduce((a, x) => a + unitsOf(x.amountIn, 6), 0);
    expect(bought).toBeGreaterThan(3_900_000);
    expect(bought).toBeLessThanOrEqual(4_000_000 + 1);
  });

  it('keeps its invariants on random treasuries (fast-check)', () => {
    const stats = { planned: 0, withBuys: 0 };
    fc.assert(
      fc.property(scenario, (s) => {
        const { prices, holdings, targets, pools, guardrails } = setup(s);
        const plan = planRebalance({
          tokens: TOKENS,
          holdings,
          targets,
          prices,
          pools,
          guardrails,
          monthlySpendUsd: 100_000,
        });
        const before = value(holdings, prices);
        // 1. executable in order at the planning reserves; no negative balance at any step
        const outcome = executePolicySwaps(TOKENS, holdings, marketAt(prices, pools), plan.swaps);
        if (plan.swaps.length > 0) stats.planned++;
        if (plan.swaps.some((x) => x.sell === 'USDC')) stats.withBuys++;
        expect(outcome.ok).toBe(true);
        if (!outcome.ok) return;
        for (const b of Object.values(outcome.balances)) expect(b >= 0n).toBe(true);
        // 2. sells first, each swap has USDC on one side, at most one swap per pool
        const firstBuy = plan.swaps.findIndex((x) => x.sell === 'USDC');
        plan.swaps.forEach((x, i) => {
          expect(x.sell === 'USDC' || x.buy === 'USDC').toBe(true);
          if (firstBuy >= 0 && i > firstBuy) expect(x.sell).toBe('USDC');
          expect(
            x.amountIn <=
              (holdings[x.sell] ?? 0n) +
                (x.sell === 'USDC' ? plan.swaps.slice(0, i).reduce((a, y) => a + y.minAmountOut, 0n) : 0n),
          ).toBe(true);
          expect(x.minAmountOut <= x.expectedAmountOut).toBe(true);
          expect(x.priceImpactBps).toBeLessThanOrEqual(guardrails.maxPriceImpactBps);
        });
        expect(new Set(plan.swaps.map((x) => (x.sell === 'USDC' ? x.buy : x.sell))).size).toBe(
          plan.swaps.length,
        );
        // 3. buys are covered by the USDC balance plus the minimum outs of the sells
        const usdcIn = plan.swaps.filter((x) => x.sell === 'USDC').reduce((a, x) => a + x.amountIn, 0n);
        const minProceeds = plan.swaps
          .filter((x) => x.buy === 'USDC')
          .reduce((a, x) => a + x.minAmountOut, 0n);
        expect(usdcIn <= (holdings.USDC ?? 0n) + minProceeds).toBe(true);
        // 4. caps: per proposal (each side) and per asset, min trade size
        const usdOf = (sym: string, amount: bigint) => unitsOf(amount, dec[sym]!) * prices[sym]!;
        const sold = plan.swaps
          .filter((x) => x.buy === 'USDC')
          .reduce((a, x) => a + usdOf(x.sell, x.amountIn), 0);
        const bought = plan.swaps
          .filter((x) => x.sell === 'USDC')
          .reduce((a, x) => a + usdOf('USDC', x.amountIn), 0);
        const cap = (guardrails.maxMovedPerProposalBps / 10_000) * before;
        expect(sold).toBeLessThanOrEqual(cap * (1 + 1e-9) + 1e-6);
        expect(bought).toBeLessThanOrEqual(cap * (1 + 1e-9) + 1e-6);
        for (const x of plan.swaps) {
          const usd = usdOf(x.sell, x.amountIn);
          expect(usd).toBeGreaterThanOrEqual(guardrails.minTradeUsd * (1 - 1e-9));
          if (x.sell === 'GOV' || x.buy === 'GOV') {
            expect(usd).toBeLessThanOrEqual(
              ((guardrails.maxTradeBpsPerAsset.GOV ?? 10_000) / 10_000) * before * (1 + 1e-6) + 1e-6,
            );
          }
        }
        // 5. value conserved up to fees and impact (pools priced at the oracle)
        const after = value(outcome.balances, prices);
        const traded = plan.swaps.reduce((a, x) => a + usdOf(x.sell, x.amountIn), 0);
        const maxCost = plan.swaps.reduce(
          (a, x) => a + usdOf(x.sell, x.amountIn) * (0.003 + x.priceImpactBps / 10_000 + 1e-4),
          0,
        );
        expect(after).toBeLessThanOrEqual(before + 1e-6 * before + 1);
        expect(after).toBeGreaterThanOrEqual(before - maxCost - 1e-6 * before - 1);
        // 6. runway floor: stables never pushed below min(floor, stables before the buys)
        const stables = (b: Record<string, bigint>) =>
          usdOf('USDC', b.USDC ?? 0n) + usdOf('DAI', b.DAI ?? 0n);
        const floor = guardrails.runwayFloorMonths * 100_000;
        const stablesWithSells = stables(holdings) + sold * 0.95;
        if (plan.swaps.some((x) => x.sell === 'USDC' && x.buy !== 'DAI')) {
          expect(stables(outcome.balances)).toBeGreaterThanOrEqual(
            Math.min(floor, stablesWithSells) * 0.999 - 1,
          );
        }
        // 7. the weights move toward the target (when the plan trades and costs are small)
        if (plan.swaps.length > 0 && traded > 0) {
          expect(distance(outcome.balances, prices, targets)).toBeLessThanOrEqual(
            distance(holdings, prices, targets) + (2 * maxCost) / before + 1e-9,
          );
        }
        // 8. nothing to do when the targets are the current weights (rounded to bps) and trades are not tiny
        const again = planRebalance({
          tokens: TOKENS,
          holdings,
          targets:
            plan.beforeBps && Object.keys(plan.beforeBps).length > 0
              ? toBasisPoints(plan.beforeBps)
              : targets,
          prices,
          pools,
          guardrails: { ...guardrails, minTradeUsd: Math.max(guardrails.minTradeUsd, before * 2e-4) },
        });
        if (Object.keys(plan.beforeBps).length > 0) expect(again.swaps).toEqual([]);
      }),
      { numRuns: 150, seed: 42 },
    );
    // the generator must exercise real plans, with buys, not only empty ones
    expect(stats.planned).toBeGreaterThan(40);
    expect(stats.withBuys).toBeGreaterThan(15);
  });
});

describe('the voted batch under the price policy (the model of PolicySwapper.execute)', () => {
  const prices = { GOV: 10, WETH: 2000, WBTC: 40000, USDC: 1, DAI: 1 };
  const depth = 1e8;
  const poolsAt = (p: Record<string, number>) =>
    Object.fromEntries(
      TOKENS.filter((t) => t.symbol !== 'USDC').map((t) => [
        t.symbol,
        poolAtPrice(p[t.symbol]!, depth, t.decimals, 6, p.USDC!),
      ]),
    );
  const plan = planRebalance({
    tokens: TOKENS,
    holdings: { GOV: 10n ** 24n, USDC: 100_000n * 10n ** 6n },
    targets: { GOV: 5000, WETH: 2500, WBTC: 1500, USDC: 1000 },
    prices,
    pools: poolsAt(prices),
    guardrails: GuardrailsSchema.parse({
      maxMovedPerProposalBps: 10_000,
      maxSlippageBps: 100,
      maxPriceImpactBps: 5000,
      priceFloorBps: 2000,
    }),
  });
  const holdings = { GOV: 10n ** 24n, USDC: 100_000n * 10n ** 6n };
  const run = (p: Record<string, number>, overrides: Partial<ExecutionMarket> = {}) =>
    executePolicySwaps(TOKENS, holdings, marketAt(p, poolsAt(p), overrides), plan.swaps);

  it('executes after the market moved within the policy (GOV −15%, ETH +12%): the minimum out follows the oracle', () => {
    const outcome = run({ ...prices, GOV: 8.5, WETH: 2240 });
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    // the sell returned less than planned, yet the buys were funded: they were sized from the sells' floor
    expect(outcome.amountsOut[0]! < plan.swaps[0]!.expectedAmountOut).toBe(true);
    expect(outcome.amountsOut[0]! >= plan.swaps[0]!.minAmountOut).toBe(true);
    expect(outcome.balances.USDC! >= 0n).toBe(true);
  });

  it('refuses below the floor, a pool pushed from the oracle (a sandwich), a stale or future feed, outside the window', () => {
    const below = run({ ...prices, GOV: 7.9 });
    expect(below).toMatchObject({ ok: false, index: 0, kind: 'below-floor' });
    // the oracle is unchanged but the GOV pool was pushed 3% down just before the batch
    const sandwiched = executePolicySwaps(
      TOKENS,
      holdings,
      marketAt(prices, poolsAt({ ...prices, GOV: 9.7 })),
      plan.swaps,
    );
    expect(sandwiched).toMatchObject({ ok: false, index: 0, kind: 'insufficient-output' });
    const stale = executePolicySwaps(
      TOKENS,
      holdings,
      marketAt(prices, poolsAt(prices), { now: NOW + 90_000 }),
      plan.swaps,
    );
    expect(stale).toMatchObject({ ok: false, kind: 'stale-feed' });
    const future = executePolicySwaps(
      TOKENS,
      holdings,
      marketAt(prices, poolsAt(prices), { now: NOW - 120 }),
      plan.swaps,
    );
    expect(future).toMatchObject({ ok: false, kind: 'feed-from-future' });
    expect(run(prices, { validUntil: NOW - 1 })).toMatchObject({ ok: false, kind: 'validity-ended' });
    expect(run(prices, { validAfter: NOW + 1 })).toMatchObject({ ok: false, kind: 'not-yet-valid' });
    expect(run(prices, { validAfter: NOW, validUntil: NOW }).ok).toBe(true);
  });
});
