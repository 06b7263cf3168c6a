import type { TreasuryAgentConfig } from '../../config/schema.ts';
import { ConfigError, MarketDataError } from '../../shared/errors.ts';
import { GuardrailsSchema } from '../guardrails.ts';
import { HUB } from '../planner.ts';
import { assetRange, dayOf, isoDateOf, type PriceHistory } from '../priceHistory.ts';
import { type ConfigureOptions, configureStrategy } from '../registry.ts';
import type { TokenInfo } from '../types.ts';
import type { BacktestSettings } from './engine.ts';

export type WindowOptions = { from?: string; to?: string };

/** Defaults when the config has no devnet section to start from. */
export const DEFAULT_INITIAL_USD = 10_000_000;
export const DEFAULT_POOL_DEPTH_USD = 50_000_000;

function parseDay(value: string, flag: string): number {
  try {
    return dayOf(value);
  } catch (error) {
    throw new ConfigError(`${flag} "${value}" is not a date (expected YYYY-MM-DD)`, { cause: error });
  }
}

/** What a backtest reads of a config: the strategy, tokens, spending, starting treasury, governance timing. */
export type BacktestConfig = Pick<TreasuryAgentConfig, 'strategy' | 'treasury' | 'devnet' | 'guardrails'> & {
  tokens: Pick<TreasuryAgentConfig['tokens'][number], 'symbol' | 'decimals' | 'role' | 'priceAsset'>[];
  governance: Pick<
    TreasuryAgentConfig['governance'],
    'votingDelaySeconds' | 'votingPeriodSeconds' | 'executionDelaySeconds' | 'proposalCadenceDays'
  >;
};

/** The strategy's settings for a backtest of `config` on `history`; every bad input names its field. */
export function backtestSettingsFromConfig(
  config: BacktestConfig,
  history: PriceHistory,
  window: WindowOptions = {},
  options: ConfigureOptions = {},
): BacktestSettings {
  if (!config.strategy) {
    throw new ConfigError('strategy: required for a backtest', {
      hint: 'add a strategy section, e.g. strategy: { id: risk-parity, params: { assets: [WETH, WBTC] } }',
    });
  }
  const tokens: TokenInfo[] = config.tokens.map((t) => ({
    symbol: t.symbol,
    decimals: t.decimals,
    role: t.role,
    priceAsset: t.priceAsset,
  }));
  config.tokens.forEach((t, i) => {
    if (!history.assets[t.priceAsset]) {
      throw new MarketDataError(
        `tokens.${i}.priceAsset: asset ${t.priceAsset} (for ${t.symbol}) has no prices in ${history.source}`,
        { hint: `use one of: ${Object.keys(history.assets).sort().join(', ')}` },
      );
    }
  });
  if (config.treasury.monthlySpendUsd < 0) {
    throw new ConfigError('treasury.monthlySpendUsd: monthly spend cannot be negative');
  }
  const initialMixBps = config.devnet?.treasuryMixBps ?? {
    [tokens.find((t) => t.role === 'governance')!.symbol]: 9_000,
    [HUB]: 1_000,
  };
  const mixTotal = Object.values(initialMixBps).reduce((a, b) => a + b, 0);
  if (mixTotal !== 10_000) {
    throw new ConfigError(
      `devnet.treasuryMixBps: weights must add up to 10000 basis points, got ${mixTotal}`,
    );
  }
  // default window: where USDC and every token held at the start have prices
  const needed = [
    ...new Set([HUB, ...Object.keys(initialMixBps).filter((s) => (initialMixBps[s] ?? 0) > 0)]),
  ];
  let firstCommon = history.firstDay;
  let lastCommon = history.lastDay;
  for (const symbol of needed) {
    const token = tokens.find((t) => t.symbol === symbol)!;
    const series = history.assets[token.priceAsset]!;
    firstCommon = Math.max(firstCommon, series.firstDay);
    lastCommon = Math.min(lastCommon, series.lastDay);
  }
  const fromDay = window.from ? parseDay(window.from, '--from') : firstCommon;
  const toDay = window.to ? parseDay(window.to, '--to') : lastCommon;
  const range = `${isoDateOf(history.firstDay)} … ${isoDateOf(history.lastDay)}`;
  if (fromDay < history.firstDay || fromDay > history.lastDay) {
    throw new ConfigError(`--from ${isoDateOf(fromDay)} is outside the price data (${range})`);
  }
  if (toDay < history.firstDay || toDay > history.lastDay) {
    throw new ConfigError(`--to ${isoDateOf(toDay)} is outside the price data (${range})`);
  }
  if (toDay <= fromDay)
    throw new ConfigError(`--to ${isoDateOf(toDay)} must be after --from ${isoDateOf(fromDay)}`);
  for (const symbol of needed) {
    const token = tokens.find((t) => t.symbol === symbol)!;
    const series = history.assets[token.priceAsset]!;
    const r = assetRange(history, token.priceAsset)!;
    if (fromDay < series.firstDay || fromDay > series.lastDay) {
      throw new ConfigError(
        `--from ${isoDateOf(fromDay)}: ${symbol} (${token.priceAsset}) is held at the start but has prices only from ${r.from} to ${r.to}`,
        { hint: `choose --from between ${isoDateOf(firstCommon)} and ${isoDateOf(lastCommon)}` },
      );
    }
    if (toDay > series.lastDay + history.maxStaleDays && symbol === HUB) {
      throw new ConfigError(
        `--to ${isoDateOf(toDay)}: ${HUB} has prices only until ${r.to}, and every swap goes through ${HUB}`,
        { hint: `choose --to on or before ${r.to}` },
      );
    }
  }
  const floorOverlay = config.strategy.overlays.find((o) => o.id === 'runway-floor');
  const runwayFloorMonths =
    typeof floorOverlay?.params.months === 'number'
      ? floorOverlay.params.months
      : config.guardrails.runwayFloorMonths;
  const g = config.governance;
  const delayDays = Math.ceil(
    (g.votingDelaySeconds + g.votingPeriodSeconds + g.executionDelaySeconds) / 86_400,
  );
  return {
    name: 'strategy',
    tokens,
    strategy: configureStrategy(config.strategy, options),
    guardrails: config.guardrails,
    monthlySpendUsd: config.treasury.monthlySpendUsd,
    cadenceDays: g.proposalCadenceDays,
    delayDays,
    execution: 'governed',
    runwayFloorMonths,
    poolDepthUsd: config.devnet?.poolDepthUsd ?? DEFAULT_POOL_DEPTH_USD,
    initialUsd: config.devnet?.treasuryUsd ?? DEFAULT_INITIAL_USD,
    initialMixBps,
    fromDay,
    toDay,
  };
}

/**
 * The baselines on the same window and spending, each twice, side by side: `ideal` (the targets reached exactly
 * at the decision day's close: no delay, fees, price impact or guardrails) and `delay+costs` (governed: the
 * agent's governance delay, pools, fees and price policy, and the agent's limits on execution: slippage
 * tolerance, price floor, price-impact cap, minimum trade). The governed ones have none of the caps that belong to
 * the steward's strategy (per proposal, per asset, runway), and while a proposal could not reach its targets
 * (the price-impact cap on a thin pool) they propose again at the agent's cadence rather than waiting a month.
 * Hold as-is; 1/N rebalanced monthly; 60/40 ETH/stables rebalanced monthly. The runway floor the reports measure
 * against is the strategy's.
 */
export function baselineSettings(base: BacktestSettings): BacktestSettings[] {
  const guardrails = GuardrailsSchema.parse({
    maxSlippageBps: base.guardrails.maxSlippageBps,
    priceFloorBps: base.guardrails.priceFloorBps,
    maxPriceImpactBps: base.guardrails.maxPriceImpactBps,
    minTradeUsd: base.guardrails.minTradeUsd,
    maxMovedPerProposalBps: 10_000,
  });
  const common = { ...base, guardrails, recordAllocation: base.recordAllocation, onProgress: undefined };
  const strategies: Array<{ name: string; cadenceDays: number; strategy: BacktestSettings['strategy'] }> = [
    {
      name: 'hold as-is',
      cadenceDays: Number.POSITIVE_INFINITY,
      strategy: configureStrategy({ id: 'hold', params: {}, overlays: [] }),
    },
    {
      name: '1/N monthly',
      cadenceDays: 30,
      strategy: configureStrategy({ id: 'equal-weight', params: {}, overlays: [] }),
    },
  ];
  const eth = base.tokens.find((t) => t.priceAsset === 'ETH');
  const stables = base.tokens.filter((t) => t.role === 'stable').map((t) => t.symbol);
  if (eth && stables.length > 0) {
    const weights: Record<string, number> = { [eth.symbol]: 6_000 };
    stables.forEach((s, i) => {
      weights[s] = Math.floor(4_000 / stables.length) + (i < 4_000 % stables.length ? 1 : 0);
    });
    strategies.push({
      name: '60/40 ETH/stables',
      cadenceDays: 30,
      strategy: configureStrategy({
        id: 'fixed-weights',
        params: { weights, driftBandBps: 0 },
        overlays: [],
      }),
    });
  }
  return strategies.flatMap(({ name, cadenceDays, strategy }) => [
    { ...common, name: `${name} (ideal)`, cadenceDays, strategy, execution: 'ideal' as const },
    {
      ...common,
      name: `${name} (delay+costs)`,
      cadenceDays,
      followUpDays: base.cadenceDays,
      strategy,
      execution: 'governed' as const,
    },
  ]);
}
