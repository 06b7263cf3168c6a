import { readFileSync } from 'node:fs';
import { encodeFunctionData } from 'viem';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAuditLog } from '../agent/auditLog.ts';
import { clearPause, runCycle } from '../agent/cycle.ts';
import { applyMarketDay } from '../agent/demo/market.ts';
import { circuitBreakerProblems } from '../agent/observe.ts';
import { DEFAULT_DEVNET_CONFIG } from '../cli/devnetCommand.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { aggregatorV3Abi } from '../contracts/abis.ts';
import { makeWalletClient } from '../contracts/chainClients.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import { priceToFeedAnswer } from '../contracts/devnet.ts';
import { readSafeState } from '../contracts/treasuryReads.ts';
import { type CycleStack, startCycleStack } from './support/localStack.ts';

/** Market data that lies (issue 11): timestamps from the future and moves that feed and pool agree on. */

let current: CycleStack | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

function startPrices(s: CycleStack): Record<string, number> {
  return Object.fromEntries(
    Object.values(s.stack.devnet.deployment.tokens).map((t) => [t.symbol, t.startPriceUsd]),
  );
}

function audit(s: CycleStack) {
  return parseAuditLog(readFileSync(s.runtime.config.state.auditLogPath, 'utf8'));
}

describe('the circuit breaker', () => {
  it('refuses moves beyond its bounds against each reference, for risk tokens and stablecoins apart', async () => {
    const config = await loadConfig(DEFAULT_DEVNET_CONFIG);
    const observed = (usd: Record<string, number>) => ({
      prices: Object.fromEntries(
        Object.entries(usd).map(([symbol, p]) => [
          symbol,
          { symbol, usd: p, source: 'test', updatedAt: 0, ageSeconds: 0 },
        ]),
      ),
    });
    const reference = { what: 'the close of 2022-01-02', at: 0, prices: { GOV: 10, WETH: 3000, USDC: 1 } };
    expect(
      circuitBreakerProblems(config, observed({ GOV: 12.9, WETH: 2200, USDC: 1.02 }), [reference]),
    ).toEqual([]);
    const problems = circuitBreakerProblems(config, observed({ GOV: 15, WETH: 1500, USDC: 0.95 }), [
      reference,
    ]);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^GOV: \$15\.0000 is \+50\.0% from the close of 2022-01-02 \(\$10\.0000\)/);
    expect(problems[1]).toMatch(/^WETH: .* is -50\.0% from/);
    expect(problems[2]).toMatch(/^USDC: .* is -5\.0% from .*beyond the 3\.0% the circuit breaker allows/);
  });

  it('a one-day +50% move that feed and pool agree on pauses the agent; a steward clears it and the agent goes on', async () => {
    const s = await startCycleStack();
    current = s;
    const prices = startPrices(s);
    await applyMarketDay(s.stack, { ...prices, GOV: prices.GOV! * 1.5 });
    const report = await runCycle(s.runtime);
    expect(report.events.join('\n')).toMatch(/PAUSED: circuit breaker: GOV: .* \+50\.0% from the close of/);
    expect(await s.runtime.ledger.all()).toHaveLength(0);
    expect(await s.runtime.ledger.getState('paused')).toMatch(/^circuit breaker/);
    const tripped = audit(s).find((r) => r.kind === 'circuit-breaker')!.data as { problems: string[] };
    expect(tripped.problems.join()).toMatch(/GOV/);
    // paused: the next cycle touches nothing
    expect((await runCycle(s.runtime)).events.join('\n')).toMatch(/agent paused: circuit breaker/);

    // A steward checks the move and clears it: the spiked prices become the reference, and the agent proposes.
    expect(await clearPause(s.runtime.ledger)).toMatch(/^circuit breaker/);
    await runCycle(s.runtime);
    expect((await s.runtime.ledger.all()).map((r) => r.state)).toEqual(['posted']);
  });

  it('a spike between the vote and the execution pauses the agent before anything is executed', async () => {
    const s = await startCycleStack();
    current = s;
    await runCycle(s.runtime);
    const [row] = await s.runtime.ledger.all();
    await s.advance(60);
    await s.vote(0, row!.proposalId!, 1);
    await s.vote(1, row!.proposalId!, 1);
    const g = s.runtime.config.governance;
    await s.advance(g.votingPeriodSeconds + g.executionDelaySeconds + 120);
    const prices = startPrices(s);
    await applyMarketDay(s.stack, { ...prices, WBTC: prices.WBTC! * 0.55 });
    await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row!.key))!.state).toBe('passed');
    expect(await s.runtime.ledger.getState('paused')).toMatch(/circuit breaker: WBTC/);
    expect((await readSafeState(s.runtime.client, { safe: s.runtime.config.safe.address! })).nonce).toBe(0n);
  });
});

describe('feed timestamps', () => {
  it('an answer dated in the future stops the cycle with the reason, nothing proposed', async () => {
    const s = await startCycleStack();
    current = s;
    const now = Number((await s.runtime.client.getBlock()).timestamp);
    const feed = s.stack.devnet.deployment.tokens.WETH!.feed;
    const deployer = makeWalletClient(31337, s.runtime.config.chain.rpcUrl, devAccount(0));
    const hash = await deployer.sendTransaction({
      to: feed,
      data: encodeFunctionData({
        abi: aggregatorV3Abi,
        functionName: 'updateAnswerAt',
        args: [priceToFeedAnswer(startPrices(s).WETH!), BigInt(now + 3600)],
      }),
    });
    await s.runtime.client.waitForTransactionReceipt({ hash });
    const report = await runCycle(s.runtime);
    expect(report.events.join('\n')).toMatch(/market data refused/);
    const stopped = audit(s).find((r) => r.kind === 'cycle-stopped')!.data as { reason: string };
    expect(stopped.reason).toMatch(/WETH: the feed's answer is dated \d+ s after the block .*in the future/);
    expect(await s.runtime.ledger.all()).toHaveLength(0);
  });
});
