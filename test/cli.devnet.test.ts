import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands, main } from '../cli/cli.ts';
import { commandUsage } from '../cli/command.ts';
import { findFreePort } from '../contracts/anvil.ts';
import { untilReady } from './support/processes.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');

async function treasury(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      timeout: 300_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Command lines of running anvil processes started with this port. */
async function anvilsOnPort(port: number): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'args']);
  return stdout.split('\n').filter((line) => line.includes('anvil') && line.includes(`--port ${port}`));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treasury-cli-'));
});

describe('treasury CLI', { timeout: 300_000 }, () => {
  it('has --help for every command', async () => {
    expect(commands.length).toBeGreaterThan(0);
    for (const entry of commands) {
      const command = await entry.load();
      expect(command.name).toEqual(entry.name);
      expect(command.summary).toBe(entry.summary);
      const out: string[] = [];
      const code = await main([...entry.name, '--help'], {
        out: (line) => out.push(line),
        err: (line) => out.push(line),
      });
      expect(code).toBe(0);
      expect(out.join('\n')).toBe(commandUsage(command));
      expect(out.join('\n')).toContain(`usage: treasury ${entry.name.join(' ')}`);
    }
    const top = await treasury(['--help']);
    expect(top.code).toBe(0);
    for (const command of commands) expect(top.stdout).toContain(command.name.join(' '));
  });

  it('rejects an unknown flag with the command to get help', async () => {
    const result = await treasury(['devnet', '--portt', '1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Unknown option '--portt'.*treasury devnet --help/s);
  });
});

describe('treasury devnet', { timeout: 300_000 }, () => {
  it('prints every address, writes them as JSON, and stops anvil on SIGTERM', async () => {
    const port = await findFreePort();
    const jsonPath = join(dir, 'devnet.json');
    const child = execFile(process.execPath, [CLI, 'devnet', '--port', String(port), '--json', jsonPath]);
    let stdout = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await untilReady(
      () => stdout.includes('devnet is up'),
      { exited, output: () => stdout },
      'treasury devnet',
    );
    expect(stdout).toContain('devnet is up');
    const json = JSON.parse(await readFile(jsonPath, 'utf8'));
    expect(json.safe.threshold).toBe(2);
    for (const symbol of ['GOV', 'WETH', 'WBTC', 'USDC', 'DAI']) {
      expect(stdout).toContain(json.tokens[symbol].address);
      expect(stdout).toContain(json.tokens[symbol].feed);
    }
    expect(stdout).toContain(json.safe.address);
    expect(stdout).toContain(json.uniswap.router);
    expect(await anvilsOnPort(port)).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('devnet stopped');
    expect(await anvilsOnPort(port)).toHaveLength(0);
  });

  describe('bad input: one clear line, nothing left running', () => {
    let server: Server;
    let busyPort: number;
    afterAll(() => server?.close());

    it('a port in use', async () => {
      busyPort = await findFreePort();
      server = createServer();
      await new Promise<void>((resolve) => server.listen(busyPort, '127.0.0.1', resolve));
      const result = await treasury(['devnet', '--port', String(busyPort)]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `✖ port ${busyPort} is already in use → stop whatever listens on ${busyPort}, or pass another --port`,
      );
      expect(await anvilsOnPort(busyPort)).toHaveLength(0);
    });

    it('a missing anvil binary', async () => {
      const port = await findFreePort();
      const result = await treasury(['devnet', '--port', String(port)], {
        TREASURY_ANVIL_BIN: join(dir, 'no-such-anvil'),
      });
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(
        /TREASURY_ANVIL_BIN points at .*no-such-anvil, which does not exist → unset TREASURY_ANVIL_BIN/,
      );
      expect(await anvilsOnPort(port)).toHaveLength(0);
    });

    it('a config with an unknown token and a malformed address names each field', async () => {
      const source = await readFile(
        join(import.meta.dirname, '..', 'config', 'examples', 'devnet.yaml'),
        'utf8',
      );
      const bad = source
        .replace('treasuryMixBps: { GOV: 9000, USDC: 1000 }', 'treasuryMixBps: { GOV: 9000, XYZ: 1000 }')
        .replace(
          '"0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" # steward A',
          '"0x3C44CdDdB6a900fa2b585dd299e03d12FA4293B" # steward A',
        );
      expect(bad).not.toBe(source);
      const path = join(dir, 'bad.yaml');
      await writeFile(path, bad);
      const port = await findFreePort();
      const result = await treasury(['devnet', '--config', path, '--port', String(port)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('✖ not an EVM address (0x + 40 hex digits) → at safe.owners[1]');
      expect(result.stderr).toContain(
        '✖ unknown token XYZ (configured: GOV, WETH, WBTC, USDC, DAI) → at devnet.treasuryMixBps.XYZ',
      );
      expect(await anvilsOnPort(port)).toHaveLength(0);
    });

    it('a config file that does not exist', async () => {
      const result = await treasury(['devnet', '--config', join(dir, 'nope.yaml')]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(
        /^✖ cannot read config file .*nope\.yaml: ENOENT → pass an existing file/,
      );
    });
  });
});
