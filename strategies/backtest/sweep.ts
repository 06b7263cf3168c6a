import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  GovernanceConfigSchema,
  type TreasuryAgentConfig,
  TreasuryAgentConfigSchema,
  TreasuryConfigSchema,
} from '../../config/schema.ts';
import { ConfigError } from '../../shared/errors.ts';
import { GuardrailsSchema } from '../guardrails.ts';
import type { PriceHistory } from '../priceHistory.ts';
import { StrategyConfigSchema, unknownStrategySymbols } from '../registry.ts';
import type { WeightsBps } from '../types.ts';
import { buildPriceTape, runBacktest } from './engine.ts';
import type { BacktestMetrics } from './metrics.ts';
import { backtestSettingsFromConfig, type WindowOptions } from './setup.ts';

/**
 * Objectives a sweep ranks by (metrics of BacktestMetrics): `sharpe`, `sortino`, `maxDrawdown`, `runwayBreaches`
 * (days below the runway floor after reaching it), `endValueUsd` (the final value), and a few more.
 */
export const RANKABLE = [
  'sharpe',
  'sortino',
  'maxDrawdown',
  'runwayBreaches',
  'endValueUsd',
  'cagr',
  'volatility',
  'turnover',
] as const;
export type Rankable = (typeof RANKABLE)[number];
/** Lower is better for these. */
const ASCENDING = new Set<Rankable>(['maxDrawdown', 'runwayBreaches', 'volatility', 'turnover']);

/** Best first by `key`; ties (e.g. no breaches for many) go to the higher Sharpe, then the grid order. */
export function rankRows(rows: SweepRow[], key: Rankable): SweepRow[] {
  const sign = ASCENDING.has(key) ? 1 : -1;
  const value = (row: SweepRow) => {
    const v = row.metrics[key];
    return Number.isFinite(v) ? v : sign * Number.POSITIVE_INFINITY; // NaN last
  };
  return rows
    .map((row, i) => ({ row, i }))
    .sort(
      (a, b) =>
        sign * (value(a.row) - value(b.row)) || b.row.metrics.sharpe - a.row.metrics.sharpe || a.i - b.i,
    )
    .map(({ row }) => row);
}

/**
 * A `--sweep FILE`: config paths (dot-separated, array indexes as numbers) and the values to try for each;
 * every combination is backtested and ranked.
 * ```yaml
 * grid:
 *   strategy.params.lookbackDays: [30, 60, 90, 180]
 *   strategy.overlays.3.params.maxStepBps: [500, 1000, 2000]
 *   guardrails.maxSlippageBps: [100, 300, 500]
 * rankBy: sharpe
 * top: 10
 * ```
 */
export const SweepSpecSchema = z.strictObject({
  grid: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.]+$/, { message: 'a dot-separated config path' }),
      z.array(z.unknown()).min(1),
    )
    .refine((g) => Object.keys(g).length > 0, { message: 'at least one path to vary' }),
  rankBy: z.enum(RANKABLE).default('sharpe'),
  top: z.number().int().min(1).max(1000).default(10),
});
export type SweepSpec = z.infer<typeof SweepSpecSchema>;

export const MAX_SWEEP_RUNS = 20_000;

export async function loadSweepSpec(path: string): Promise<SweepSpec> {
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read sweep file ${path}: ${(error as Error).message.split('\n')[0]}`, {
      cause: error,
    });
  }
  const parsed = SweepSpecSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${path} is invalid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Every combination of the grid, as [path, value] lists (the first path varies slowest). */
export function gridCombinations(
  grid: Readonly<Record<string, readonly unknown[]>>,
): Array<Array<[string, unknown]>> {
  let combos: Array<Array<[string, unknown]>> = [[]];
  for (const [path, values] of Object.entries(grid)) {
    const next: Array<Array<[string, unknown]>> = [];
    for (const combo of combos) for (const v of values) next.push([...combo, [path, v]]);
    combos = next;
    if (combos.length > MAX_SWEEP_RUNS) {
      throw new ConfigError(`the sweep grid has more than ${MAX_SWEEP_RUNS} combinations`);
    }
  }
  return combos;
}

function setPath(target: unknown, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target as Record<string, unknown>;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (next === undefined || next === null || typeof next !== 'object') {
      throw new ConfigError(`sweep path ${path}: ${keys.slice(0, i + 1).join('.')} is not in the config`);
    }
    node = next as Record<string, unknown>;
  });
}

/** Sections a sweep may vary without re-validating the whole config (addresses, tokens, …). */
const SECTIONS = {
  strategy: StrategyConfigSchema,
  guardrails: GuardrailsSchema,
  governance: GovernanceConfigSchema,
  treasury: TreasuryConfigSchema,
} as const;

/**
 * Validates a varied config: only the varied sections when they are all in SECTIONS (plus the symbol
 * cross-checks), else the whole config. Returns the config or the formatted problems.
 */
function validateVaried(raw: TreasuryAgentConfig, touched: Set<string>): TreasuryAgentConfig | string {
  if (![...touched].every((key) => key in SECTIONS)) {
    const parsed = TreasuryAgentConfigSchema.safeParse(raw);
    return parsed.success ? parsed.data : z.prettifyError(parsed.error);
  }
  const out: Record<string, unknown> = { ...raw };
  const problems: string[] = [];
  for (const key of touched) {
    const parsed = SECTIONS[key as keyof typeof SECTIONS].safeParse((raw as Record<string, unknown>)[key]);
    if (parsed.success) out[key] = parsed.data;
    else problems.push(z.prettifyError(parsed.error).replaceAll('→ at ', `→ at ${key}.`));
  }
  const config = out as TreasuryAgentConfig;
  const symbols = config.tokens.map((t) => t.symbol);
  if (problems.length === 0 && config.strategy) {
    for (const issue of unknownStrategySymbols(config.strategy, symbols)) {
      problems.push(`✖ ${issue.message}\n  → at strategy.${issue.path.join('.')}`);
    }
  }
  return problems.length > 0 ? problems.join('\n') : config;
}

export type SweepRow = { params: Record<string, unknown>; metrics: BacktestMetrics };

/** How often a sweep computed base weights and how often it reused them from another combination. */
export type SweepStats = { weightsComputed: number; weightsReused: number };

export type SweepOptions = {
  /**
   * Share the base weights of holdings-independent strategies between combinations (default true: the same
   * figures, less work). false: every combination computes its own (benchmarks that count computed work).
   */
  shareWeights?: boolean;
  /** Filled in with the memo's counts (both 0 when nothing was shared). */
  stats?: SweepStats;
};

/** A memo that counts its hits (weights reused) and its entries (weights computed once). */
class CountingMemo extends Map<string, WeightsBps> {
  computed = 0;
  reused = 0;
  override get(key: string): WeightsBps | undefined {
    const value = super.get(key);
    if (value !== undefined) this.reused++;
    return value;
  }
  override set(key: string, value: WeightsBps): this {
    this.computed++;
    return super.set(key, value);
  }
}

/** Runs every combination (strategy only, no baselines) and returns them ranked, best first. */
export function runSweep(
  config: TreasuryAgentConfig,
  history: PriceHistory,
  spec: SweepSpec,
  window: WindowOptions = {},
  onProgress?: (done: number, total: number) => void,
  options: SweepOptions = {},
): SweepRow[] {
  const combos = gridCombinations(spec.grid);
  const base = backtestSettingsFromConfig(config, history, window);
  const tape = buildPriceTape(history, base.tokens, base.fromDay, base.toDay);
  const rows: SweepRow[] = [];
  // base weights of holdings-independent strategies are shared between combinations (same history, tokens)
  const counting = new CountingMemo();
  const memo = options.shareWeights === false ? undefined : counting;
  const touched = new Set(Object.keys(spec.grid).map((path) => path.split('.')[0]!));
  combos.forEach((combo, k) => {
    const raw = structuredClone(config);
    for (const [path, value] of combo) setPath(raw, path, value);
    const varied = validateVaried(raw, touched);
    if (typeof varied === 'string') {
      throw new ConfigError(
        `sweep combination ${combo.map(([p, v]) => `${p}=${JSON.stringify(v)}`).join(', ')} is invalid:\n${varied}`,
      );
    }
    const settings = backtestSettingsFromConfig(varied, history, window, memo ? { memo } : {});
    const result = runBacktest(history, { ...settings, tape });
    rows.push({ params: Object.fromEntries(combo), metrics: result.metrics });
    onProgress?.(k + 1, combos.length);
  });
  if (options.stats) {
    options.stats.weightsComputed = counting.computed;
    options.stats.weightsReused = counting.reused;
  }
  return rankRows(rows, spec.rankBy);
}
