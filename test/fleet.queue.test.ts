import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FleetStack, startFleetStack } from '../agent/fleetStack.ts';
import { type Ledger, ledgerLocationOf, openLedger, type ProposalRow } from '../agent/ledger.ts';
import { advanceWithHeartbeats } from '../agent/localStack.ts';
import { DEFAULT_DEVNET_CONFIG } from '../cli/devnetCommand.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { makePublicClient } from '../contracts/chainClients.ts';
import { readSafeState } from '../contracts/treasuryReads.ts';
import { chainClock } from '../governance/clock.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { STAKES } from './support/localStack.ts';
import { type PostgresServer, startPostgres } from './support/postgres.ts';

/**
 * Two `treasury run --configs DIR --queue URL` processes over three DAOs whose ledgers are in one real PostgreSQL
 * (started by the harness): they share the ticks through pg-boss; one is SIGKILLed and the other carries every
 * DAO through the vote to execution. Each DAO posts once and executes once.
 */

const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');
let pg: PostgresServer;
let fleet: FleetStack;
let configs: string;
const runners: Runner[] = [];

type Runner = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

function startRunner(): Runner {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PGPASSWORD: pg.password, ...fleet.env };
  const child = spawn(process.execPath, [CLI, 'run', '--configs', configs, '--queue', pg.url], { env });
  let text = '';
  child.stdout!.on('data', (d) => {
    text += d;
  });
  child.stderr!.on('data', (d) => {
    text += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const runner = { child, output: () => text, exited };
  runners.push(runner);
  return runner;
}

/** Waits (no deadline: the test's timeout bounds it) until `ready` holds, polling every 200 ms. */
async function until(ready: () => Promise<boolean>, what: string, alive: Runner[]): Promise<void> {
  while (!(await ready())) {
    for (const r of alive) {
      if (r.child.exitCode !== null) throw new Error(`${what}: a runner exited first:\n${r.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const ledgers: Ledger[] = [];
async function rows(): Promise<ProposalRow[][]> {
  if (ledgers.length === 0) {
    for (const dao of fleet.daos) {
      ledgers.push(await openLedger(ledgerLocationOf(dao.config, pg.password)));
    }
  }
  return Promise.all(ledgers.map((l) => l.all()));
}

beforeAll(async () => {
  pg = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'fleet-queue-'));
  configs = join(dir, 'daos');
  mkdirSync(configs);
  const base = { ...(await loadConfig(DEFAULT_DEVNET_CONFIG)), mode: 'live' as const };
  fleet = await startFleetStack({
    base,
    count: 3,
    stateDir: join(dir, 'state'),
    memberStakes: STAKES,
    edit: (config) => ({
      ...config,
      schedule: { ...config.schedule, cron: '*/3 * * * * *' },
      state: { ...config.state, ledgerUrl: pg.url },
    }),
  });
  fleet.writeConfigs(configs);
}, 1_200_000);

afterAll(async () => {
  for (const r of runners) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  await Promise.all(ledgers.map((l) => l.close()));
  await fleet?.stop();
  await pg?.stop();
});

/** The runner's log lines (one JSON object each); a line cut by a kill or not JSON is left out. */
function logLines(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((line) => {
    try {
      const value = JSON.parse(line) as unknown;
      return value && typeof value === 'object' ? [value as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

// Processes, a devnet and PostgreSQL on a 2-core machine that may be busy: the waits have no deadline of their own
// and the test is bounded only by a generous timeout (20 min), never by how fast the machine is today.
describe('treasury run --configs DIR --queue URL (several runners, one PostgreSQL)', () => {
  it('splits the DAOs through pg-boss; after one runner is SIGKILLed the other takes its DAOs at the next tick, posting once and executing once each', async () => {
    const a = startRunner();
    await until(async () => (await rows()).every((r) => r.some((p) => p.proposalId)), 'every DAO posts', [a]);
    const b = startRunner();
    // Both runners share the ticks for a while: b runs (or finds held) at least one DAO's tick.
    await until(
      async () => logLines(b.output()).some((l) => /^dao\d$/.test(String(l.dao))),
      'the second runner takes ticks',
      [a, b],
    );
    // One JSON line per DAO and tick (pino), its events inside.
    await until(
      async () => logLines(a.output()).some((l) => l.outcome === 'proposed'),
      'the first runner logs a posting',
      [a, b],
    );
    const posted = logLines(a.output()).find((l) => l.outcome === 'proposed');
    expect(posted?.dao).toMatch(/^dao\d$/);
    expect(((posted?.events ?? []) as string[]).join('\n')).toMatch(/proposal posted/);

    a.child.kill('SIGKILL');
    expect(await a.exited).toBeNull();
    const killedAt = b.output().length;

    // Members vote For on every DAO's proposal; the vote closes and the execution delay passes.
    const clock = chainClock(fleet.devnet.anvil.rpcUrl);
    for (const [i, dao] of fleet.daos.entries()) {
      const [row] = (await rows())[i]!;
      for (const member of [0, 1]) {
        const voter = createSnapshotClient({
          hubUrl: fleet.hub.url,
          account: privateKeyToAccount(fleet.members[member]!.key),
          clock,
        });
        await voter.vote({ space: dao.config.governance.space, proposal: row!.proposalId!, choice: 1 });
      }
    }
    const g = base().governance;
    await advanceWithHeartbeats(fleet, g.votingPeriodSeconds + g.executionDelaySeconds + 600);
    await until(async () => (await rows()).every((r) => r[0]?.state === 'executed'), 'every DAO executes', [
      b,
    ]);

    // The survivor ran every DAO after the kill. A tick's line is logged when its cycle is over, after the ledger
    // already says executed: wait for the lines too.
    const executedLine = (text: string, dao: string) =>
      logLines(text).find((l) => l.dao === dao && l.outcome === 'executed');
    await until(
      async () => fleet.daos.every((dao) => executedLine(b.output().slice(killedAt), dao.name)),
      'the survivor logs every execution',
      [b],
    );
    const after = b.output().slice(killedAt);
    for (const dao of fleet.daos) {
      const executed = executedLine(after, dao.name);
      expect(executed, after).toBeDefined();
      expect((executed!.events as string[]).join('\n')).toMatch(/executed 0x/);
    }

    // Exactly once: one proposal per space on the hub, one ledger row, one executed transition, one Safe nonce.
    const hub = createSnapshotClient({
      hubUrl: fleet.hub.url,
      account: privateKeyToAccount(fleet.members[3]!.key),
    });
    const client = makePublicClient(31337, fleet.devnet.anvil.rpcUrl);
    for (const [i, dao] of fleet.daos.entries()) {
      expect(await hub.listProposals(dao.config.governance.space, { state: 'all' })).toHaveLength(1);
      const daoRows = (await rows())[i]!;
      expect(daoRows).toHaveLength(1);
      const transitions = await ledgers[i]!.transitions(daoRows[0]!.key);
      expect(transitions.map((t) => t.to)).toEqual(['planned', 'posted', 'passed', 'executing', 'executed']);
      expect((await readSafeState(client, { safe: dao.config.safe.address! })).nonce).toBe(1n);
    }
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  }, 1_200_000);
});

function base() {
  return fleet.daos[0]!.config;
}
