import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { LlmConfig } from '../../config/schema.ts';
import { ConfigError, redactUrl } from '../../shared/errors.ts';
import {
  type AgentSecrets,
  createRedactor,
  redactSecrets,
  secretValues,
  urlCredentials,
} from '../secrets.ts';
import { deterministicWriter } from './deterministicWriter.ts';
import { createLangChainWriter } from './langchainWriter.ts';
import type { RationaleWriter } from './types.ts';

/** The model used when `llm.model` is not set, by provider. */
export const DEFAULT_MODELS = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-sonnet-4-5',
  ollama: 'llama3.1',
} as const;

export type ConfiguredChatModel = { model: BaseChatModel; name: string };

/** Retries inside the provider client; the writer's own timeout bounds the whole call. */
const MAX_RETRIES = 1;

function requireKey(value: string | undefined, variable: string, provider: string): string {
  if (!value) {
    throw new ConfigError(`llm.provider is ${provider} but ${variable} is not set`, {
      hint: `set the environment variable ${variable}, or set llm.provider to deterministic`,
    });
  }
  return value;
}

/**
 * The chat model the config names, or undefined for the deterministic writer. Provider packages are imported
 * only when configured, so the offline path loads none of them. Keys come from `secrets` (the environment):
 * a missing key is a ConfigError naming the variable; values never appear in messages.
 *
 * @example
 * const chat = await chatModelFromConfig(config.llm, readSecrets(process.env));
 */
export async function chatModelFromConfig(
  llm: LlmConfig,
  secrets: AgentSecrets,
): Promise<ConfiguredChatModel | undefined> {
  const common = { temperature: llm.temperature, maxRetries: MAX_RETRIES };
  try {
    switch (llm.provider) {
      case 'deterministic':
        return undefined;
      case 'openai': {
        const apiKey = requireKey(secrets.openaiApiKey, 'OPENAI_API_KEY', 'openai');
        const model = llm.model ?? DEFAULT_MODELS.openai;
        const { ChatOpenAI } = await import('@langchain/openai');
        return {
          model: new ChatOpenAI({
            ...common,
            model,
            apiKey,
            timeout: llm.timeoutMs,
            ...(llm.baseUrl ? { configuration: { baseURL: llm.baseUrl } } : {}),
          }),
          name: `openai:${model}`,
        };
      }
      case 'anthropic': {
        const apiKey = requireKey(secrets.anthropicApiKey, 'ANTHROPIC_API_KEY', 'anthropic');
        const model = llm.model ?? DEFAULT_MODELS.anthropic;
        const { ChatAnthropic } = await import('@langchain/anthropic');
        return {
          model: new ChatAnthropic({
            ...common,
            model,
            apiKey,
            ...(llm.baseUrl ? { anthropicApiUrl: llm.baseUrl } : {}),
          }),
          name: `anthropic:${model}`,
        };
      }
      case 'ollama': {
        const model = llm.model ?? DEFAULT_MODELS.ollama;
        const { ChatOllama } = await import('@langchain/ollama');
        return {
          model: new ChatOllama({ ...common, model, ...(llm.baseUrl ? { baseUrl: llm.baseUrl } : {}) }),
          name: `ollama:${model}`,
        };
      }
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    // A provider's constructor may echo its options: keep only a redacted message.
    const message = redactSecrets(error instanceof Error ? error.message : String(error), {
      ...secrets,
      urlCredentials: [...(secrets.urlCredentials ?? []), ...urlCredentials(llm.baseUrl)],
    });
    throw new ConfigError(`could not set up the ${llm.provider} chat model: ${message}`, {
      hint: 'check llm.provider, llm.model and llm.baseUrl',
      details: llm.baseUrl ? [`baseUrl: ${redactUrl(llm.baseUrl)}`] : [],
    });
  }
}

/**
 * The rationale writer for the config: the deterministic writer for provider `deterministic`, else the
 * provider's chat model with the deterministic writer as the fallback. Secrets are redacted from the prompt,
 * reply and fallback reason it records.
 */
export async function createRationaleWriter(llm: LlmConfig, secrets: AgentSecrets): Promise<RationaleWriter> {
  const chat = await chatModelFromConfig(llm, secrets);
  if (!chat) return deterministicWriter;
  const redact = createRedactor([...secretValues(secrets), ...urlCredentials(llm.baseUrl)]);
  return createLangChainWriter({
    model: chat.model,
    name: chat.name,
    timeoutMs: llm.timeoutMs,
    fallback: deterministicWriter,
    redact,
  });
}
