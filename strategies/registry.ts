import { z } from 'zod';
import { ConfigError } from '../shared/errors.ts';
import { equalWeight, fixedWeights, hold, inverseVolatility, riskParity } from './allocationStrategies.ts';
import { driftBand, governanceCap, maxStep, runwayFloor, volTarget } from './overlays.ts';
import type {
  ConfiguredStrategy,
  Floor,
  Holdings,
  MarketSnapshot,
  Overlay,
  Shares,
  Strategy,
  WeightsBps,
} from './types.ts';
import { assertValidWeights, positionOf, sharesOf, toBasisPoints } from './weights.ts';

/** Built-in strategies by id. */
// biome-ignore lint/suspicious/noExplicitAny: params differ per strategy; each is validated by its own schema
export const strategyRegistry: Readonly<Record<string, Strategy<any>>> = Object.freeze({
  [fixedWeights.id]: fixedWeights,
  [equalWeight.id]: equalWeight,
  [hold.id]: hold,
  [inverseVolatility.id]: inverseVolatility,
  [riskParity.id]: riskParity,
});

/** Built-in overlays by id, applied in the order the config lists them. */
// biome-ignore lint/suspicious/noExplicitAny: params differ per overlay; each is validated by its own schema
export const overlayRegistry: Readonly<Record<string, Overlay<any>>> = Object.freeze({
  [runwayFloor.id]: runwayFloor,
  [governanceCap.id]: governanceCap,
  [maxStep.id]: maxStep,
  [driftBand.id]: driftBand,
  [volTarget.id]: volTarget,
});

const ParamsSchema = z.record(z.string(), z.unknown()).default({});

export const OverlayConfigSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .describe('The overlay: runway-floor, governance-cap, max-step, drift-band, volatility-target, …'),
  params: ParamsSchema.describe("The overlay's params; their bounds and defaults are in its own zod schema."),
});

/**
 * `strategy:` in the config: a base strategy and overlays applied in order, e.g.
 * ```yaml
 * strategy:
 *   id: risk-parity
 *   params: { assets: [WETH, WBTC], lookbackDays: 90 }
 *   overlays:
 *     - { id: runway-floor, params: { months: 24, stables: [USDC, DAI] } }
 *     - { id: governance-cap, params: { maxBps: 5000 } }
 *     - { id: max-step, params: { maxStepBps: 1000 } }
 * ```
 * Params are validated by each strategy's schema (errors name `strategy.params.…` or
 * `strategy.overlays.N.params.…`) and come out with their defaults filled in.
 */
export const StrategyConfigSchema = z
  .strictObject({
    id: z
      .string()
      .min(1)
      .describe(
        'The strategy: fixed-weights, equal-weight, inverse-volatility, risk-parity, … (strategies/README.md).',
      ),
    params: ParamsSchema.describe(
      "The strategy's params; their bounds and defaults are in its own zod schema.",
    ),
    overlays: z
      .array(OverlayConfigSchema)
      .max(10)
      .default([])
      .describe(
        "Overlays applied in order to the strategy's weights (runway-floor, governance-cap, max-step, …).",
      ),
  })
  .superRefine((config, ctx) => {
    const strategy = strategyRegistry[config.id];
    if (!strategy) {
      ctx.addIssue({
        code: 'custom',
        path: ['id'],
        message: `unknown strategy "${config.id}" (built in: ${Object.keys(strategyRegistry).join(', ')})`,
      });
    } else {
      const parsed = strategy.paramsSchema.safeParse(config.params);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({ code: 'custom', path: ['params', ...issue.path], message: issue.message });
        }
      }
    }
    config.overlays.forEach((overlayConfig, i) => {
      const overlay = overlayRegistry[overlayConfig.id];
      if (!overlay) {
        ctx.addIssue({
          code: 'custom',
          path: ['overlays', i, 'id'],
          message: `unknown overlay "${overlayConfig.id}" (built in: ${Object.keys(overlayRegistry).join(', ')})`,
        });
        return;
      }
      const parsed = overlay.paramsSchema.safeParse(overlayConfig.params);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({
            code: 'custom',
            path: ['overlays', i, 'params', ...issue.path],
            message: issue.message,
          });
        }
      }
    });
  })
  .transform((config) => ({
    id: config.id,
    params: strategyRegistry[config.id]!.paramsSchema.parse(config.params) as Record<string, unknown>,
    overlays: config.overlays.map((o) => ({
      id: o.id,
      params: overlayRegistry[o.id]!.paramsSchema.parse(o.params) as Record<string, unknown>,
    })),
  }));

export type StrategyConfig = z.infer<typeof StrategyConfigSchema>;
export type StrategyConfigInput = z.input<typeof StrategyConfigSchema>;

/** Symbols named anywhere in the strategy params that are not configured tokens, with their paths. */
export function unknownStrategySymbols(
  config: StrategyConfig,
  symbols: readonly string[],
): Array<{ path: (string | number)[]; message: string }> {
  const issues: Array<{ path: (string | number)[]; message: string }> = [];
  const known = new Set(symbols);
  const visit = (value: unknown, path: (string | number)[]) => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        if (typeof v === 'string' && /^[A-Z][A-Z0-9]{1,9}$/.test(v) && !known.has(v)) {
          issues.push({
            path: [...path, i],
            message: `unknown token ${v} (configured: ${symbols.join(', ')})`,
          });
        }
      });
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'weights' && v && typeof v === 'object') {
          for (const s of Object.keys(v)) {
            if (!known.has(s)) {
              issues.push({
                path: [...path, k, s],
                message: `unknown token ${s} (configured: ${symbols.join(', ')})`,
              });
            }
          }
        } else visit(v, [...path, k]);
      }
    }
  };
  visit(config.params, ['params']);
  config.overlays.forEach((o, i) => {
    visit(o.params, ['overlays', i, 'params']);
  });
  return issues;
}

/** Parses a strategy config (with `strategy.` paths in errors) for callers outside the main config. */
export function parseStrategyConfig(raw: unknown, path = 'strategy'): StrategyConfig {
  const result = StrategyConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      `${path} is invalid:\n${z.prettifyError(result.error).replaceAll('→ at ', `→ at ${path}.`)}`,
      {
        cause: result.error,
      },
    );
  }
  return result.data;
}

export type ConfigureOptions = {
  /**
   * Base-strategy weights shared between strategies configured with the same memo (a sweep over one price
   * history and token list). Used only for strategies whose weights do not depend on holdings; the key is the
   * strategy, its params and the snapshot day, so the memo must not outlive that history and token list.
   */
  memo?: Map<string, WeightsBps>;
};

/** Binds params and overlays: the result is what the agent and the backtest call at every decision. */
export function configureStrategy(
  config: StrategyConfig,
  options: ConfigureOptions = {},
): ConfiguredStrategy {
  const strategy = strategyRegistry[config.id];
  if (!strategy) throw new ConfigError(`unknown strategy "${config.id}"`);
  const params = strategy.paramsSchema.parse(config.params);
  const overlays = config.overlays.map((o) => {
    const overlay = overlayRegistry[o.id];
    if (!overlay) throw new ConfigError(`unknown overlay "${o.id}"`);
    return { overlay, params: overlay.paramsSchema.parse(o.params) };
  });
  const lookbackDays = Math.max(
    strategy.lookbackDays(params),
    ...overlays.map(({ overlay, params: p }) => overlay.lookbackDays(p)),
  );
  const version = [strategy.version, ...overlays.map(({ overlay }) => overlay.version)].join('.');
  const id = [strategy.id, ...overlays.map(({ overlay }) => overlay.id)].join('+');
  const description = [
    `${strategy.id}(${JSON.stringify(params)})`,
    ...overlays.map(({ overlay, params: p }) => `${overlay.id}(${JSON.stringify(p)})`),
  ].join(' → ');
  const memo = options.memo && strategy.holdingsIndependent?.(params) ? options.memo : undefined;
  const memoKey = `${strategy.id}@${strategy.version}${JSON.stringify(params)}@`;
  const baseWeights = (snapshot: MarketSnapshot, holdings: Holdings): WeightsBps => {
    if (!memo) return strategy.targetWeights(snapshot, holdings, params);
    const key = memoKey + snapshot.day;
    let weights = memo.get(key);
    if (!weights) {
      weights = strategy.targetWeights(snapshot, holdings, params);
      memo.set(key, weights);
    }
    return weights;
  };
  return {
    id,
    version,
    lookbackDays,
    description,
    targetWeights(snapshot: MarketSnapshot, holdings: Holdings): WeightsBps {
      const weights = baseWeights(snapshot, holdings);
      assertValidWeights(weights, snapshot, strategy.id);
      if (overlays.length === 0) return { ...weights };
      const position = positionOf(snapshot, holdings);
      let shares: Shares = sharesOf(weights);
      // minimums guaranteed by earlier overlays (the runway floor), which later ones must keep
      const floors: Floor[] = [];
      for (const { overlay, params: p } of overlays) {
        shares = overlay.adjust(shares, snapshot, holdings, p, position, floors);
        const floor = overlay.floor?.(snapshot, holdings, p, position);
        if (floor) floors.push(floor);
      }
      const out = toBasisPoints(shares);
      assertValidWeights(out, snapshot, id);
      return out;
    },
  };
}
