import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafeState } from '../agent/../contracts/treasuryReads.ts';
import { parseAuditLog, verifyAuditChain } from '../agent/auditLog.ts';
import { CRASH_POINTS, type CrashPoint } from '../agent/cycle.ts';
import { SqliteLedger } from '../agent/ledger.ts';
import { findSafeExecution } from '../contracts/executionLogs.ts';
import { type CycleStack, startCycleStack } from './support/localStack.ts';
import { untilReady } from './support/processes.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');
let s: CycleStack;
let configPath: string;

/** Runs `treasury once` as its own process; with a crash point, the process SIGKILLs itself there. */
function once(
  crashAt?: CrashPoint,
): Promise<{ signal: string | null; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, 'once', '--config', configPath],
      {
        env: { ...process.env, ...s.stack.env, ...(crashAt ? { TREASURY_TEST_CRASH_AT: crashAt } : {}) },
        timeout: 300_000,
      },
      (error, stdout, stderr) => {
        resolve({
          signal: child.signalCode,
          code: child.exitCode ?? (error as { code?: number } | null)?.code ?? 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

beforeAll(async () => {
  s = await startCycleStack();
  await s.runtime.close(); // the processes under test own the ledger
  configPath = join(s.dir, 'agent.json');
  writeFileSync(configPath, JSON.stringify(s.stack.config, null, 2));
});
afterAll(async () => {
  await s.stack.stop();
});

describe('crash safety: the agent killed at every step resumes without posting or executing twice', () => {
  // Ten real `treasury once` processes, each paying Node + tsx start-up: a long test by nature.
  it('kills `treasury once` at each crash point and ends with one proposal, one execution', {
    timeout: 1_200_000,
  }, async () => {
    const killedAt: string[] = [];
    const crash = async (point: CrashPoint) => {
      const result = await once(point);
      expect(result.signal, `${point}: ${result.stdout}${result.stderr}`).toBe('SIGKILL');
      killedAt.push(point);
    };
    const ok = async () => {
      const result = await once();
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    };

    // Posting: killed after the decision is logged, after the row is planned, after the posted transition,
    // and after the hub accepted the message but before the ledger knew its id.
    await crash('after-decision-record');
    await crash('after-planned');
    await crash('after-posted-transition');
    await crash('after-proposal-sent');
    const resumed = await ok();
    expect(resumed).toMatch(/proposal posted: .* — id 0x/);

    const space = s.stack.config.governance.space;
    const proposals = await s.runtime.governance.listProposals(space, { state: 'all' });
    expect(proposals).toHaveLength(1); // posted exactly once
    const ledgerPath = s.stack.config.state.ledgerPath;
    const readLedger = async () => {
      const ledger = SqliteLedger.open(ledgerPath);
      try {
        return await ledger.all();
      } finally {
        await ledger.close();
      }
    };
    expect(await readLedger()).toHaveLength(1);
    expect((await readLedger())[0]!.proposalId).toBe(proposals[0]!.id);

    // Executing: killed after the executing transition (nothing sent), then after the transaction was mined.
    await s.advance(60);
    await s.vote(0, proposals[0]!.id, 1);
    await s.vote(1, proposals[0]!.id, 1);
    const g = s.stack.config.governance;
    await s.advance(g.votingPeriodSeconds + g.executionDelaySeconds + 120);
    await crash('after-executing-transition');
    expect((await readLedger())[0]!.state).toBe('executing');
    await crash('after-execution-sent');
    const safe = s.stack.config.safe.address!;
    expect((await readSafeState(s.runtime.client, { safe })).nonce).toBe(1n);
    const finished = await ok();
    expect(finished).toMatch(/resumed: .* had already executed/);
    await ok(); // and once more: nothing new happens

    expect(killedAt).toEqual([...CRASH_POINTS]);
    const [row] = await readLedger();
    expect(row!.state).toBe('executed');
    expect((await readSafeState(s.runtime.client, { safe })).nonce).toBe(1n); // executed exactly once
    expect(
      await findSafeExecution(s.runtime.client, {
        safe,
        safeTxHash: row!.safeTxHash as `0x${string}`,
        fromBlock: 0n,
      }),
    ).toBe(row!.executionTxHash);
    expect(await s.runtime.governance.listProposals(space, { state: 'all' })).toHaveLength(1);
    const records = parseAuditLog(readFileSync(s.stack.config.state.auditLogPath, 'utf8'));
    expect(verifyAuditChain(records).ok).toBe(true);
    expect(records.filter((r) => r.kind === 'executed')).toHaveLength(1);
    expect(records.filter((r) => r.kind === 'proposal-posted')).toHaveLength(1);
  });

  it('`treasury run` runs cycles on its schedule and SIGTERM stops it after the running step, ledger closed', async () => {
    const runConfig = join(s.dir, 'agent-run.json');
    writeFileSync(
      runConfig,
      JSON.stringify({ ...s.stack.config, schedule: { cron: '* * * * * *' } }, null, 2),
    );
    const child = execFile(process.execPath, [CLI, 'run', '--config', runConfig], {
      env: { ...process.env, ...s.stack.env },
    });
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await untilReady(() => out.includes('running on'), { exited, output: () => out }, 'treasury run');
    // not a terminal: JSON lines (the last may still be arriving)
    const messages = () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{') && l.endsWith('}'))
        .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages().join('\n')).toMatch(/running on "\* \* \* \* \* \*" \(UTC\), mode live/);
    await new Promise((r) => setTimeout(r, 2_500)); // a few ticks: cycles run (the open proposal is done: quiet)
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(messages()).toContainEqual(expect.stringMatching(/: stopped; ledger closed$/));
    expect(out).not.toContain('✖');
    expect(out).not.toContain('"level":50'); // no error line
    const ledger = SqliteLedger.open(s.stack.config.state.ledgerPath);
    expect(await ledger.all()).toHaveLength(1);
    await ledger.close();
  }, 300_000);
});
