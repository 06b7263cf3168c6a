import type { Hex } from 'viem';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { ConfigError } from '../shared/errors.ts';

/**
 * The agent's secrets, read from the environment only (never from config files). Values are never printed:
 * errors name the variable, not its content.
 * - TREASURY_AGENT_KEY: the agent's private key (one Safe owner, below threshold; signs proposals and Safe txs).
 * - TREASURY_COSIGNER_KEYS: comma-separated co-signer keys, for the local devnet only.
 * - OPENAI_API_KEY / ANTHROPIC_API_KEY: LLM providers, when configured.
 * - TREASURY_SAFE_API_KEY: Safe Transaction Service key (required by Safe's hosted service, api.safe.global).
 * - TREASURY_SNAPSHOT_API_KEY: Snapshot API key, sent to the hub as `x-api-key` (raises its rate limit).
 * - PGPASSWORD: the PostgreSQL ledger's password (state.ledgerUrl).
 * A config's `keys` names other variables for each (many DAOs in one process each name their own).
 */
export type AgentSecrets = {
  agentKey?: Hex;
  coSignerKeys: Hex[];
  openaiApiKey?: string;
  anthropicApiKey?: string;
  safeApiKey?: string;
  snapshotApiKey?: string;
  ledgerPassword?: string;
  /** Credentials inside configured URLs (see `urlCredentials`): redacted too, never used from here. */
  urlCredentials?: string[];
};

const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;

function privateKey(name: string, value: string): Hex {
  const trimmed = value.trim();
  if (!PRIVATE_KEY.test(trimmed)) {
    throw new ConfigError(`${name} is not a private key (0x + 64 hex digits)`, {
      hint: `fix the environment variable ${name}; its value is not shown`,
    });
  }
  return trimmed as Hex;
}

/** Which environment variables hold the keys (a config's `keys`; these are the defaults). */
export type KeyNames = {
  agentKeyEnv: string;
  coSignerKeysEnv: string;
  safeApiKeyEnv: string;
  snapshotApiKeyEnv: string;
  ledgerPasswordEnv: string;
};

export const DEFAULT_KEY_NAMES: KeyNames = {
  agentKeyEnv: 'TREASURY_AGENT_KEY',
  coSignerKeysEnv: 'TREASURY_COSIGNER_KEYS',
  safeApiKeyEnv: 'TREASURY_SAFE_API_KEY',
  snapshotApiKeyEnv: 'TREASURY_SNAPSHOT_API_KEY',
  ledgerPasswordEnv: 'PGPASSWORD',
};

export function readSecrets(
  env: Readonly<Record<string, string | undefined>>,
  names: KeyNames = DEFAULT_KEY_NAMES,
): AgentSecrets {
  const agent = env[names.agentKeyEnv];
  const coSigners = env[names.coSignerKeysEnv];
  return {
    agentKey: agent ? privateKey(names.agentKeyEnv, agent) : undefined,
    coSignerKeys: coSigners
      ? coSigners
          .split(',')
          .filter((k) => k.trim())
          .map((k, i) => privateKey(`${names.coSignerKeysEnv}[${i}]`, k))
      : [],
    openaiApiKey: env.OPENAI_API_KEY || undefined,
    anthropicApiKey: env.ANTHROPIC_API_KEY || undefined,
    safeApiKey: env[names.safeApiKeyEnv]?.trim() || undefined,
    snapshotApiKey: env[names.snapshotApiKeyEnv]?.trim() || undefined,
    ledgerPassword: env[names.ledgerPasswordEnv] || undefined,
  };
}

/** Every secret value `secrets` holds, for `createRedactor`. */
export function secretValues(secrets: AgentSecrets): string[] {
  return [
    secrets.agentKey,
    ...secrets.coSignerKeys,
    secrets.openaiApiKey,
    secrets.anthropicApiKey,
    secrets.safeApiKey,
    secrets.snapshotApiKey,
    secrets.ledgerPassword,
    ...(secrets.urlCredentials ?? []),
  ].filter((v): v is string => typeof v === 'string');
}

/**
 * The secret values of the environment, as written, even those `readSecrets` refuses (a mistyped key is still a
 * key): what the CLI redacts from everything it prints.
 */
export function environmentSecretValues(
  env: Readonly<Record<string, string | undefined>>,
  names: KeyNames = DEFAULT_KEY_NAMES,
): string[] {
  const values = [
    env[names.agentKeyEnv],
    env.OPENAI_API_KEY,
    env.ANTHROPIC_API_KEY,
    env[names.safeApiKeyEnv],
    env[names.snapshotApiKeyEnv],
    env[names.ledgerPasswordEnv],
  ];
  const coSigners = env[names.coSignerKeysEnv];
  if (coSigners) values.push(coSigners, ...coSigners.split(','));
  return values.filter((v): v is string => typeof v === 'string').map((v) => v.trim());
}

/**
 * The credentials in a URL: user and password, values of key-like query parameters, and path segments that
 * look like API keys (as `redactUrl` hides them: 24+ letters, digits, `-` or `_`). Decoded, as a person would
 * paste them. The user name counts (some providers put the key there): a plain word of 8+ letters used as one
 * is blanked wherever it is printed.
 */
export function urlCredentials(url: string | undefined): string[] {
  if (!url) return [];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  const found = [parsed.username, parsed.password].map(decode);
  for (const [key, value] of parsed.searchParams) {
    if (/key|token|secret|auth|pass|sig/i.test(key)) found.push(value);
  }
  for (const segment of parsed.pathname.split('/')) {
    if (/^[A-Za-z0-9_-]{24,}$/.test(segment)) found.push(segment);
  }
  return found.filter((v) => v.length > 0);
}

/** The credentials in a config's URLs (chain RPC, hub, LLM base URL, Safe Transaction Service). */
export function configSecrets(config: TreasuryAgentConfig): string[] {
  return [
    config.chain.rpcUrl,
    config.governance.hubUrl,
    config.llm.baseUrl,
    config.execution.transactionServiceUrl,
    config.state.ledgerUrl,
  ].flatMap(urlCredentials);
}

/** Values shorter than this are not redacted: they would blank out ordinary words and numbers. */
const MIN_SECRET_LENGTH = 8;

/**
 * A text as it is matched: each kept character, lowercased (and base64url's - and _ read as base64's + and /,
 * since Node decodes a mix of both alphabets), with the range of the original text it stands for. Whitespace and
 * invisible characters are dropped, so a secret wrapped or split by them still matches.
 */
type View = { text: string; from: number[]; to: number[] };

const INVISIBLE = /[\s\u00AD\u180E\u200B-\u200F\u2028-\u202F\u2060-\u2064\uFEFF]/;

/**
 * One pass over a view: drops what is invisible, lowercases, and with `decode` reads escapes as the character
 * they stand for: %XX (any case), \uXXXX, \xXX, and JSON's \" \\ \/ \'. Passes compose (twice-encoded text).
 */
function pass(input: View, decode: boolean): View {
  const { text } = input;
  const units: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  /** Keeps `char` for the input units [start, end). */
  const keep = (char: string, start: number, end: number) => {
    const lower = char === '-' ? '+' : char === '_' ? '/' : char.toLowerCase();
    const kept = lower.length === char.length ? lower : char;
    for (const unit of kept.split('')) {
      units.push(unit);
      from.push(input.from[start] as number);
      to.push(input.to[end - 1] as number);
    }
  };
  const hexAt = (at: number, digits: number) => {
    const hex = text.slice(at, at + digits);
    return hex.length === digits && /^[0-9a-fA-F]+$/.test(hex)
      ? String.fromCharCode(Number.parseInt(hex, 16))
      : undefined;
  };
  for (let i = 0; i < text.length; ) {
    const code = text.charCodeAt(i);
    // Plain ASCII, the common case: no regular expression, no allocation.
    if (code < 0x80 && code !== 0x25 && code !== 0x5c) {
      if (code > 0x20 && code !== 0x7f) {
        const unit =
          code >= 0x41 && code <= 0x5a ? code + 0x20 : code === 0x2d ? 0x2b : code === 0x5f ? 0x2f : code;
        units.push(String.fromCharCode(unit));
        from.push(input.from[i] as number);
        to.push(input.to[i] as number);
      }
      i += 1;
      continue;
    }
    const char = String.fromCodePoint(text.codePointAt(i) ?? 0);
    if (INVISIBLE.test(char)) {
      i += char.length;
      continue;
    }
    const next = text[i + 1];
    if (decode && char === '\\' && next) {
      const [escaped, width] =
        next === 'u'
          ? [hexAt(i + 2, 4), 6]
          : next === 'x'
            ? [hexAt(i + 2, 2), 4]
            : [`"\\/'`.includes(next) ? next : undefined, 2];
      if (escaped !== undefined) {
        keep(escaped, i, i + width);
        i += width;
        continue;
      }
    }
    if (decode && char === '%') {
      const byte = hexAt(i + 1, 2);
      if (byte !== undefined) {
        keep(byte, i, i + 3);
        i += 3;
        continue;
      }
    }
    keep(char, i, i + char.length);
    i += char.length;
  }
  return { text: units.join(''), from, to };
}

/** The views a text is matched in: as written, then decoded once, twice and three times (while that changes it). */
function views(text: string): View[] {
  const original: View = { text, from: [], to: [] };
  for (let i = 0; i < text.length; i++) {
    original.from.push(i);
    original.to.push(i + 1);
  }
  const out = [pass(original, false)];
  let decoded = original;
  for (let k = 0; k < 3 && /[%\\]/.test(decoded.text); k++) {
    const next = pass(decoded, true);
    if (next.text === (out.at(-1) as View).text) break;
    out.push(next);
    decoded = next;
  }
  return out;
}

/** Escapes \n \r \t skipped in a row between two characters of a secret (\r\n is two). */
const MAX_ESCAPES_IN_A_ROW = 2;

/**
 * Where `form` occurs in `text` (a view), as [first, last] view indexes. Inside a match, up to two of the
 * escapes \n \r \t (a line break in a JSON or JS string) may come between any two characters; before the first
 * they are not skipped, so a backslash just before a secret never hides it.
 */
function occurrences(text: string, form: string, escapes: boolean): [number, number][] {
  const found: [number, number][] = [];
  if (!escapes) {
    for (let at = text.indexOf(form); at >= 0; at = text.indexOf(form, at + 1)) {
      found.push([at, at + form.length - 1]);
    }
    return found;
  }
  const isEscape = (i: number) => text[i] === '\\' && 'nrt'.includes(text[i + 1] ?? '');
  /** Results of the branches tried at a backslash (it may be the secret's own or an escape's), memoized. */
  const tried = new Map<number, number>();
  /** The view index just past a match of form[j…] starting at text[i], or -1. */
  const matchFrom = (start: number, from: number): number => {
    let i = start;
    let j = from;
    let skipped = 0;
    while (j < form.length && i < text.length) {
      const lineBreak = j > 0 && skipped < MAX_ESCAPES_IN_A_ROW && isEscape(i);
      if (text[i] === form[j]) {
        if (lineBreak) {
          const key = i * (form.length + 1) + j;
          let literal = tried.get(key);
          if (literal === undefined) {
            literal = matchFrom(i + 1, j + 1);
            tried.set(key, literal);
          }
          if (literal >= 0) return literal;
          i += 2;
          skipped += 1;
          continue;
        }
        i += 1;
        j += 1;
        skipped = 0;
      } else if (lineBreak) {
        i += 2;
        skipped += 1;
      } else return -1;
    }
    return j === form.length ? i : -1;
  };
  const first = form[0] as string;
  for (let at = text.indexOf(first); at >= 0; at = text.indexOf(first, at + 1)) {
    const end = matchFrom(at, 0);
    if (end >= 0) found.push([at, end - 1]);
  }
  return found;
}

/** The base64 characters that depend only on `bytes`, wherever they start in a longer text (3 alignments). */
function base64Cores(bytes: Uint8Array): string[] {
  const cores: string[] = [];
  for (let k = 0; k < 3; k++) {
    const padded = Buffer.concat([Buffer.alloc(k), Buffer.from(bytes)]).toString('base64');
    const start = Math.ceil((8 * k) / 6);
    const end = Math.floor((8 * (k + bytes.length)) / 6);
    cores.push(padded.slice(start, end));
  }
  return cores;
}

/** The forms of one secret that are looked for (lowercased; see `createRedactor` for what they cover). */
function secretForms(secret: string): string[] {
  const variants = new Set([secret]);
  if (/^0x[0-9a-fA-F]+$/.test(secret)) variants.add(secret.slice(2));
  const forms = new Set<string>();
  for (const value of variants) {
    const utf8 = Buffer.from(value, 'utf8');
    const encodings = [
      value,
      utf8.toString('latin1'), // %XX-decoded UTF-8 reads as one character per byte
      utf8.toString('hex'),
      ...base64Cores(utf8),
    ];
    // A hex key's own bytes, as a program would encode them.
    if (/^[0-9a-fA-F]+$/.test(value) && value.length % 2 === 0)
      encodings.push(...base64Cores(Buffer.from(value, 'hex')));
    for (const form of encodings) {
      const normal = (views(form)[0] as View).text; // base64url reads as base64 there
      if (normal.length >= MIN_SECRET_LENGTH) forms.add(normal);
    }
  }
  return [...forms];
}

/**
 * Returns a function that replaces every known secret in a text with `***`, written as is or:
 * - in any letter case (upper, lower, mixed), with or without 0x for hex keys;
 * - percent-encoded (all or some characters, any case), JSON- or JS-escaped (\uXXXX, \xXX, \/, \"), and these
 *   up to three times over (a URL in a JSON string in a URL);
 * - hex-encoded (its UTF-8 bytes, any case), base64 or base64url (at any of the 3 byte alignments, so also inside
 *   a longer base64 text; for a hex key also its raw bytes), a base64 form also percent-encoded or escaped;
 * - split or wrapped anywhere, by any amount of whitespace or invisible characters (zero-width space, soft
 *   hyphen, BOM …), or by line breaks written as escapes (up to two of \n \r \t in a row, as in a JSON string).
 * Not caught: a part of a secret, other separators (commas, quotes and +), hex or base64 of an already encoded
 * form, HTML entities, reversed, compressed or encrypted text, a secret split across two separately redacted
 * texts (the CLI redacts each printed line, or each multi-line message, as a whole). Values shorter than 8
 * characters are not redacted (they would blank out ordinary words).
 */
export function createRedactor(secrets: readonly string[]): (text: string) => string {
  const values = secrets.map((s) => s.trim()).filter((s) => s.length >= MIN_SECRET_LENGTH);
  const forms = [...new Set(values.flatMap(secretForms))];
  if (forms.length === 0) return (text) => text;
  return (text) => {
    const ranges: [number, number][] = [];
    for (const v of views(text)) {
      const escapes = /\\[nrt]/.test(v.text);
      for (const form of forms) {
        for (const [first, last] of occurrences(v.text, form, escapes)) {
          ranges.push([v.from[first] as number, v.to[last] as number]);
        }
      }
    }
    if (ranges.length === 0) return text;
    ranges.sort((a, b) => a[0] - b[0]);
    let out = '';
    let done = 0;
    let open: [number, number] | undefined;
    for (const [start, end] of ranges) {
      if (open && start <= open[1]) {
        open[1] = Math.max(open[1], end);
        continue;
      }
      if (open) {
        out += `${text.slice(done, open[0])}***`;
        done = open[1];
      }
      open = [start, end];
    }
    if (open) {
      out += `${text.slice(done, open[0])}***`;
      done = open[1];
    }
    return out + text.slice(done);
  };
}

/** Replaces every secret value of `secrets` in `text` (logs, errors, model replies), encoded or not, with ***. */
export function redactSecrets(text: string, secrets: AgentSecrets): string {
  return createRedactor(secretValues(secrets))(text);
}
