import { type AuditRecord, canonicalJson, sha256Hex } from '../agent/auditLog.ts';
import { configHash, type DecisionInputs } from '../agent/decide.ts';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { type BacktestResult, buildPriceTape, runBacktest } from '../strategies/backtest/engine.ts';
import {
  type BacktestConfig,
  backtestSettingsFromConfig,
  baselineSettings,
  DEFAULT_POOL_DEPTH_USD,
} from '../strategies/backtest/setup.ts';
import type { PriceHistory } from '../strategies/priceHistory.ts';
import { bpsText, usdText } from './daoView.ts';

/**
 * The backtest of a DAO's strategy on the price history, against the usual baselines (as `treasury backtest`).
 * Live: the config's strategy and settings. Offline: what the log says — the strategy, guardrails, tokens and
 * spending of its last decision, the starting treasury of its first, the cadence and delay it measured.
 */

export type BacktestRun = {
  results: BacktestResult[];
  /** How the run was set up, in words. */
  notes: string[];
  /** A key for the cache: same key, same result. */
  key: string;
};

export function backtestOfConfig(config: TreasuryAgentConfig, history: PriceHistory): BacktestRun {
  const notes = [
    `The configured strategy on ${history.source}, the whole period the starting holdings have prices.`,
    config.devnet
      ? `Starting treasury from devnet: ${usdText(config.devnet.treasuryUsd)} (${mixText(config.devnet.treasuryMixBps)}).`
      : 'Starting treasury: $10M, 90% governance token, 10% USDC (no devnet section).',
  ];
  return { results: run(config, history), notes, key: configHash(config) };
}

type DecisionData = {
  inputs: DecisionInputs;
  outcome?: string;
  plan: { valueUsd: number; beforeBps: Record<string, number> };
};

const DAY = 86_400;

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** A backtest config rebuilt from the log alone (undefined when the log holds no decision with inputs). */
export function configFromLog(records: readonly AuditRecord[]): { config: BacktestConfig; notes: string[] } {
  const decisions = records.filter((r) => r.kind === 'decision' && (r.data as DecisionData).inputs);
  const first = decisions[0];
  const last = decisions.at(-1);
  if (!first || !last) throw new Error('the log holds no decision to take the strategy from');
  const inputs = (last.data as DecisionData).inputs;
  const start = first.data as DecisionData;
  // One proposal every N days: the shortest gap between two proposed decisions.
  const proposed = decisions.filter((r) => (r.data as DecisionData).outcome === 'propose').map((r) => r.at);
  const gaps = proposed.slice(1).map((at, i) => at - proposed[i]!);
  const cadenceDays = gaps.length ? Math.max(1, Math.round(Math.min(...gaps) / DAY)) : 7;
  // From drafting to execution: the median over executed proposals.
  const decidedAt = new Map<string, number>();
  for (const r of records) {
    if (r.kind !== 'proposal-posted') continue;
    const d = r.data as { ledgerKey?: string; decisionRecord?: string };
    const decision = records.find((x) => x.id === d.decisionRecord);
    if (d.ledgerKey && decision) decidedAt.set(d.ledgerKey, decision.at);
  }
  const delays = records
    .filter((r) => r.kind === 'executed')
    .map((r) => r.at - (decidedAt.get(String((r.data as { ledgerKey?: string }).ledgerKey)) ?? r.at))
    .filter((s) => s > 0);
  const delaySeconds = median(delays) ?? 3 * DAY;
  // The starting mix from the first decision's holdings (bps, made to sum to exactly 10,000).
  const mix = Object.fromEntries(Object.entries(start.plan.beforeBps).filter(([, bps]) => bps > 0));
  const biggest = Object.entries(mix).sort(([, a], [, b]) => b - a)[0]?.[0];
  const sum = Object.values(mix).reduce((a, b) => a + b, 0);
  if (biggest) mix[biggest] = mix[biggest]! + 10_000 - sum;
  const usdcPools = Object.values(inputs.pools).map((p) => Number(p.reserveUsdc) / 1e6);
  const poolDepthUsd = median(usdcPools) ?? DEFAULT_POOL_DEPTH_USD;
  const config: BacktestConfig = {
    strategy: inputs.strategy.config as BacktestConfig['strategy'],
    guardrails: inputs.guardrails as BacktestConfig['guardrails'],
    tokens: inputs.tokens.map((t) => ({
      symbol: t.symbol,
      decimals: t.decimals,
      role: t.role,
      priceAsset: t.priceAsset,
    })),
    treasury: { monthlySpendUsd: inputs.monthlySpendUsd },
    devnet: {
      priceDate: inputs.asOf,
      treasuryUsd: start.plan.valueUsd,
      treasuryMixBps: mix,
      poolDepthUsd,
      blockTimeSeconds: 12,
    },
    governance: {
      proposalCadenceDays: cadenceDays,
      votingDelaySeconds: 0,
      votingPeriodSeconds: delaySeconds,
      executionDelaySeconds: 0,
    },
  };
  const notes = [
    `From the audit log alone: the strategy, guardrails, tokens and spending of its last decision (${last.id}).`,
    `Starting treasury as at its first decision (${first.id}): ${usdText(start.plan.valueUsd)} (${mixText(mix)}); pools ${usdText(poolDepthUsd)} deep.`,
    `One proposal every ${cadenceDays} day(s) and ${(delaySeconds / DAY).toFixed(1)} days from drafting to execution, as measured in the log.`,
  ];
  return { config, notes };
}

export function backtestOfLog(records: readonly AuditRecord[], history: PriceHistory): BacktestRun {
  const { config, notes } = configFromLog(records);
  notes.unshift(`On ${history.source}, the whole period the starting holdings have prices.`);
  return { results: run(config, history), notes, key: sha256Hex(canonicalJson(config)) };
}

function run(config: BacktestConfig, history: PriceHistory): BacktestResult[] {
  const settings = backtestSettingsFromConfig(config, history);
  const tape = buildPriceTape(history, settings.tokens, settings.fromDay, settings.toDay);
  return [{ ...settings, recordAllocation: true }, ...baselineSettings(settings)].map((s) =>
    runBacktest(history, { ...s, tape }),
  );
}

function mixText(mix: Record<string, number>): string {
  return Object.entries(mix)
    .filter(([, bps]) => bps > 0)
    .map(([s, bps]) => `${s} ${bpsText(bps)}`)
    .join(', ');
}
