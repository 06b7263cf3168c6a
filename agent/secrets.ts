import type { Hex } from 'viem';
import { ConfigError } from './errors.ts';

/**
 * The agent's secrets, read from the environment only (never from config files). Values are never printed:
 * errors name the variable, not its content.
 * - TREASURY_AGENT_KEY: the agent's private key (one Safe owner, below threshold; signs proposals and Safe txs).
 * - TREASURY_COSIGNER_KEYS: comma-separated co-signer keys, for the local devnet only.
 * - OPENAI_API_KEY / ANTHROPIC_API_KEY: LLM providers, when configured.
 */
export type AgentSecrets = {
  agentKey?: Hex;
  coSignerKeys: Hex[];
  openaiApiKey?: string;
  anthropicApiKey?: string;
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
  ].filter((v): v is string => !!v && v.length >= 8);
  for (const value of values) {
    out = out.split(value).join('***');
    if (value.startsWith('0x')) out = out.split(value.slice(2)).join('***');
  }
  return out;
}
