import { execFile, execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prebuiltCli } from '../bin/prebuiltCli.js';

/** A small project laid out like this one: a CLI entry, a lazy import, JSON, a file read beside a source. */
let root: string;
const write = (path: string, text: string) => {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
};
const builds = () => readdirSync(join(root, '.cache', 'cli')).filter((name) => name !== 'manifest.json');

/** Runs the bundle's `main` in its own process, as bin/treasury.js does, and returns what it returned. */
function runMain(url: string): Record<string, unknown> {
  const script = `const m = await import(${JSON.stringify(url)}); console.log(JSON.stringify(await m.main()));`;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  );
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'prebuilt-'));
  symlinkSync(join(import.meta.dirname, '..', 'node_modules'), join(root, 'node_modules'));
  write(
    'cli/cli.ts',
    `import { readFileSync } from 'node:fs';
import { getAddress } from 'viem';
import { z } from 'zod';
import settings from '../config/settings.json' with { type: 'json' };
import { here } from './here.ts';
export async function main(): Promise<unknown> {
  const { lazy } = await import('./lazy.ts');
  const note = readFileSync(new URL('../data/note.txt', import.meta.url), 'utf8');
  const address = getAddress('0x70997970c51812dc3a010c7d01b50e0d17dc79c8');
  return { here, lazy, settings, note, address, zod: z.string().parse('ok'), cli: import.meta.url };
}
`,
  );
  write('cli/here.ts', 'export const here = { url: import.meta.url, dirname: import.meta.dirname };\n');
  write('cli/lazy.ts', "export const lazy = 'first';\n");
  write('config/settings.json', '{ "mode": "shadow" }\n');
  write('data/note.txt', 'beside the sources');
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('the bundled CLI (bin/prebuiltCli.js)', () => {
  it('bundles on first use; each file keeps its own import.meta, so paths beside the sources resolve', async () => {
    const url = await prebuiltCli({ root, env: {} });
    expect(url).toMatch(/\/\.cache\/cli\/[0-9a-f]{20}\/cli\.js$/);
    const result = runMain(url!);
    expect(result).toEqual({
      here: { url: pathToFileURL(join(root, 'cli/here.ts')).href, dirname: join(root, 'cli') },
      lazy: 'first',
      settings: { mode: 'shadow' },
      note: 'beside the sources',
      address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      zod: 'ok',
      cli: pathToFileURL(join(root, 'cli/cli.ts')).href,
    });
    // viem is bundled; zod (and every other package) is loaded from node_modules, and viem's version is in the key.
    const dir = join(fileURLToPath(url!), '..');
    const code = readdirSync(dir)
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n');
    expect(code).toMatch(/from "zod"/);
    expect(code).not.toMatch(/from "viem"/);
    const manifest = JSON.parse(readFileSync(join(root, '.cache/cli/manifest.json'), 'utf8'));
    expect(manifest.inputs).toEqual(
      expect.arrayContaining([
        'cli/cli.ts',
        'cli/lazy.ts',
        'config/settings.json',
        expect.stringMatching(/node_modules\/viem\/package\.json$/),
      ]),
    );
  });

  it('reuses the build while no source changes, and builds again when one does or one is removed', async () => {
    const first = await prebuiltCli({ root, env: {} });
    expect(await prebuiltCli({ root, env: {} })).toBe(first);
    const count = builds().length;

    write('cli/lazy.ts', "export const lazy = 'second';\n");
    const second = await prebuiltCli({ root, env: {} });
    expect(second).not.toBe(first);
    expect(runMain(second!).lazy).toBe('second');
    expect(builds()).toHaveLength(count + 1); // the older build stays for processes still running it

    write('cli/cli.ts', 'export async function main() { return { lazy: "gone" }; }\n');
    rmSync(join(root, 'cli/lazy.ts'));
    const third = await prebuiltCli({ root, env: {} });
    expect(runMain(third!).lazy).toBe('gone');
  });

  it('two processes building at once both get a whole build, and leave nothing half-written', async () => {
    rmSync(join(root, '.cache'), { recursive: true, force: true });
    const module = pathToFileURL(join(import.meta.dirname, '..', 'bin', 'prebuiltCli.js')).href;
    const script = `const { prebuiltCli } = await import(${JSON.stringify(module)});
      console.log(await prebuiltCli({ root: ${JSON.stringify(root)}, env: {} }));`;
    const start = () =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['--input-type=module', '-e', script], (error, stdout) =>
          error ? reject(error) : resolve(stdout.trim()),
        ),
      );
    const [a, b] = await Promise.all([start(), start()]);
    expect(a).toMatch(/cli\.js$/);
    expect(a).toBe(b);
    expect(runMain(a).lazy).toBe('gone');
    expect(builds().filter((name) => name.startsWith('tmp-'))).toEqual([]);
  });

  it("builds in a process that holds none of the agent's keys (only where programs and temporary files are)", async () => {
    // ESBUILD_BINARY_PATH is passed on: a wrapper records the environment esbuild's service starts with.
    const seen = join(root, 'esbuild-env.txt');
    const wrapper = join(root, 'esbuild-wrapper.sh');
    const real = join(
      import.meta.dirname,
      '..',
      'node_modules',
      '@esbuild',
      `${process.platform}-${process.arch}`,
      'bin',
      'esbuild',
    );
    writeFileSync(wrapper, `#!/bin/sh\nenv > ${JSON.stringify(seen)}\nexec ${JSON.stringify(real)} "$@"\n`, {
      mode: 0o755,
    });
    rmSync(join(root, '.cache'), { recursive: true, force: true });
    const env = {
      PATH: process.env.PATH,
      ESBUILD_BINARY_PATH: wrapper,
      TREASURY_AGENT_KEY: `0x${'ab'.repeat(32)}`,
      OPENAI_API_KEY: 'sk-test-never-passed-on',
      TREASURY_RPC_URL: 'https://rpc.example/v2/secret-key',
    };
    expect(await prebuiltCli({ root, env })).toMatch(/cli\.js$/);
    const names = readFileSync(seen, 'utf8')
      .split('\n')
      .map((line) => line.split('=')[0]);
    expect(names).toContain('PATH');
    for (const secret of ['TREASURY_AGENT_KEY', 'OPENAI_API_KEY', 'TREASURY_RPC_URL'])
      expect(names).not.toContain(secret);
  });

  it('falls back to tsx (undefined) when asked, or when the sources do not build', async () => {
    expect(await prebuiltCli({ root, env: { TREASURY_TSX: '1' } })).toBeUndefined();
    write('cli/cli.ts', 'export const main = (;\n');
    expect(await prebuiltCli({ root, env: {} })).toBeUndefined();
    expect(builds().filter((name) => name.startsWith('tmp-'))).toEqual([]);
  });
});
