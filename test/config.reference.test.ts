import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../cli/cli.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { configFieldPaths } from '../config/reference.ts';

const root = join(import.meta.dirname, '..');

describe('config reference', () => {
  it("the README's config table lists exactly the schema's fields", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Config reference'), readme.indexOf('## Going live'));
    const documented = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    const schema = configFieldPaths();
    expect(schema.length).toBeGreaterThan(40);
    expect([...documented].sort()).toEqual([...schema].sort());
  });

  it('`treasury config schema` describes every field, at every depth', async () => {
    const lines: string[] = [];
    expect(await main(['config', 'schema'], { out: (l) => lines.push(l), err: (l) => lines.push(l) })).toBe(
      0,
    );
    type Node = {
      description?: string;
      properties?: Record<string, Node>;
      items?: Node;
      anyOf?: Node[];
      additionalProperties?: Node | boolean;
    };
    const schema = JSON.parse(lines.join('\n')) as Node;
    const described: string[] = [];
    const undescribed: string[] = [];
    const walk = (node: Node | undefined, path: string) => {
      if (!node) return;
      for (const option of node.anyOf ?? []) walk(option, path);
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        const at = path ? `${path}.${key}` : key;
        if (typeof child.description === 'string' && child.description.trim().length >= 10)
          described.push(at);
        else undescribed.push(at);
        walk(child, at);
      }
      walk(node.items, `${path}[]`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
    };
    walk(schema, '');
    expect(undescribed).toEqual([]);
    // every field of the reference table, and every section above them
    for (const field of configFieldPaths()) expect(described).toContain(field);
    for (const section of ['chain', 'safe', 'tokens', 'governance', 'observe', 'strategy.overlays'])
      expect(described).toContain(section);
  });

  it('both examples are valid configs', async () => {
    const devnet = await loadConfig(join(root, 'config/examples/devnet.yaml'));
    expect(devnet.devnet?.treasuryMixBps).toEqual({ GOV: 9000, USDC: 1000 });
    const mainnet = await loadConfig(join(root, 'config/examples/mainnet.yaml'));
    expect(mainnet.chain.id).toBe(1);
    expect(mainnet.mode).toBe('shadow');
    expect(mainnet.tokens.every((t) => t.address && t.feed)).toBe(true);
  });
});
