import { stringify } from 'yaml';
import type { TreasuryAgentConfig } from './schema.ts';

/**
 * A config as YAML that `loadConfig` reads back to the same value: comment lines first (`# …`), then every
 * field, defaults included, so the file says exactly what the agent will do. Configs hold no secrets (keys come
 * from the environment), so nothing here is redacted.
 */
export function configToYaml(config: TreasuryAgentConfig, comments: string[] = []): string {
  const header = comments.map((line) => `# ${line}`.trimEnd()).join('\n');
  const body = stringify(config, { lineWidth: 0 });
  return header ? `${header}\n${body}` : body;
}
