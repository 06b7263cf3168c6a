import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../contracts/anvil.ts';
import { devSpace, type GovernanceChain, startGovernanceChain } from '../governance/testing.ts';
import { untilReady } from './support/processes.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'treasury.js');

function run(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe('treasury hub', { timeout: 300_000 }, () => {
  let chain: GovernanceChain;
  let dir: string;
  let spacesPath: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    chain = await startGovernanceChain({ accounts: 2 });
    dir = mkdtempSync(join(tmpdir(), 'hub-cli-'));
    spacesPath = join(dir, 'spaces.json');
    writeFileSync(spacesPath, JSON.stringify({ spaces: [devSpace(chain)] }));
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await chain?.stop();
  });

  it('serves GraphQL, prints its URL and stops on SIGTERM', async () => {
    const port = await findFreePort();
    const hub = run([
      'hub',
      '--port',
      String(port),
      '--spaces',
      spacesPath,
      '--rpc',
      chain.anvil.rpcUrl,
      '--db',
      join(dir, 'a.db'),
    ]);
    children.push(hub.child);
    await untilReady(
      () => hub.out().includes('hub is up'),
      { exited: hub.exited, output: () => hub.out() + hub.err() },
      'treasury hub',
    );
    expect(hub.out()).toContain(`hub is up at http://127.0.0.1:${port}`);
    const reply = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ space(id: "treasury.eth") { id voting { period type } } }' }),
    });
    expect(await reply.json()).toEqual({
      data: { space: { id: 'treasury.eth', voting: { period: 3600, type: 'basic' } } },
    });
    hub.child.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
    expect(hub.out()).toContain('hub stopped');
  });

  it('refuses a port in use with one line, leaving nothing running', async () => {
    const server = createServer();
    const port = await findFreePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const hub = run([
        'hub',
        '--port',
        String(port),
        '--spaces',
        spacesPath,
        '--rpc',
        chain.anvil.rpcUrl,
        '--db',
        join(dir, 'b.db'),
      ]);
      expect(await hub.exited).toBe(1);
      expect(hub.err().trim()).toBe(
        `✖ port ${port} is already in use → pass another --port, or stop what listens there`,
      );
    } finally {
      server.close();
    }
  });

  it('refuses a bad spaces file naming the field', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'spaces:\n  - id: treasury.eth\n    name: x\n    network: 31337\n    voting: { delay: 0, period: -5, type: basic }\n    strategies: []\n',
    );
    const hub = run(['hub', '--spaces', bad, '--rpc', chain.anvil.rpcUrl, '--db', join(dir, 'c.db')]);
    expect(await hub.exited).toBe(1);
    const lines = hub.err().trim().split('\n');
    expect(lines[0]).toMatch(
      /^✖ invalid spaces in .*bad\.yaml: .* at spaces\.0\.voting\.period \(\+1 more\) → fix the file/,
    );
    expect(hub.err()).toContain('spaces.0.strategies');
  });

  it('refuses an unreachable chain with one line', async () => {
    const port = await findFreePort();
    const hub = run([
      'hub',
      '--spaces',
      spacesPath,
      '--rpc',
      `http://127.0.0.1:${port}`,
      '--db',
      join(dir, 'd.db'),
    ]);
    expect(await hub.exited).toBe(1);
    expect(hub.err().trim()).toBe(
      `✖ cannot reach the chain at http://127.0.0.1:${port}/ → start anvil (treasury devnet) or pass the right --rpc`,
    );
  });
});
