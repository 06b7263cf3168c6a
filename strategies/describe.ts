import { overlayRegistry, type StrategyConfig, strategyRegistry } from './registry.ts';

/**
 * The configured strategy in words, for the people who vote on its proposals: "Risk parity over WETH and WBTC
 * (90-day lookback); then at least 24 months of spending in USDC and DAI; …". Params are read through each
 * strategy's own schema (defaults applied), so the words say what the code does.
 */

const pct = (bps: number) => `${Number((bps / 100).toFixed(2))}%`;

function list(items: readonly string[] | undefined, all: string): string {
  if (!items || items.length === 0) return all;
  if (items.length === 1) return items[0]!;
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

type Params = Record<string, unknown>;

const STRATEGY_WORDS: Record<string, (p: Params) => string> = {
  'fixed-weights': (p) => {
    const weights = Object.entries((p.weights ?? {}) as Record<string, number>)
      .map(([s, bps]) => `${s} ${pct(bps)}`)
      .join(', ');
    const band = Number(p.driftBandBps ?? 0);
    return `fixed weights (${weights})${band > 0 ? `, left alone while every asset is within ±${pct(band)}` : ''}`;
  },
  'equal-weight': (p) => `equal weights over ${list(p.assets as string[] | undefined, 'every priced token')}`,
  'inverse-volatility': (p) =>
    `weights inverse to volatility over ${list(p.assets as string[] | undefined, 'every priced token')} (${p.lookbackDays}-day lookback)`,
  'risk-parity': (p) =>
    `risk parity (equal risk contribution) over ${list(p.assets as string[] | undefined, 'every priced token')} (${p.lookbackDays}-day lookback)`,
  hold: () => 'hold the current allocation',
};

const OVERLAY_WORDS: Record<string, (p: Params) => string> = {
  'runway-floor': (p) =>
    `at least ${p.months} months of spending in ${list(p.stables as string[] | undefined, 'stablecoins')}`,
  'governance-cap': (p) =>
    `the DAO's own token at most ${pct(Number(p.maxBps))}${p.keepHeld === false ? '' : ', kept up to that and never bought'}`,
  'vol-target': (p) =>
    `risky assets scaled to a ${Number(p.targetVolatility) * 100}% annual volatility (${p.lookbackDays}-day lookback), the rest in stablecoins`,
  'drift-band': (p) => `no change while every asset is within ±${pct(Number(p.bandBps))} of its target`,
  'max-step': (p) =>
    `at most ${pct(Number(p.maxStepBps))} of the treasury moved toward the target per proposal`,
};

export function describeStrategy(config: StrategyConfig): string {
  const strategy = strategyRegistry[config.id];
  const base = strategy
    ? (STRATEGY_WORDS[config.id]?.(strategy.paramsSchema.parse(config.params) as Params) ?? strategy.summary)
    : config.id;
  const overlays = config.overlays.map((o) => {
    const overlay = overlayRegistry[o.id];
    if (!overlay) return o.id;
    return OVERLAY_WORDS[o.id]?.(overlay.paramsSchema.parse(o.params) as Params) ?? overlay.summary;
  });
  const text = [base, ...overlays].join('; then ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}
