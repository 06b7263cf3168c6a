import type { Hex } from 'viem';
import { ConfigError } from './errors.ts';

/**
 * The agent's secrets, read from the environment only (never from config files). Values are never printed:
 * errors name the variable, not its content.
 * - TREASURY_AGENT_KEY: the agent's private key (one Safe owner, below threshold; signs proposals and Safe txs).
 * - TREASURY_COSIGNER_KEYS: comma-separated co-signer keys, for the local devnet only.
 * - OPENAI_API_KEY / ANTHROPIC_API_KEY: LLM providers, when configured.
 * - TREASURY_SAFE_API_KEY: Safe Transaction Service key (required by Safe's hosted service, api.safe.global).
 * - TREASURY_SNAPSHOT_API_KEY: Snapshot API key, sent to the hub as `x-api-key` (raises its rate limit).
 */
export type AgentSecrets = {
  agentKey?: Hex;
  coSignerKeys: Hex[];
  openaiApiKey?: string;
  anthropicApiKey?: string;
  safeApiKey?: string;
  snapshotApiKey?: string;
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

export function readSecrets(env: Readonly<Record<string, string | undefined>>): AgentSecrets {
  const agent = env.TREASURY_AGENT_KEY;
  const coSigners = env.TREASURY_COSIGNER_KEYS;
  return {
    agentKey: agent ? privateKey('TREASURY_AGENT_KEY', agent) : undefined,
    coSignerKeys: coSigners
      ? coSigners
          .split(',')
          .filter((k) => k.trim())
          .map((k, i) => privateKey(`TREASURY_COSIGNER_KEYS[${i}]`, k))
      : [],
    openaiApiKey: env.OPENAI_API_KEY || undefined,
    anthropicApiKey: env.ANTHROPIC_API_KEY || undefined,
    safeApiKey: env.TREASURY_SAFE_API_KEY?.trim() || undefined,
    snapshotApiKey: env.TREASURY_SNAPSHOT_API_KEY?.trim() || undefined,
  };
}

/** Replaces every secret value that occurs in `text` (logs, errors, model replies) with ***. */
export function redactSecrets(text: string, secrets: AgentSecrets): string {
  let out = text;
  const values = [
    secrets.agentKey,
    ...secrets.coSignerKeys,
    secrets.openaiApiKey,
    secrets.anthropicApiKey,
    secrets.safeApiKey,
    secrets.snapshotApiKey,
  ].filter((v): v is string => !!v && v.length >= 8);
  for (const value of values) {
    out = out.split(value).join('***');
    if (value.startsWith('0x')) out = out.split(value.slice(2)).join('***');
  }
  return out;
}
