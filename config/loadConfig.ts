import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isScalar, LineCounter, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../shared/errors.ts';
import { nearMatch } from './nearMatch.ts';
import { type TreasuryAgentConfig, TreasuryAgentConfigSchema } from './schema.ts';

/** Where a person starts from, and where every field is described. */
const CONFIG_HELP = 'start from config/examples/devnet.yaml; every field: treasury config schema';
/** Problems listed for one file at most (a hostile file can hold millions). */
const MAX_LISTED = 50;
/** Longest config text parsed: the examples are 3–4 KB; YAML and the checks below stay fast up to here. */
const MAX_CONFIG_CHARS = 256_000;

/** `a.b[1].c`; a key that is not a plain name is quoted (`a["x.y"]`), so a key cannot fake a path or a line. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      if (/^[A-Za-z_$][\w$-]{0,63}$/.test(name)) return `${i === 0 ? '' : '.'}${name}`;
      return `[${quoteKey(name)}]`;
    })
    .join('');
}

/**
 * A key as JSON (control characters escaped), whole: a cut key could show most of a secret pasted there, which
 * the CLI's redaction (whole values only) would not recognise.
 */
function quoteKey(key: string): string {
  return JSON.stringify(key);
}

/** Top-level keys of the config file, required ones first (read from the schema, so they never drift). */
export function topLevelKeys(): { required: string[]; optional: string[] } {
  const required: string[] = [];
  const optional: string[] = [];
  for (const [key, schema] of Object.entries(TreasuryAgentConfigSchema.shape)) {
    (schema.isOptional() ? optional : required).push(key);
  }
  return { required, optional };
}

function expectedShape(): string {
  const { required, optional } = topLevelKeys();
  const last = required.at(-1);
  return `a config file is a mapping with ${required.slice(0, -1).join(', ')} and ${last} (optional: ${optional.join(', ')})`;
}

/** The keys a mapping at `path` may hold, when the schema has an object there. */
function allowedKeysAt(path: readonly PropertyKey[]): string[] | undefined {
  let schema: z.core.$ZodType | undefined = TreasuryAgentConfigSchema;
  for (const key of [...path, undefined]) {
    // Unwrap optional/default/prefault/pipe layers to the object or array below.
    for (let i = 0; i < 8 && schema; i++) {
      const def = schema._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      if (def.innerType) schema = def.innerType;
      else if (def.type === 'pipe') schema = def.in;
      else break;
    }
    if (!schema) return undefined;
    const def = schema._zod.def as {
      type: string;
      shape?: Record<string, z.core.$ZodType>;
      element?: z.core.$ZodType;
    };
    if (key === undefined) return def.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
    if (def.type === 'object' && typeof key === 'string') schema = def.shape?.[key];
    else if (def.type === 'array' && typeof key === 'number') schema = def.element;
    else return undefined;
  }
  return undefined;
}

function unknownKeyLine(key: string, path: readonly PropertyKey[]): string {
  const allowed = key.length <= 64 ? (allowedKeysAt(path) ?? []) : [];
  const near = nearMatch(key, allowed);
  const suggestion = near ? ` (did you mean ${near}?)` : '';
  return `✖ unknown key ${quoteKey(key)}${suggestion} → at ${formatPath([...path, key])}`;
}

/**
 * One line per problem: `✖ message → at a.b[1].c` (the config file's path of the field). An unknown key gets a
 * line of its own, at its own path.
 */
export function formatConfigIssues(error: z.ZodError): string {
  return error.issues
    .flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => unknownKeyLine(key, issue.path))
        : [`✖ ${issue.message}${issue.path.length ? ` → at ${formatPath(issue.path)}` : ''}`],
    )
    .join('\n');
}

/** What the file holds at the top when it is not a mapping, for the error message. */
function describeTop(raw: unknown, text: string): string | undefined {
  if (raw === null || raw === undefined) {
    const blank = text
      .split('\n')
      .every((line) => line.replace(/#.*/, '').trim() === '' || line.trim() === '---');
    return blank ? 'is empty' : 'holds null';
  }
  if (Array.isArray(raw)) return 'is a list';
  if (typeof raw !== 'object') return `is a single ${typeof raw} value`;
  if (Object.getPrototypeOf(raw) !== Object.prototype) return 'is not a plain mapping';
  return undefined;
}

/** Parses YAML (JSON is YAML) strictly: any error or warning stops, with its line and column. */
function parseYamlStrict(text: string, source: string): unknown {
  const located = (
    problem: { message: string; linePos?: { line: number; col: number }[] },
    cause?: unknown,
  ) => {
    const first = (problem.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    const at = problem.linePos?.[0]
      ? ` at line ${problem.linePos[0].line}, column ${problem.linePos[0].col}`
      : '';
    return new ConfigError(`${source} is not valid YAML/JSON${at}: ${first}`, {
      hint: `fix the syntax there (${CONFIG_HELP})`,
      cause,
    });
  };
  // Warnings (an unknown tag, …) stop too. parseDocument never prints them (`parse` would, on stderr, with the
  // line's text); logLevel 'silent' would also drop the error for a second document.
  const lineCounter = new LineCounter();
  // Duplicate keys are found below: the parser's own check compares every pair of keys of a mapping.
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: true, logLevel: 'error', lineCounter });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw located(problem);
  const at = (node: { range?: [number, number, number] | null }) => [
    lineCounter.linePos(node.range?.[0] ?? 0),
  ];
  visit(doc, {
    Alias(_, node) {
      if (!node.resolve(doc)) throw located({ message: `unknown alias *${node.source}`, linePos: at(node) });
    },
    Map(_, map) {
      const keys = new Set<string>();
      for (const { key } of map.items) {
        const name = isScalar(key) ? `=${String(key.value)}` : String(key);
        if (keys.has(name)) {
          throw located({ message: 'Map keys must be unique', linePos: isScalar(key) ? at(key) : undefined });
        }
        keys.add(name);
      }
    },
  });
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw located(error as Error & { linePos?: { line: number; col: number }[] }, error);
  }
}

/** Parses config text (YAML or JSON) and validates it; every problem is listed with its path. */
export function parseConfig(text: string, source = 'config'): TreasuryAgentConfig {
  if (text.length > MAX_CONFIG_CHARS) {
    throw new ConfigError(`${source} is ${text.length.toLocaleString('en-US')} characters long`, {
      hint: `a config file is a few kilobytes (at most ${MAX_CONFIG_CHARS.toLocaleString('en-US')} characters); ${CONFIG_HELP}`,
    });
  }
  const keyLine = text
    .split('\n')
    .findIndex((line) =>
      /(^|[^0-9a-fA-Fx])(0x)?[0-9a-fA-F]{64}([^0-9a-fA-F]|$)/.test(line.replace(/#.*/, '')),
    );
  if (keyLine >= 0) {
    throw new ConfigError(`${source} line ${keyLine + 1} holds what looks like a private key`, {
      hint: 'secrets never go in config files: export TREASURY_AGENT_KEY (and other keys) in the environment',
    });
  }
  const raw = parseYamlStrict(text, source);
  const top = describeTop(raw, text);
  if (top) throw new ConfigError(`${source} ${top}: ${expectedShape()}`, { hint: CONFIG_HELP });
  const { required } = topLevelKeys();
  if (!required.some((key) => Object.hasOwn(raw as object, key))) {
    const shape = TreasuryAgentConfigSchema.shape;
    const unknown = Object.keys(raw as object).filter((key) => !Object.hasOwn(shape, key));
    const lines = unknown.map((key) => unknownKeyLine(key, []));
    throw new ConfigError(`${source} has none of the keys a config needs: ${expectedShape()}`, {
      hint: CONFIG_HELP,
      details: capped(lines),
    });
  }
  const result = TreasuryAgentConfigSchema.safeParse(raw, {
    error: (issue) =>
      issue.code === 'invalid_type' && issue.input === undefined ? 'required, but missing' : undefined,
  });
  if (!result.success) {
    const lines = formatConfigIssues(result.error).split('\n');
    const count = lines.length;
    throw new ConfigError(`${source} is invalid (${count} problem${count === 1 ? '' : 's'})`, {
      cause: result.error,
      hint: `fix the fields below, then run: treasury config validate ${source}`,
      details: capped(lines),
    });
  }
  return result.data;
}

function capped(lines: string[]): string[] {
  if (lines.length <= MAX_LISTED) return lines;
  return [...lines.slice(0, MAX_LISTED), `… and ${lines.length - MAX_LISTED} more`];
}

export async function loadConfig(path: string): Promise<TreasuryAgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      {
        cause: error,
        hint: 'pass an existing file, e.g. --config config/examples/devnet.yaml',
      },
    );
  }
  return parseConfig(text, path);
}

/** Every config in a folder (YAML or JSON), sorted by name; other files are ignored. */
export function configFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/i.test(f))
    .sort()
    .map((f) => join(dir, f));
}
