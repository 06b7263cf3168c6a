import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAuditLog, verifyAuditChain } from '../agent/auditLog.ts';
import { compareWithPlan } from '../agent/cycle.ts';
import type { Decision } from '../agent/decide.ts';
import { chainClock } from '../governance/clock.ts';

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
      // in display units (18 decimals here), exact: a divergence may be in the last digit
      'GOV changed by -0.000000000000001001 GOV, expected between -0.000000000000001 and -0.000000000000001 GOV',
      'USDC changed by 0.00000000000000004 USDC, expected between 0.000000000000000045 and 0.00000000000000015 USDC', // 95 (min out of the sell) − 50 (the buy)
      'WETH changed by 0.000000000000000008 WETH, expected between 0.000000000000000009 and 0.00000000000000002 WETH',
      'DAI changed by -0.000000000000000005 DAI, expected between 0 and 0 DAI',
    ]);
  });
});

describe('pause and resume', () => {
  it('a paused agent proposes and executes nothing (its watchdog still looks) until `treasury resume` clears the pause', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { runCycle } = await import('../agent/cycle.ts');
    const { main } = await import('../cli/cli.ts');
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
      const note = 'checked the execution receipt: a fee-on-transfer token';
      const code = await main(['resume', '--config', configPath, '--by', 'alice', '--note', note], {
        out: (l) => out.push(l),
        err: (l) => out.push(l),
      });
      expect(code, out.join('\n')).toBe(0);
      const records = parseAuditLog(readFileSync(s.runtime.config.state.auditLogPath, 'utf8'));
      const resumed = records.at(-1)!;
      expect(out).toEqual([
        'paused because: balances diverged from the plan after 0xabc',
        `pause cleared by alice (${note}): the next cycle runs normally (audit record ${resumed.id})`,
      ]);
      // who, when and why, in the hash chain
      expect(resumed.kind).toBe('resumed');
      expect(resumed.data).toEqual({
        pausedBecause: 'balances diverged from the plan after 0xabc',
        by: 'alice',
        note,
      });
      // at the agent's clock: the chain's on the devnet
      const chainNow = await chainClock(s.runtime.config.chain.rpcUrl)();
      expect(resumed.at).toBeLessThanOrEqual(chainNow);
      expect(chainNow - resumed.at).toBeLessThan(3600);
      expect(verifyAuditChain(records).ok).toBe(true);
      // a second resume finds nothing to clear and records nothing
      const again: string[] = [];
      expect(await main(['resume', '--config', configPath], { out: (l) => again.push(l) })).toBe(0);
      expect(again).toEqual(['the agent is not paused']);
      expect(parseAuditLog(readFileSync(s.runtime.config.state.auditLogPath, 'utf8'))).toHaveLength(
        records.length,
      );
      const { SqliteLedger } = await import('../agent/ledger.ts');
      const reopened = SqliteLedger.open(s.runtime.config.state.ledgerPath);
      expect(await reopened.getState('paused')).toBeUndefined();
      await reopened.close();
    } finally {
      await s.stack.stop();
    }
  });
});
