import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { privateKeyToAccount } from 'viem/accounts';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createRedactor, redactSecrets, urlCredentials } from '../agent/secrets.ts';
import { findFreePort } from '../contracts/anvil.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const CLI = join(root, 'bin', 'treasury.js');

// --- Encodings a secret may leak in ------------------------------------------------------------------------

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const swapCase = (s: string) => [...s].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join('');
const percentAll = (s: string, upper: boolean) =>
  [...utf8(s)]
    .map((b) => `%${b.toString(16).padStart(2, '0')}`[upper ? 'toUpperCase' : 'toLowerCase']())
    .join('');
/** base64 of the secret inside other bytes, so it starts at any of the 3 alignments of a longer base64 text. */
const base64Inside = (bytes: Buffer, before: number, after: number, url: boolean) =>
  Buffer.concat([randomBytes(before), bytes, randomBytes(after)]).toString(url ? 'base64url' : 'base64');
const splitBy = (s: string, separator: string, every: number) =>
  s.replace(new RegExp(`(.{${every}})`, 'g'), `$1${separator}`);

/** Every encoding the redactor documents, each a function of the secret (some with a random part). */
const ENCODINGS: Record<string, (secret: string) => string> = {
  'as is': (s) => s,
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  'mixed case': swapCase,
  'without 0x': (s) => s.replace(/^0x/, ''),
  'without 0x, upper': (s) => s.replace(/^0x/, '').toUpperCase(),
  encodeURIComponent: (s) => encodeURIComponent(s),
  'percent-encoded, lowercase': (s) => percentAll(s, false),
  'percent-encoded, uppercase': (s) => percentAll(s, true),
  'percent-encoded twice': (s) => encodeURIComponent(percentAll(s, true)),
  'JSON string': (s) => JSON.stringify(s).slice(1, -1),
  'JSON of JSON': (s) => JSON.stringify(JSON.stringify({ s })),
  '\\u escapes': (s) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
  '\\u escapes, JSON-escaped again': (s) =>
    JSON.stringify([...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')),
  '\\x escapes': (s) => [...utf8(s)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join(''),
  hex: (s) => utf8(s).toString('hex'),
  'hex, upper': (s) => utf8(s).toString('hex').toUpperCase(),
  base64: (s) => utf8(s).toString('base64'),
  'base64, aligned 1': (s) => base64Inside(utf8(s), 1, 2, false),
  'base64, aligned 2': (s) => base64Inside(utf8(s), 2, 1, false),
  base64url: (s) => utf8(s).toString('base64url'),
  'base64url, aligned 1': (s) => base64Inside(utf8(s), 4, 0, true),
  'base64url, aligned 2': (s) => base64Inside(utf8(s), 5, 3, true),
  'base64, percent-encoded': (s) => encodeURIComponent(base64Inside(utf8(s), 1, 1, false)),
  'base64, wrapped at 76': (s) => splitBy(base64Inside(utf8(s), 2, 0, false), '\n', 76),
  "a hex key's raw bytes, base64": (s) =>
    /^(0x)?[0-9a-f]+$/i.test(s) ? base64Inside(Buffer.from(s.replace(/^0x/, ''), 'hex'), 1, 0, false) : s,
  'split by spaces': (s) => splitBy(s, ' ', 7),
  'split by line breaks': (s) => splitBy(s, '\n  ', 5),
  'split by \\n escapes': (s) => splitBy(s, '\\n', 9),
  'zero-width spaces': (s) => [...s].join('\u200b'),
};

/**
 * The oracle: can the secret be read back from `text` by undoing any of those encodings? Independent of the
 * redactor: decodes every run of base64/hex at every offset, percent-decodes and unescapes up to three times.
 */
function reveals(text: string, secret: string): boolean {
  const target = secret.toLowerCase();
  const bare = /^0x[0-9a-f]+$/i.test(secret) ? target.slice(2) : target;
  const rawKey = /^[0-9a-f]+$/i.test(bare) && bare.length % 2 === 0 ? Buffer.from(bare, 'hex') : undefined;
  const squeeze = (t: string) => t.replace(/[\s\u200b-\u200f\u2060\ufeff\u00ad]|\\[nrt]/g, '');
  const undo = (t: string) =>
    t
      .replace(/%([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(Number.parseInt(h, 16)))
      .replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|["\\/'])/g, (_, e: string) =>
        e.length > 1 ? String.fromCharCode(Number.parseInt(e.slice(1), 16)) : e,
      );
  const texts = new Set<string>();
  let layer = [text, squeeze(text)];
  for (let round = 0; round < 4; round++) {
    for (const t of layer) texts.add(t);
    layer = layer.map(undo).map(squeeze);
  }
  const bytes: Buffer[] = [];
  for (const t of texts) {
    for (const run of t.match(/[A-Za-z0-9+/_-]{8,}/g) ?? []) {
      for (let skip = 0; skip < 4; skip++) bytes.push(Buffer.from(run.slice(skip), 'base64'));
    }
    for (const run of t.match(/[0-9a-fA-F]{16,}/g) ?? []) {
      for (let skip = 0; skip < 2; skip++) bytes.push(Buffer.from(run.slice(skip), 'hex'));
    }
  }
  return (
    [...texts].some((t) => t.toLowerCase().includes(bare)) ||
    bytes.some((b) => b.toString('latin1').toLowerCase().includes(bare) || (rawKey && b.includes(rawKey)))
  );
}

const privateKey = () => `0x${randomBytes(32).toString('hex')}` as const;

describe('redactSecrets: every documented encoding of every kind of secret', () => {
  const agentKey = privateKey();
  const apiKey = `sk-proj-${randomBytes(24).toString('base64')}`; // with + / =
  const secrets = { agentKey, coSignerKeys: [], openaiApiKey: apiKey };

  it.each(Object.entries(ENCODINGS))('%s', (_, encode) => {
    for (const secret of [agentKey, apiKey]) {
      const leaked = `request failed: {"detail":"${encode(secret)}"} (retrying)`;
      expect(reveals(leaked, secret), 'the oracle sees the leak').toBe(true);
      const redacted = redactSecrets(leaked, secrets);
      expect(reveals(redacted, secret), redacted).toBe(false);
      expect(redacted).toContain('***');
      expect(redacted.startsWith('request failed: {"detail":"')).toBe(true);
    }
  });

  it('leaves text without secrets exactly as it is', () => {
    const redact = createRedactor([agentKey, apiKey]);
    for (const text of [
      'cycle done: proposed 0x5FbDB2315678afecb367f032d93F642f64180aa3, 3 swaps, 1,234,567 USDC',
      'https://hub.snapshot.org/graphql?x=1 — base64 aGVsbG8gd29ybGQ= and hex deadbeefdeadbeef',
      '',
    ]) {
      expect(redact(text)).toBe(text);
    }
  });

  it('redacts the credentials of a URL (user, password, key-like query values, key-like path segments)', () => {
    const url =
      'https://alice:pa%24%24word-123@rpc.example.org/v3/0123456789abcdef0123456789abcdef?apikey=Qk9WqZ9t2a&x=1';
    expect(urlCredentials(url)).toEqual([
      'alice',
      'pa$$word-123',
      'Qk9WqZ9t2a',
      '0123456789abcdef0123456789abcdef',
    ]);
    const redact = createRedactor(urlCredentials(url));
    const text = `auth ${Buffer.from('alice:pa$$word-123').toString('base64')} key ${encodeURIComponent('pa$$word-123')}`;
    expect(reveals(redact(text), 'pa$$word-123')).toBe(false);
  });

  it('property: random secrets, any encoding, any surrounding text — never readable back', () => {
    const secretArb = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${Buffer.from(b).toString('hex')}`),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
      fc.string({
        unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
        minLength: 12,
        maxLength: 64,
      }),
      fc
        .uint8Array({ minLength: 16, maxLength: 40 })
        .map((b) => `sk-ant-api03-${Buffer.from(b).toString('base64url')}`),
    );
    const around = fc.string({
      unit: fc.constantFrom(...'abcXYZ019 :,.{}"\'\n-_/+=%\\'.split('')),
      maxLength: 24,
    });
    fc.assert(
      fc.property(
        secretArb,
        fc.constantFrom(...Object.keys(ENCODINGS)),
        around,
        around,
        secretArb,
        (secret, encoding, before, after, other) => {
          const encoded = (ENCODINGS[encoding] as (s: string) => string)(secret);
          const text = `${before}${encoded}${after}`;
          fc.pre(reveals(text, secret));
          const out = createRedactor([other, secret])(text);
          expect(reveals(out, secret)).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  }, 180_000);

  it('property: text that does not contain a secret comes back unchanged', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (text, bytes) => {
          const secret = `0x${Buffer.from(bytes).toString('hex')}`;
          fc.pre(!reveals(text, secret));
          expect(createRedactor([secret])(text)).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  }, 180_000);
});

// --- The real CLI ------------------------------------------------------------------------------------------

async function treasury(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, TREASURY_DEBUG: '1', ...env },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the treasury CLI never prints a secret, in any encoding', () => {
  let dir: string;
  const agentKey = privateKey();
  const agent = privateKeyToAccount(agentKey);
  const coSigner = privateKey();
  const openai = `sk-proj-${randomBytes(30).toString('base64')}`;
  const anthropic = `sk-ant-api03-${randomBytes(30).toString('base64url')}`;
  const rpcUser = randomBytes(4).toString('hex');
  const rpcPassword = `pw-${randomBytes(9).toString('base64url')}`;
  const rpcPathKey = randomBytes(16).toString('hex');
  const rpcQueryKey = randomBytes(12).toString('base64url');
  const env = {
    TREASURY_AGENT_KEY: agentKey,
    TREASURY_COSIGNER_KEYS: coSigner,
    OPENAI_API_KEY: openai,
    ANTHROPIC_API_KEY: anthropic,
  };
  const envSecrets = [agentKey, coSigner, openai, anthropic];
  const urlSecrets = [rpcPassword, rpcPathKey, rpcQueryKey];
  /** Every encoding of each secret. A config refuses any line with 64 hex digits first: those stay out of files. */
  const leaks = (secrets: string[], { inFile = false } = {}) =>
    secrets
      .flatMap((s) => Object.values(ENCODINGS).map((encode) => encode(s)))
      .filter((form) => !inFile || !/[0-9a-fA-F]{64}/.test(form));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'treasury-secrets-'));
  });

  const expectClean = (result: { stdout: string; stderr: string }, secrets: string[]) => {
    const output = `${result.stdout}\n${result.stderr}`;
    for (const secret of secrets) expect(reveals(output, secret), `${secret} in:\n${output}`).toBe(false);
    expect(output).toContain('***');
  };

  /** The mainnet example on a dead RPC with credentials, the agent being our random key. */
  // biome-ignore lint/suspicious/noExplicitAny: the test edits raw YAML of any shape
  async function configFile(name: string, change: (raw: Record<string, any>) => void = () => {}) {
    const raw = parse(await readFile(join(root, 'config/examples/mainnet.yaml'), 'utf8'));
    raw.chain.rpcUrl = `http://u${rpcUser}:${rpcPassword}@127.0.0.1:${await findFreePort()}/v3/${rpcPathKey}?apikey=${rpcQueryKey}`;
    raw.safe.agent = agent.address;
    raw.safe.owners[0] = agent.address;
    raw.llm = { provider: 'deterministic' };
    raw.state = { ledgerPath: join(dir, `${name}.db`), auditLogPath: join(dir, `${name}.jsonl`) };
    change(raw);
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, stringify(raw));
    return file;
  }

  it('config validate: unknown keys spelling every encoding of the environment secrets (stdout)', async () => {
    const file = await configFile('validate', (raw) => {
      for (const [i, form] of leaks(envSecrets, { inFile: true }).entries()) raw[form] = i;
    });
    const result = await treasury(['config', 'validate', file], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^✖ unknown key "\*\*\*" → at \["\*\*\*"\]$/m);
    expectClean(result, envSecrets);
  }, 180_000);

  it('once: a config path spelling the secrets, then a config whose RPC (with credentials) is down', async () => {
    const missing = join(dir, leaks([openai, agentKey]).join('').replaceAll('/', '_').replaceAll('\n', ''));
    const down = await configFile('down');
    const [unreadable, failing] = await Promise.all([
      treasury(['once', '--config', missing], env),
      treasury(['once', '--config', down], env),
    ]);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toMatch(/^✖ cannot read config file .*\*\*\*.*: ENAMETOOLONG/m);
    expectClean(unreadable, envSecrets);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(
      /^✖ cannot read the router's factory at 0x[0-9a-fA-F]{40} → is the RPC up/m,
    );
    for (const secret of [...envSecrets, ...urlSecrets])
      expect(reveals(failing.stdout + failing.stderr, secret)).toBe(false);
  }, 180_000);

  it("resume: an error quoting a path that spells the config's RPC credentials", async () => {
    const file = await configFile('resume', (raw) => {
      const name = leaks(urlSecrets, { inFile: true }).join('.').replaceAll('/', '_').replaceAll('\n', '');
      raw.state.ledgerPath = join(dir, name, 'ledger.db');
    });
    const result = await treasury(['resume', '--config', file], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ENAMETOOLONG.*\*\*\*/);
    expectClean(result, [...envSecrets, ...urlSecrets]);
  }, 180_000);

  it('hub: a spaces path spelling the --rpc credentials and the keys', async () => {
    const rpc = `http://u${rpcUser}:${rpcPassword}@127.0.0.1:${await findFreePort()}/v3/${rpcPathKey}?apikey=${rpcQueryKey}`;
    const spaces = join(
      dir,
      leaks([...urlSecrets, agentKey])
        .join('')
        .replaceAll('/', '_')
        .replaceAll('\n', ''),
    );
    const port = String(await findFreePort());
    const result = await treasury(['hub', '--spaces', spaces, '--rpc', rpc, '--port', port], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot read the spaces file .*\*\*\*/);
    expectClean(result, [...envSecrets, ...urlSecrets]);
  }, 180_000);
});
