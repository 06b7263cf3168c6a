import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuditLog } from '../agent/auditLog.ts';
import { type FleetStack, startFleetStack } from '../agent/fleetStack.ts';
import { SqliteLedger } from '../agent/ledger.ts';
import { DEFAULT_DEVNET_CONFIG } from '../cli/devnetCommand.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { devPrivateKey } from '../contracts/devAccounts.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { STAKES } from './support/localStack.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');
let fleet: FleetStack;
let dir: string;
let configs: string;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Only the DAOs' own variables: no TREASURY_AGENT_KEY, so each DAO must read the ones its config names.
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...fleet.env };
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env, timeout: 600_000 },
      (error, stdout, stderr) => {
        resolve({ code: child.exitCode ?? (error as { code?: number } | null)?.code ?? 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-'));
  configs = join(dir, 'daos');
  mkdirSync(configs);
  const base = { ...(await loadConfig(DEFAULT_DEVNET_CONFIG)), mode: 'live' as const };
  fleet = await startFleetStack({
    base,
    count: 3,
    stateDir: join(dir, 'state'),
    memberStakes: STAKES,
    // dao2's RPC is down (nothing listens on port 9).
    edit: (config, name) =>
      name === 'dao2' ? { ...config, chain: { ...config.chain, rpcUrl: 'http://127.0.0.1:9' } } : config,
  });
  fleet.writeConfigs(configs);
  writeFileSync(join(configs, 'broken.yaml'), 'chain: { id: 31337\n');
  // dup.yaml is dao1's config again under another name: it would write dao1's ledger and audit log.
  writeFileSync(join(configs, 'dup.yaml'), readFileSync(join(configs, 'dao1.yaml'), 'utf8'));
  // dao3 was paused by its stewards.
  const dao3 = fleet.daos[2]!.config;
  mkdirSync(join(dir, 'state', 'dao3'), { recursive: true });
  const ledger = SqliteLedger.open(dao3.state.ledgerPath);
  await ledger.setState('paused', 'stewards are investigating');
  await ledger.close();
}, 1_200_000);

afterAll(async () => {
  await fleet?.stop();
});

describe('treasury once --configs DIR', () => {
  it('runs every DAO with its own keys, ledger and audit log; a broken, a duplicate, an unreachable and a paused DAO stop none of the others', async () => {
    const run = await cli(['once', '--configs', configs]);
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.stderr).toMatch(/✖ \[broken\] not run: .*broken\.yaml/);
    expect(run.stderr).toMatch(/✖ \[dao2\] cycle failed: cannot read the router's factory .* is the RPC up/);
    expect(run.stdout).toMatch(/\[dao3\] \S+ agent paused: stewards are investigating/);
    expect(run.stdout).toMatch(/\[dao1\] \S+ proposal posted/);
    expect(run.stderr).toMatch(/✖ \[dup\] not run: the ledger .*dao1\/ledger\.db is also DAO dao1's/);
    expect(run.stdout.trim().split('\n').at(-1)).toMatch(
      /^5 DAOs: 2 ran, 0 skipped, 3 failed; tick \d+\.\d\d s$/,
    );
    expect(run.code).toBe(1);
    // No key is ever printed.
    for (const value of Object.values(fleet.env)) expect(output).not.toContain(value.slice(2, 20));

    // dao1 posted once, on its own space, as its own agent; its audit log is its own.
    const hub = createSnapshotClient({
      hubUrl: fleet.hub.url,
      account: privateKeyToAccount(devPrivateKey(9)),
    });
    const [dao1, dao2, dao3] = fleet.daos;
    const posted = await hub.listProposals(dao1!.config.governance.space, { state: 'all' });
    expect(posted.map((p) => p.author.toLowerCase())).toEqual([dao1!.agent.toLowerCase()]);
    expect(await hub.listProposals(dao2!.config.governance.space, { state: 'all' })).toHaveLength(0);
    expect(await hub.listProposals(dao3!.config.governance.space, { state: 'all' })).toHaveLength(0);
    const records = parseAuditLog(readFileSync(dao1!.config.state.auditLogPath, 'utf8'));
    expect(records.map((r) => r.kind)).toContain('proposal-posted');
    expect(JSON.stringify(records)).toContain(dao1!.config.safe.address!);
    expect(existsSync(dao2!.config.state.auditLogPath)).toBe(false);
    const ledger = SqliteLedger.open(dao3!.config.state.ledgerPath);
    expect(await ledger.all()).toHaveLength(0);
    await ledger.close();
  }, 1_200_000);
});
