import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../config/loadConfig.ts';
import { ConfigError } from '../shared/errors.ts';

const example = fileURLToPath(new URL('../config/examples/devnet.yaml', import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: the test edits raw YAML of any shape
async function withChange(change: (raw: Record<string, any>) => void): Promise<string> {
  const raw = parse(await readFile(example, 'utf8'));
  change(raw);
  try {
    parseConfig(stringify(raw), 'test.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('strategy and guardrails config', () => {
  it('accepts the devnet example: risk parity, runway floor, GOV cap, max step, with defaults filled', async () => {
    const config = parseConfig(await readFile(example, 'utf8'), 'devnet.yaml');
    expect(config.strategy?.id).toBe('risk-parity');
    expect(config.strategy?.overlays.map((o) => o.id)).toEqual([
      'runway-floor',
      'governance-cap',
      'vol-target',
      'drift-band',
      'max-step',
    ]);
    expect(config.strategy?.overlays[0]?.params).toEqual({
      months: 24,
      bufferMonths: 2,
      stables: ['USDC', 'DAI'],
    });
    expect(config.strategy?.overlays[1]?.params).toEqual({ maxBps: 5000, keepHeld: true });
    expect(config.guardrails.maxMovedPerProposalBps).toBe(1000);
  });

  it('fills guardrail defaults when the section is absent', async () => {
    const raw = parse(await readFile(example, 'utf8'));
    delete raw.guardrails;
    const config = parseConfig(stringify(raw));
    expect(config.guardrails).toMatchObject({
      maxSlippageBps: 100,
      minTradeUsd: 1000,
      maxMovedPerProposalBps: 1000,
    });
  });

  it('names the path of a bad strategy param', async () => {
    expect(
      await withChange((c) => {
        c.strategy.params.lookbackDays = 5;
      }),
    ).toMatch(/→ at strategy\.params\.lookbackDays/);
    expect(
      await withChange((c) => {
        c.strategy.overlays[4].params.maxStepBps = 0;
      }),
    ).toMatch(/→ at strategy\.overlays\[4\]\.params\.maxStepBps/);
    expect(
      await withChange((c) => {
        c.strategy.overlays[0].params.bufferMonths = -1;
      }),
    ).toMatch(/→ at strategy\.overlays\[0\]\.params\.bufferMonths/);
    expect(
      await withChange((c) => {
        c.strategy.id = 'moon';
      }),
    ).toMatch(/unknown strategy "moon"[\s\S]*→ at strategy\.id/);
  });

  it('rejects weights that do not add up, unknown tokens and a negative spend, naming the field', async () => {
    expect(
      await withChange((c) => {
        c.strategy = { id: 'fixed-weights', params: { weights: { WETH: 6000, USDC: 3000 } } };
      }),
    ).toMatch(/weights must add up to 10000 basis points, got 9000[\s\S]*→ at strategy\.params\.weights/);
    expect(
      await withChange((c) => {
        c.strategy.params.assets = ['WETH', 'SOL'];
      }),
    ).toMatch(/unknown token SOL[\s\S]*→ at strategy\.params\.assets\[1\]/);
    expect(
      await withChange((c) => {
        c.treasury.monthlySpendUsd = -5;
      }),
    ).toMatch(/monthly spend cannot be negative[\s\S]*→ at treasury\.monthlySpendUsd/);
    expect(
      await withChange((c) => {
        c.guardrails.maxTradeBpsPerAsset = { XYZ: 100 };
      }),
    ).toMatch(/unknown token XYZ[\s\S]*→ at guardrails\.maxTradeBpsPerAsset\.XYZ/);
    expect(
      await withChange((c) => {
        c.guardrails.maxSlippageBps = 5000;
      }),
    ).toMatch(/→ at guardrails\.maxSlippageBps/);
  });
});
