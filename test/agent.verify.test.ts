import { describe, expect, it } from 'vitest';
import { compareWithPlan } from '../agent/cycle.ts';
import type { Decision } from '../agent/decide.ts';

const decision = {
  plan: {
    swaps: [
      {
        sell: 'GOV',
        buy: 'USDC',
        amountIn: 1_000n,
        minAmountOut: 95n,
        expectedAmountOut: 100n,
        priceImpactBps: 10,
      },
      {
        sell: 'USDC',
        buy: 'WETH',
        amountIn: 50n,
        minAmountOut: 9n,
        expectedAmountOut: 10n,
        priceImpactBps: 10,
      },
    ],
  },
} as unknown as Decision;

const change = (symbol: string, delta: bigint) => ({
  symbol,
  decimals: 18,
  before: 10_000n,
  after: 10_000n + delta,
  delta,
});

describe('verify: balances after execution against the plan', () => {
  it('accepts sells of exactly amountIn and buys of at least the minimum out', () => {
    expect(
      compareWithPlan(decision, {
        GOV: change('GOV', -1_000n),
        USDC: change('USDC', 97n - 50n),
        WETH: change('WETH', 10n),
        DAI: change('DAI', 0n),
      }),
    ).toEqual([]);
  });

  it('names every divergence: more sold than planned, less bought than the minimum, an untouched token moving', () => {
    const problems = compareWithPlan(decision, {
      GOV: change('GOV', -1_001n),
      USDC: change('USDC', 40n),
      WETH: change('WETH', 8n),
      DAI: change('DAI', -5n),
    });
    expect(problems).toEqual([
      'GOV changed by -1001, expected between -1000 and -1000',
      'USDC changed by 40, expected between 45 and 150', // 95 (min out of the sell) − 50 (the buy)
      'WETH changed by 8, expected between 9 and 20',
      'DAI changed by -5, expected between 0 and 0',
    ]);
  });
});

describe('pause and resume', () => {
  it('a paused agent proposes and executes nothing (its watchdog still looks) until `treasury resume` clears the pause', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { runCycle } = await import('../agent/cycle.ts');
    const { main } = await import('../agent/cli.ts');
    const { startCycleStack } = await import('./support/localStack.ts');
    const s = await startCycleStack();
    try {
      const configPath = join(s.dir, 'config.json');
      writeFileSync(configPath, JSON.stringify(s.runtime.config));
      await s.runtime.ledger.setState('paused', 'balances diverged from the plan after 0xabc');
      const report = await runCycle(s.runtime);
      expect(report.events).toEqual(['agent paused: balances diverged from the plan after 0xabc']);
      expect(await s.runtime.ledger.all()).toHaveLength(0);
      const space = s.runtime.config.governance.space;
      expect(await s.runtime.governance.listProposals(space, { state: 'all' })).toHaveLength(0);
      await s.runtime.close();
      const out: string[] = [];
      const code = await main(['resume', '--config', configPath], {
        out: (l) => out.push(l),
        err: (l) => out.push(l),
      });
      expect(code, out.join('\n')).toBe(0);
      expect(out).toEqual([
        'paused because: balances diverged from the plan after 0xabc',
        'pause cleared: the next cycle runs normally',
      ]);
      const { SqliteLedger } = await import('../agent/ledger.ts');
      const reopened = SqliteLedger.open(s.runtime.config.state.ledgerPath);
      expect(await reopened.getState('paused')).toBeUndefined();
      await reopened.close();
    } finally {
      await s.stack.stop();
    }
  });
});
