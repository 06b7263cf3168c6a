import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/cli.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { findFreePort } from '../contracts/anvil.ts';
import { devPrivateKey } from '../contracts/devAccounts.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');

/**
 * `treasury devnet --write-config FILE`: a config for the running devnet that `config validate` accepts and
 * `treasury once` runs with (keys from the environment only).
 */
describe('treasury devnet --write-config', () => {
  let dir: string;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let stdout = '';
  let configPath: string;
  let jsonPath: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'treasury-devnet-config-'));
    configPath = join(dir, 'agent.yaml');
    jsonPath = join(dir, 'devnet.json');
    const port = await findFreePort();
    child = execFile(process.execPath, [
      CLI,
      'devnet',
      '--port',
      String(port),
      '--json',
      jsonPath,
      '--write-config',
      configPath,
    ]);
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    // Wait for the line, not for a time: the devnet is up when it says so (or the process ended).
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (stdout.includes('devnet is up')) return resolve();
        if (child.exitCode !== null) return reject(new Error(`devnet exited: ${stdout}`));
      };
      child.stdout?.on('data', check);
      child.once('exit', check);
      check();
    });
  });

  afterAll(async () => {
    child?.kill('SIGTERM');
    await exited;
  });

  it('writes a config with every address of the devnet, and no key', async () => {
    expect(stdout).toContain(`agent config written to ${configPath}`);
    const text = await readFile(configPath, 'utf8');
    for (const i of [0, 1, 2, 3]) {
      expect(text).not.toContain(devPrivateKey(i));
      expect(text).not.toContain(devPrivateKey(i).slice(2));
    }
    expect(text).not.toMatch(/[0-9a-fA-F]{64}/);
    const deployment = JSON.parse(await readFile(jsonPath, 'utf8'));
    const config = await loadConfig(configPath);
    expect(config.chain.rpcUrl).toBe(deployment.rpcUrl);
    expect(config.safe.address).toBe(deployment.safe.address);
    expect(config.safe.contracts).toEqual(deployment.safeContracts);
    expect(config.router).toBe(deployment.uniswap.router);
    expect(config.execution.policySwapper).toBe(deployment.policySwapper);
    for (const token of config.tokens) {
      expect(token.address).toBe(deployment.tokens[token.symbol].address);
      expect(token.feed).toBe(deployment.tokens[token.symbol].feed);
    }
    expect(config.devnet).toBeUndefined();
    expect(config.mode).toBe('shadow');
  });

  it('`config validate` accepts it', async () => {
    const out: string[] = [];
    const code = await main(['config', 'validate', configPath], {
      out: (line) => out.push(line),
      err: (line) => out.push(line),
    });
    expect(out.join('\n')).toMatch(/✔ .* is valid \(mode shadow, strategy risk-parity, 5 tokens\)/);
    expect(code).toBe(0);
  });

  it('`treasury once --config FILE` runs a cycle with it (keys from the environment)', async () => {
    const { stdout: out, stderr } = await run(process.execPath, [CLI, 'once', '--config', configPath], {
      cwd: dir,
      env: {
        ...process.env,
        TREASURY_AGENT_KEY: devPrivateKey(1),
        TREASURY_COSIGNER_KEYS: [devPrivateKey(2), devPrivateKey(3)].join(','),
      },
    });
    expect(stderr).toBe('');
    expect(out).toMatch(/shadow mode: drafted|nothing to do/);
    expect(`${out}${stderr}`).not.toContain(devPrivateKey(1).slice(2));
  });
});
