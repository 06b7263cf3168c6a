import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { encodeFunctionData, getAddress } from 'viem';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAuditLog } from '../agent/auditLog.ts';
import { verifyAudit } from '../agent/auditTools.ts';
import type { ProposalRecord } from '../agent/cycle.ts';
import { runCycle } from '../agent/cycle.ts';
import { decide } from '../agent/decide.ts';
import { applyMarketDay } from '../agent/demo/market.ts';
import type { ProposalRow } from '../agent/ledger.ts';
import { postFeedPrices } from '../agent/localStack.ts';
import { erc20Abi } from '../contracts/abis.ts';
import { advanceChainTime } from '../contracts/chainTime.ts';
import { executorContextForDevnet } from '../contracts/localDevnet.ts';
import { PolicyRefusedError, simulateInnerCalls } from '../contracts/safeExecutor.ts';
import { safeTxAtNonce } from '../contracts/safeTransaction.ts';
import { readHoldings, readSafeState } from '../contracts/treasuryReads.ts';
import { parseTreasuryPlugin } from '../governance/proposalBody.ts';
import { type CycleStack, execAsOwnersOf, startCycleStack } from './support/localStack.ts';

/**
 * Voted trades that execute (issue 10): the price policy checked on chain when the batch runs, and passed
 * proposals that survive unrelated Safe transactions. Real anvil, Safe 1.4.1, Uniswap V2, PolicySwapper and the
 * project's hub; the market moves with real swaps and feed updates.
 */

let current: CycleStack | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

async function start(edit?: Parameters<typeof startCycleStack>[0]) {
  current = await startCycleStack(edit);
  return current;
}

async function passedProposal(s: CycleStack): Promise<ProposalRow> {
  const report = await runCycle(s.runtime);
  const [row] = await s.runtime.ledger.all();
  expect(row?.state, report.events.join('\n')).toBe('posted');
  await s.advance(60);
  await s.vote(0, row!.proposalId!, 1);
  await s.vote(1, row!.proposalId!, 1);
  const g = s.runtime.config.governance;
  await s.advance(g.votingPeriodSeconds + g.executionDelaySeconds + 120);
  return row!;
}

/** The devnet's starting prices by symbol (the feeds' answers until a test moves them). */
function startPrices(s: CycleStack): Record<string, number> {
  return Object.fromEntries(
    Object.values(s.stack.devnet.deployment.tokens).map((t) => [t.symbol, t.startPriceUsd]),
  );
}

function holdingsOf(s: CycleStack) {
  const tokens = s.runtime.config.tokens.map((t) => ({
    symbol: t.symbol,
    address: t.address!,
    decimals: t.decimals,
  }));
  return readHoldings(s.runtime.client, { safe: s.runtime.config.safe.address!, tokens });
}

function audit(s: CycleStack) {
  return parseAuditLog(readFileSync(s.runtime.config.state.auditLogPath, 'utf8'));
}

/** The voted batch sent straight to the Safe by the owners at its current nonce, bypassing the agent. */
async function executeDirectly(s: CycleStack, row: ProposalRow) {
  const record = row.record as ProposalRecord;
  const tx = decide(record.inputs).tx!;
  return execAsOwnersOf(s, { to: tx.safeTx.to, data: tx.safeTx.data, operation: tx.safeTx.operation });
}

/** The chain refuses the voted batch as it stands, and nothing moves: same balances, same Safe nonce. */
async function expectChainRefuses(s: CycleStack, row: ProposalRow) {
  const safe = s.runtime.config.safe.address!;
  const before = await holdingsOf(s);
  const { nonce } = await readSafeState(s.runtime.client, { safe });
  const receipt = await executeDirectly(s, row);
  expect(receipt.status).toBe('reverted');
  const after = await holdingsOf(s);
  for (const symbol of Object.keys(before.holdings)) {
    expect(after.holdings[symbol]!.amount, symbol).toBe(before.holdings[symbol]!.amount);
  }
  expect((await readSafeState(s.runtime.client, { safe })).nonce).toBe(nonce);
}

/** Why the policy refuses the voted batch now, read from a simulation of its calls from the Safe. */
async function policyRefusal(s: CycleStack, row: ProposalRow) {
  const record = row.record as ProposalRecord;
  const tx = decide(record.inputs).tx!;
  const ctx = executorContextForDevnet(s.stack.devnet);
  const error = await simulateInnerCalls(ctx, tx).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PolicyRefusedError);
  return error as PolicyRefusedError;
}

describe('voted trades under a price policy, checked on chain', () => {
  it('executes after prices moved within the policy during the vote; the chain anchors the decision', async () => {
    const s = await start();
    const row = await passedProposal(s);
    const prices = startPrices(s);
    // GOV −12% and ETH +8% between the vote and the execution: a fixed minimum out would have reverted.
    await applyMarketDay(s.stack, { ...prices, GOV: prices.GOV! * 0.88, WETH: prices.WETH! * 1.08 });
    const report = await runCycle(s.runtime);
    const done = (await s.runtime.ledger.get(row.key))!;
    expect(done.state, report.events.join('\n')).toBe('executed');

    const executed = audit(s).find((r) => r.kind === 'executed')!.data as {
      decisionHash: string;
      policySwaps: { index: number; oraclePrice: string; minOut: string; amountOut: string }[];
    };
    const record = row.record as ProposalRecord;
    const decision = decide(record.inputs);
    expect(executed.decisionHash).toBe(decision.decisionHash);
    // the same decision whatever the order of the inputs' keys (live inputs come in config order, the log's sorted)
    const reversed = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).reverse());
    const reordered = {
      ...record.inputs,
      holdings: reversed(record.inputs.holdings),
      pools: reversed(record.inputs.pools),
      snapshot: { ...record.inputs.snapshot, prices: reversed(record.inputs.snapshot.prices) },
    };
    expect(decide(reordered).decisionHash).toBe(decision.decisionHash);
    expect(executed.policySwaps).toHaveLength(decision.plan.swaps.length);
    const sell = decision.plan.swaps.findIndex((x) => x.sell === 'GOV');
    const event = executed.policySwaps[sell]!;
    // the oracle price the chain used is the moved one, the minimum out followed it, and the swap met it
    expect(BigInt(event.oraclePrice)).toBeLessThan(decision.plan.swaps[sell]!.oraclePrice);
    expect(BigInt(event.amountOut)).toBeGreaterThanOrEqual(BigInt(event.minOut));
    expect(BigInt(event.minOut)).toBeGreaterThanOrEqual(decision.plan.swaps[sell]!.minAmountOut);
    const verified = await verifyAudit(audit(s), { client: s.runtime.client });
    expect(verified.ok, JSON.stringify(verified.executed)).toBe(true);
  });

  it('below the floor: the agent waits, the chain refuses the batch with nothing half-done, and it expires with the reason', async () => {
    const s = await start();
    const row = await passedProposal(s);
    const prices = startPrices(s);
    await applyMarketDay(s.stack, { ...prices, GOV: prices.GOV! * 0.7 }); // the floor is −25%
    const report = await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row.key))!.state).toBe('passed');
    expect(report.events.join('\n')).toMatch(
      /waits: the price policy refuses the voted batch now: the oracle price is below the floor voters accepted: oracle price [\d.]+ USDC per GOV, floor [\d.]+/,
    );
    expect((await policyRefusal(s, row)).reason).toBe('below-floor');
    await expectChainRefuses(s, row);

    // Past the voted window the proposal ends expired, with the last refusal as its reason.
    const record = row.record as ProposalRecord;
    const now = Number((await s.runtime.client.getBlock()).timestamp);
    await s.advance(Number(record.inputs.deadline) - now + 60);
    await runCycle(s.runtime);
    const after = (await s.runtime.ledger.get(row.key))!;
    expect(after.state).toBe('expired');
    expect(after.reason).toMatch(/validity window ended .*last refusal: .*below the floor/);
    expect((await readSafeState(s.runtime.client, { safe: s.runtime.config.safe.address! })).nonce).toBe(0n);
  });

  it('a stale feed: the agent waits and the chain refuses the batch; after the window it expires', async () => {
    const s = await start((c) => ({ ...c, observe: { ...c.observe, maxFeedAgeSeconds: 3600 } }));
    const row = await passedProposal(s);
    await advanceChainTime(s.runtime.client, 2 * 3600); // no feed update for two hours
    const report = await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row.key))!.state).toBe('passed');
    expect(report.events.join('\n')).toMatch(/waits: market data refused/);
    const waiting = audit(s).find((r) => r.kind === 'execution-waiting')!.data as { reason: string };
    expect(waiting.reason).toMatch(/GOV.*(stale|old)/i);
    expect((await policyRefusal(s, row)).reason).toBe('stale-feed');
    await expectChainRefuses(s, row);
    const record = row.record as ProposalRecord;
    const now = Number((await s.runtime.client.getBlock()).timestamp);
    await s.advance(Number(record.inputs.deadline) - now + 60);
    await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row.key))!.state).toBe('expired');
    expect((await s.runtime.ledger.get(row.key))!.reason).toMatch(/validity window ended/);
  });

  it('a pool pushed from the oracle (a sandwich) is refused; once arbitraged back, the same voted batch executes', async () => {
    const s = await start();
    const row = await passedProposal(s);
    const prices = startPrices(s);
    // An attacker dumps GOV into the pool just before the batch (−2.5%), the feeds do not move.
    await applyMarketDay(s.stack, { ...prices, GOV: prices.GOV! * 0.975 });
    await postFeedPrices(s.stack, prices);
    expect((await policyRefusal(s, row)).reason).toBe('insufficient-output');
    await expectChainRefuses(s, row);
    const report = await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row.key))!.state).toBe('passed');
    expect(report.events.join('\n')).toMatch(
      /waits: .*the pool returns less than the oracle price allows: swap 1 would return [\d.]+ USDC, at least [\d.]+ USDC required/,
    );
    // Arbitrage brings the pool back to the oracle price; the next cycle executes the voted calls.
    await applyMarketDay(s.stack, prices);
    await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row.key))!.state).toBe('executed');
  });
  it('a pool moved between the check and the sending waits, still executing; once arbitraged back, it executes', async () => {
    const s = await start();
    const row = await passedProposal(s);
    const prices = startPrices(s);
    // The agent checked the batch and marked it executing; it stops right there (as if another swap now
    // landed first): the next cycle resumes the execution against a pool pushed from the oracle.
    s.runtime.crashPoint = (point) => {
      if (point === 'after-executing-transition') throw new Error('stopped after the executing transition');
    };
    await expect(runCycle(s.runtime)).rejects.toThrow(/stopped after the executing transition/);
    s.runtime.crashPoint = undefined;
    expect((await s.runtime.ledger.get(row.key))!.state).toBe('executing');
    await applyMarketDay(s.stack, { ...prices, GOV: prices.GOV! * 0.975 });
    await postFeedPrices(s.stack, prices);
    const waiting = await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row.key))!.state, waiting.events.join('\n')).toBe('executing');
    expect(waiting.events.join('\n')).toMatch(
      /waits: .*the pool returns less than the oracle price allows: swap 1 would return [\d.]+ USDC, at least [\d.]+ USDC required/,
    );
    expect(audit(s).filter((r) => r.kind === 'execution-waiting')).toHaveLength(1);
    await expectChainRefuses(s, row);
    // Arbitrage brings the pool back; the next cycle finds nothing on chain and sends the same voted batch.
    await applyMarketDay(s.stack, prices);
    const done = await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row.key))!.state, done.events.join('\n')).toBe('executed');
    expect(audit(s).filter((r) => r.kind === 'executed')).toHaveLength(1);
  });
  it('a pool moved after the simulation, as the batch is sent, waits instead of failing; once arbitraged back, it executes', async () => {
    const s = await start();
    const row = await passedProposal(s);
    const prices = startPrices(s);
    // Another swap lands between the agent's simulation and its transaction: the Safe transaction reverts as a
    // whole (GS013) and nothing of the batch happens; the price policy names why, so the proposal waits.
    const request = s.runtime.client.request;
    let moved = false;
    s.runtime.client.request = (async (args: { method: string }, options?: unknown) => {
      if (!moved && (args.method === 'eth_estimateGas' || args.method === 'eth_sendRawTransaction')) {
        moved = true;
        await applyMarketDay(s.stack, { ...prices, GOV: prices.GOV! * 0.975 });
        await postFeedPrices(s.stack, prices);
      }
      return request(args as never, options as never);
    }) as typeof request;
    const waiting = await runCycle(s.runtime);
    s.runtime.client.request = request;
    expect(moved).toBe(true);
    expect((await s.runtime.ledger.get(row.key))!.state, waiting.events.join('\n')).toBe('executing');
    expect(waiting.events.join('\n')).toMatch(
      /waits: .*the pool returns less than the oracle price allows: .*\(when sent: /,
    );
    expect((await readSafeState(s.runtime.client, { safe: s.runtime.config.safe.address! })).nonce).toBe(0n);
    await applyMarketDay(s.stack, prices);
    const done = await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row.key))!.state, done.events.join('\n')).toBe('executed');
    expect(audit(s).filter((r) => r.kind === 'executed')).toHaveLength(1);
  });
});

describe('a passed proposal survives unrelated Safe transactions', () => {
  it('executes the voted calls at the moved nonce, once: a second run is refused on chain', async () => {
    const payroll = getAddress('0x000000000000000000000000000000000000bEEF');
    const s = await start((c) => ({
      ...c,
      watchdog: { ...c.watchdog, allowances: [{ token: 'USDC', to: payroll, maxPerMonth: 100_000 }] },
    }));
    const row = await passedProposal(s);
    const safe = s.runtime.config.safe.address!;
    // Meanwhile the stewards pay the payroll from the Safe (an allowance the watchdog knows): nonce 0 → 1.
    const usdc = s.stack.devnet.deployment.tokens.USDC!;
    const pay = await execAsOwnersOf(s, {
      to: usdc.address,
      data: encodeFunctionData({
        abi: erc20Abi,
        functionName: 'transfer',
        args: [payroll, 50_000n * 10n ** 6n],
      }),
    });
    expect(pay.status).toBe('success');
    expect((await readSafeState(s.runtime.client, { safe })).nonce).toBe(1n);

    const report = await runCycle(s.runtime);
    const done = (await s.runtime.ledger.get(row.key))!;
    expect(done.state, report.events.join('\n')).toBe('executed');
    expect(report.events.join('\n')).toMatch(/the Safe's nonce had moved: executed as 0x/);
    expect((await readSafeState(s.runtime.client, { safe })).nonce).toBe(2n);
    const executed = audit(s).find((r) => r.kind === 'executed')!.data as {
      safeTxHash: string;
      votedSafeTxHash: string;
      nonce: string;
    };
    const record = row.record as ProposalRecord;
    const tx = decide(record.inputs).tx!;
    // the hash that executed is the voted calls at nonce 1, and the audit log keeps both
    expect(executed.votedSafeTxHash).toBe(row.safeTxHash);
    expect(executed.safeTxHash).toBe(safeTxAtNonce(s.runtime.config.chain.id, safe, tx, 1n).safeTxHash);
    expect(executed.safeTxHash).not.toBe(row.safeTxHash);
    const verified = await verifyAudit(audit(s), { client: s.runtime.client });
    expect(verified.ok, JSON.stringify(verified.executed)).toBe(true);

    // The same voted calls again, signed by the owners at nonce 2: PolicySwapper refuses the decision.
    expect((await policyRefusal(s, row)).reason).toBe('already-executed');
    await expectChainRefuses(s, row);
    await runCycle(s.runtime);
    expect((await readSafeState(s.runtime.client, { safe })).nonce).toBe(2n);
  });

  it('a call edited on the hub is refused, even with the same safeTxHash in the plugin', async () => {
    const s = await start();
    const row = await passedProposal(s);
    const db = new Database(join(s.dir, 'hub.db'));
    const stored = db.prepare('SELECT plugins FROM proposals WHERE id = ?').get(row.proposalId) as {
      plugins: string;
    };
    const plugins = JSON.parse(stored.plugins) as { treasuryAgent: { transactions: { to: string }[] } };
    // the first approval now goes to an attacker's address; body and safeTxHash untouched
    plugins.treasuryAgent.transactions[0]!.to = getAddress('0x000000000000000000000000000000000000dEaD');
    db.prepare('UPDATE proposals SET plugins = ? WHERE id = ?').run(JSON.stringify(plugins), row.proposalId);
    db.close();
    const hub = await s.runtime.governance.getProposal(row.proposalId!);
    expect(parseTreasuryPlugin(hub!.plugins).safeTxHash).toBe(row.safeTxHash);
    await runCycle(s.runtime);
    const after = (await s.runtime.ledger.get(row.key))!;
    expect(after.state).toBe('failed');
    expect(after.reason).toMatch(/transaction list differs/);
    expect((await readSafeState(s.runtime.client, { safe: s.runtime.config.safe.address! })).nonce).toBe(0n);
  });
});
