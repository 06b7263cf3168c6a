import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { commands, main } from '../cli/cli.ts';
import { editDistance, nearMatch } from '../config/nearMatch.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'treasury.js');

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    signal: new AbortController().signal,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('treasury --version', () => {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;

  it('prints the version of package.json, from the bundled CLI and from any directory', async () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-V']) {
      const { stdout } = await run(process.execPath, [CLI, flag], { cwd: tmpdir() });
      expect(stdout).toBe(`treasury ${version}\n`);
    }
  }, 120_000);

  it('in process too, exit 0', async () => {
    expect(await cli(['--version'])).toEqual({ code: 0, out: `treasury ${version}`, err: '' });
  });
});

describe('group help and near matches', () => {
  const groups = [...new Set(commands.filter((c) => c.name.length > 1).map((c) => c.name[0]!))];

  it('treasury config --help, audit --help: every command of the group with its summary', async () => {
    expect(groups.sort()).toEqual(['audit', 'config']);
    for (const group of groups) {
      const members = commands.filter((c) => c.name[0] === group);
      for (const argv of [[group, '--help'], [group, '-h'], [group]]) {
        const result = await cli(argv);
        expect(result.code, argv.join(' ')).toBe(argv.length === 1 ? 2 : 0);
        expect(result.out).toContain(`usage: treasury ${group} COMMAND [options]`);
        for (const c of members)
          expect(result.out).toMatch(new RegExp(`^  ${c.name.join(' ')} +${escapeRegExp(c.summary)}$`, 'm'));
        // only the group's commands
        const listed = result.out.split('\n').filter((l) => /^ {2}\S/.test(l));
        expect(listed).toHaveLength(members.length);
      }
    }
  });

  it('an unknown command or sub-command gets the nearest one, and the list it belongs to', async () => {
    const typo = await cli(['config', 'valdate', 'x.yaml']);
    expect(typo.code).toBe(2);
    expect(typo.err.split('\n')[0]).toBe(
      '✖ unknown command "config valdate" (did you mean config validate?)',
    );
    expect(typo.err).toContain('usage: treasury config COMMAND');
    expect((await cli(['rnu'])).err.split('\n')[0]).toBe('✖ unknown command "rnu" (did you mean run?)');
    expect((await cli(['Config', 'Schema'])).err.split('\n')[0]).toBe(
      '✖ unknown command "Config" (did you mean config schema?)',
    );
    expect((await cli(['audit', 'shwo', 'rec-1'])).err.split('\n')[0]).toBe(
      '✖ unknown command "audit shwo" (did you mean audit show?)',
    );
    const far = await cli(['frobnicate']);
    expect(far.err.split('\n')[0]).toBe('✖ unknown command "frobnicate"');
    expect(far.err).toContain('usage: treasury COMMAND [options]');
  });

  it('the top-level help names --version', async () => {
    expect((await cli(['--help'])).out).toMatch(/--version, -V +print the version/);
  });

  it('near match: one edit per four letters, the closest wins, case ignored', () => {
    expect(editDistance('chian', 'chain')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(nearMatch('governence', ['chain', 'governance'])).toBe('governance');
    expect(nearMatch('nope', ['mode'])).toBeUndefined();
    expect(nearMatch('Safe', ['safe'])).toBe('safe');
    // within the limit (2 for 8 letters) both; the closer one wins, whatever the order
    expect(nearMatch('abcdefgh', ['abcdefxy', 'abcdefgx'])).toBe('abcdefgx');
    expect(nearMatch('tokenz', ['token', 'tokens'])).toBe('token'); // a tie: the first
  });
});

function escapeRegExp(text: string) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
