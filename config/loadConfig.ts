import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../agent/errors.ts';
import { type TreasuryAgentConfig, TreasuryAgentConfigSchema } from './schema.ts';

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/** One line per problem: `✖ message → at a.b[1].c` (the config file's path of the field). */
export function formatConfigIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `✖ ${issue.message}${issue.path.length ? ` → at ${formatPath(issue.path)}` : ''}`)
    .join('\n');
}

/** Parses config text (YAML or JSON) and validates it; every problem is listed with its path. */
export function parseConfig(text: string, source = 'config'): TreasuryAgentConfig {
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
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${source} is not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`, {
      cause: error,
    });
  }
  const result = TreasuryAgentConfigSchema.safeParse(raw);
  if (!result.success) {
    const count = result.error.issues.length;
    throw new ConfigError(`${source} is invalid (${count} problem${count === 1 ? '' : 's'})`, {
      cause: result.error,
      hint: `fix the fields below, then run: treasury config validate ${source}`,
      details: formatConfigIssues(result.error).split('\n'),
    });
  }
  return result.data;
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
