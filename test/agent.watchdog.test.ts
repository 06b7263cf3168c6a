import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeFunctionData, getAddress, parseUnits } from 'viem';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAuditLog } from '../agent/auditLog.ts';
import { clearPause, runCycle } from '../agent/cycle.ts';
import { runWatchdog } from '../agent/watchdog.ts';
import { erc20Abi } from '../contracts/abis.ts';
import { safeArtifacts } from '../contracts/artifacts.ts';
import { readSafeState } from '../contracts/treasuryReads.ts';
import { type CycleStack, execAsOwnersOf, startCycleStack } from './support/localStack.ts';

/**
 * The treasury watchdog on anvil (issue 14): changes to the Safe and outflows that no proposal or allowance
 * explains are recorded, pause the agent and are POSTed to the webhook.
 */

const PAYROLL = getAddress('0x000000000000000000000000000000000000bEEF');
const STRANGER = getAddress('0x000000000000000000000000000000000000dEaD');

let alerts: unknown[] = [];
let hook: Server;
let hookUrl: string;

let current: CycleStack | undefined;

beforeAll(async () => {
  hook = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      alerts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts?token=SECRET`;
});
afterAll(async () => {
  await new Promise((resolve) => hook.close(resolve));
});
afterEach(async () => {
  await current?.stop();
  current = undefined;
  alerts = [];
});

async function start() {
  current = await startCycleStack((c) => ({
    ...c,
    mode: 'shadow',
    watchdog: {
      ...c.watchdog,
      webhookUrl: hookUrl,
      allowances: [{ token: 'USDC', to: PAYROLL, maxPerMonth: 100_000, label: 'payroll' }],
    },
  }));
  return current;
}

const transferCall = (s: CycleStack, symbol: string, to: string, amount: string) => {
  const token = s.runtime.config.tokens.find((t) => t.symbol === symbol)!;
  return {
    to: token.address!,
    data: encodeFunctionData({
      abi: erc20Abi,
      functionName: 'transfer',
      args: [to as `0x${string}`, parseUnits(amount, token.decimals)],
    }),
  };
};

const look = async (s: CycleStack) =>
  runWatchdog(s.runtime, Number((await s.runtime.client.getBlock()).timestamp));

describe('the treasury watchdog', () => {
  it('a transfer signed by the owners outside any proposal pauses the agent and alerts; payroll within its allowance does not', async () => {
    const s = await start();
    expect((await look(s)).findings).toEqual([]); // the baseline
    expect((await execAsOwnersOf(s, transferCall(s, 'USDC', PAYROLL, '40000'))).status).toBe('success');
    expect((await look(s)).alerted).toBe(false);
    expect(await s.runtime.ledger.getState('paused')).toBeUndefined();

    expect((await execAsOwnersOf(s, transferCall(s, 'GOV', STRANGER, '12345'))).status).toBe('success');
    const report = await runCycle(s.runtime);
    const events = report.events.join('\n');
    expect(events).toMatch(
      /ALERT watchdog: 12345 GOV left the Safe to 0x000000000000000000000000000000000000dEaD in 0x[0-9a-f]{64}, outside any proposal or allowance/,
    );
    expect(events).toMatch(/agent paused: watchdog/);
    expect(await s.runtime.ledger.getState('paused')).toMatch(/^watchdog: 12345 GOV left the Safe/);
    const record = parseAuditLog(readFileSync(s.runtime.config.state.auditLogPath, 'utf8')).find(
      (r) => r.kind === 'watchdog',
    );
    expect((record!.data as { findings: string[] }).findings).toHaveLength(1);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      dao: s.runtime.config.governance.space,
      safe: s.runtime.config.safe.address,
    });
    expect(JSON.stringify(alerts[0])).toContain('12345 GOV');

    // payroll beyond its monthly allowance is a finding too
    await execAsOwnersOf(s, transferCall(s, 'USDC', PAYROLL, '70000'));
    const over = await look(s);
    expect(over.findings.join('\n')).toMatch(/takes \d{4}-\d{2}'s total to 110000, above its 100000 a month/);
    expect(alerts).toHaveLength(2);
  });

  it('an owner added and a module enabled are reported once, and keep the agent paused until the config matches', async () => {
    const s = await start();
    await look(s);
    const safe = s.runtime.config.safe.address!;
    const addOwner = encodeFunctionData({
      abi: safeArtifacts.safeL2.abi,
      functionName: 'addOwnerWithThreshold',
      args: [STRANGER, 2n],
    });
    expect((await execAsOwnersOf(s, { to: safe, data: addOwner })).status).toBe('success');
    const enable = encodeFunctionData({
      abi: safeArtifacts.safeL2.abi,
      functionName: 'enableModule',
      args: [PAYROLL],
    });
    expect((await execAsOwnersOf(s, { to: safe, data: enable })).status).toBe('success');
    expect((await readSafeState(s.runtime.client, { safe })).owners).toContain(STRANGER);

    const first = await look(s);
    expect(first.alerted).toBe(true);
    const text = first.findings.join('\n');
    expect(text).toMatch(
      /the Safe's owners are .*0x000000000000000000000000000000000000dEaD.*; the config lists/,
    );
    expect(text).toMatch(
      /module\(s\) enabled on the Safe that safe.modules does not list: 0x000000000000000000000000000000000000bEEF/,
    );
    expect(await s.runtime.ledger.getState('paused')).toMatch(/^watchdog: /);
    expect(alerts).toHaveLength(1);

    // cleared without fixing the config: paused again, not alerted again
    await clearPause(s.runtime.ledger);
    const again = await look(s);
    expect(again.alerted).toBe(false);
    expect(await s.runtime.ledger.getState('paused')).toMatch(/update the config or undo the change/);
    expect(alerts).toHaveLength(1);
  });

  it("the agent's own execution is explained", async () => {
    current = await startCycleStack();
    const s = current;
    await runCycle(s.runtime); // baseline + a proposal
    const [row] = await s.runtime.ledger.all();
    await s.advance(60);
    await s.vote(0, row!.proposalId!, 1);
    await s.vote(1, row!.proposalId!, 1);
    const g = s.runtime.config.governance;
    await s.advance(g.votingPeriodSeconds + g.executionDelaySeconds + 120);
    await runCycle(s.runtime);
    expect((await s.runtime.ledger.get(row!.key))!.state).toBe('executed');
    const after = await look(s);
    expect(after.findings).toEqual([]);
    expect(await s.runtime.ledger.getState('paused')).toBeUndefined();
  });
});
