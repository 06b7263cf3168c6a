import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main } from '../cli/cli.ts';
import { parseConfig, topLevelKeys } from '../config/loadConfig.ts';
import { TreasuryAgentConfigSchema } from '../config/schema.ts';
import { ConfigError } from '../shared/errors.ts';

const example = join(import.meta.dirname, '..', 'config/examples/devnet.yaml');

function refusal(text: string, source = 'treasury.yaml'): ConfigError {
  try {
    parseConfig(text, source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected the config to be rejected');
}

const SHAPE =
  'a config file is a mapping with chain, safe, tokens, treasury and governance (optional: mode, schedule, llm, observe, state, keys, execution, watchdog, router, devnet, strategy, guardrails)';
const HELP = 'start from config/examples/devnet.yaml; every field: treasury config schema';

describe('config files that are not a mapping of the config', () => {
  it('reads the required top-level keys from the schema', () => {
    const { required, optional } = topLevelKeys();
    expect(required).toEqual(['chain', 'safe', 'tokens', 'treasury', 'governance']);
    // Each key listed as required is one the schema refuses to do without, and only those.
    for (const key of [...required, ...optional]) {
      const shape = TreasuryAgentConfigSchema.shape[key as keyof typeof TreasuryAgentConfigSchema.shape];
      expect(shape.safeParse(undefined).success, key).toBe(optional.includes(key));
    }
  });

  it.each([
    ['an empty file', '', 'is empty'],
    ['only comments', '# nothing yet\n\n  # really\n', 'is empty'],
    ['a bare document marker', '---\n', 'is empty'],
    ['null', 'null\n', 'holds null'],
    ['~', '~', 'holds null'],
    ['JSON null', 'null', 'holds null'],
    ['a string', 'chain\n', 'is a single string value'],
    ['a number', '31337', 'is a single number value'],
    ['a boolean', 'true', 'is a single boolean value'],
    ['a YAML list', '- chain\n- safe\n', 'is a list'],
    ['a JSON list', '[{"chain": {"id": 1}}]', 'is a list'],
    ['an empty list', '[]', 'is a list'],
  ])('%s: says what the file should be, and where to start', (_, text, what) => {
    const error = refusal(text);
    expect(error.message).toBe(`treasury.yaml ${what}: ${SHAPE} → ${HELP}`);
    expect(error.details).toEqual([]);
  });

  it('a mapping with none of the required keys: the same, and each unknown key at its path', () => {
    expect(refusal('{}').message).toBe(
      `treasury.yaml has none of the keys a config needs: ${SHAPE} → ${HELP}`,
    );
    const error = refusal('chian: {id: 1}\nnope: 2\n"a.b": 3\n');
    expect(error.shortMessage).toBe(`treasury.yaml has none of the keys a config needs: ${SHAPE}`);
    expect(error.details).toEqual([
      '✖ unknown key "chian" (did you mean chain?) → at chian',
      '✖ unknown key "nope" → at nope',
      '✖ unknown key "a.b" → at ["a.b"]',
    ]);
  });

  it('a mapping missing some keys: each missing one at its path', () => {
    const error = refusal('chain: { id: 1, rpcUrl: "http://127.0.0.1:8545" }\nmode: shadow\n');
    expect(error.shortMessage).toBe('treasury.yaml is invalid (4 problems)');
    expect(error.details).toEqual([
      '✖ required, but missing → at safe',
      '✖ required, but missing → at tokens',
      '✖ required, but missing → at treasury',
      '✖ required, but missing → at governance',
    ]);
  });

  it('unknown keys stay refused at every level, each at its own path, with a near match when there is one', async () => {
    const raw = parse(await readFile(example, 'utf8'));
    raw.governence = { space: 'x' };
    raw.safe.treshold = 2;
    raw.tokens[1].adress = '0x0000000000000000000000000000000000000001';
    raw['line\n✔ valid'] = 1;
    const error = refusal(stringify(raw));
    expect(error.details).toEqual([
      '✖ unknown key "treshold" (did you mean threshold?) → at safe.treshold',
      '✖ unknown key "adress" (did you mean address?) → at tokens[1].adress',
      '✖ unknown key "governence" (did you mean governance?) → at governence',
      '✖ unknown key "line\\n✔ valid" → at ["line\\n✔ valid"]',
    ]);
  });

  it.each([
    ['an unclosed flow list', 'chain: [1, 2\nsafe: {}\n', 'at line 2, column 1'],
    ['a nested compact mapping', 'chain:\n  id: 1\nsafe: a: b\n', 'at line 3, column 7'],
    ['a duplicate key', 'chain: {}\nsafe: {}\nchain: {}\n', 'at line 3, column 1: Map keys must be unique'],
    ['an unknown tag', 'chain: !secret x\n', 'at line 1, column 8: Unresolved tag: !secret'],
    ['an alias without anchor', 'chain: {}\nsafe: *owners\n', 'at line 2, column 7: unknown alias *owners'],
    ['an unclosed quote', 'chain:\n  rpcUrl: "http://x\n', 'at line 3, column 1: Missing closing "quote'],
    ['two documents', 'chain: {}\n---\nsafe: {}\n', 'at line 2, column 1'],
    ['broken JSON', '{"chain": {"id": 1},, }', 'at line 1, column'],
  ])('YAML/JSON syntax, %s: line and column', (_, text, where) => {
    const error = refusal(text);
    expect(error.message).toMatch(/^treasury\.yaml is not valid YAML\/JSON at line \d+, column \d+: \S/);
    expect(error.message).toContain(where);
    expect(error.message).toContain(`→ fix the syntax there (${HELP})`);
  });

  it('refuses a config file far larger than any config', () => {
    expect(refusal(`# ${'x'.repeat(1_000_001)}`).message).toMatch(
      /^treasury\.yaml is 1,000,003 characters long → a config file is a few kilobytes/,
    );
  });

  it('property: any text is a config or a ConfigError whose problem lines are single lines at a path', () => {
    const yamlish = fc.string({
      unit: fc.constantFrom(...'{}[]:,-&*!|>\'"#%@` \n\tab01.?<=~chainsafe'.split('')),
    });
    const json = fc.jsonValue().map((v) => JSON.stringify(v));
    fc.assert(
      fc.property(fc.oneof(yamlish, json, fc.string()), (text) => {
        try {
          parseConfig(text, 'f.yaml');
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          for (const line of (error as ConfigError).details)
            expect(line).toMatch(/^(✖ [^\n]* → at [^\n]+|… and \d+ more)$/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: any value anywhere in the example is accepted or refused with a ConfigError', async () => {
    const base = parse(await readFile(example, 'utf8'));
    const paths: (string | number)[][] = [];
    const walk = (value: unknown, path: (string | number)[]) => {
      paths.push(path);
      if (value && typeof value === 'object')
        for (const [k, v] of Object.entries(value)) walk(v, [...path, Array.isArray(value) ? Number(k) : k]);
    };
    walk(base, []);
    fc.assert(
      fc.property(fc.constantFrom(...paths.filter((p) => p.length)), fc.jsonValue(), (path, value) => {
        const raw = structuredClone(base);
        let target = raw;
        for (const key of path.slice(0, -1)) target = target[key];
        target[path.at(-1)!] = value;
        try {
          parseConfig(stringify(raw), 'f.yaml');
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('every command that loads a config says the same', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'treasury-config-'));
    await writeFile(join(dir, 'empty.yaml'), '');
    await writeFile(join(dir, 'list.yaml'), '- chain\n- safe\n');
    await writeFile(join(dir, 'broken.yaml'), 'chain:\n  id: [1\n');
  });

  async function treasury(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      signal: new AbortController().signal,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('config validate: the root problem on stderr, exit 1', async () => {
    const empty = await treasury(['config', 'validate', join(dir, 'empty.yaml')]);
    expect(empty).toEqual({
      code: 1,
      out: '',
      err: `✖ ${join(dir, 'empty.yaml')} is empty: ${SHAPE} → ${HELP}`,
    });
    const list = await treasury(['config', 'validate', join(dir, 'list.yaml')]);
    expect(list.err).toBe(`✖ ${join(dir, 'list.yaml')} is a list: ${SHAPE} → ${HELP}`);
    const broken = await treasury(['config', 'validate', join(dir, 'broken.yaml')]);
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/is not valid YAML\/JSON at line 3, column 1: /);
  });

  it.each([
    [['once']],
    [['run']],
    [['resume']],
    [['backtest']],
    [['demo']],
    [['devnet']],
    [['audit', 'verify', '--log', '/nonexistent/audit.jsonl']],
  ])('%j --config FILE', async (argv) => {
    const path = join(dir, 'empty.yaml');
    const args = argv[0] === 'audit' ? ['audit', 'verify', '--config', path] : [...argv, '--config', path];
    if (argv[0] === 'audit') {
      // audit verify reads its log first; give it an empty one so it gets to the config.
      await writeFile(join(dir, 'audit.jsonl'), '');
      args.push('--log', join(dir, 'audit.jsonl'));
    }
    const result = await treasury(args);
    expect(result.code).toBe(1);
    expect(result.err).toBe(`✖ ${path} is empty: ${SHAPE} → ${HELP}`);
  });
});
