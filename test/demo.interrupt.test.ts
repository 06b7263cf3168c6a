import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { untilReady } from './support/processes.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('the demo on Ctrl-C', () => {
  it('stops the chain and the hub it started, writes what it has, and exits 130', async () => {
    const out = mkdtempSync(join(tmpdir(), 'demo-int-'));
    const child = execFile(process.execPath, [CLI, 'demo', '--out', out]);
    let stdout = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await untilReady(() => /market {2}GOV/.test(stdout), { exited, output: () => stdout }, 'treasury demo');
    const match = /local chain http:\/\/127\.0\.0\.1:(\d+) · hub http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
    expect(match, stdout).not.toBeNull();
    const [chainPort, hubPort] = [Number(match![1]), Number(match![2])];
    expect(await listening(chainPort)).toBe(true);
    expect(await listening(hubPort)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stdout).toMatch(/finished in [\d.]+ s \(interrupted\)/);
    expect(await listening(chainPort)).toBe(false);
    expect(await listening(hubPort)).toBe(false);
  }, 300_000);
});
