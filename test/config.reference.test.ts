import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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

  it('both examples are valid configs', async () => {
    const devnet = await loadConfig(join(root, 'config/examples/devnet.yaml'));
    expect(devnet.devnet?.treasuryMixBps).toEqual({ GOV: 9000, USDC: 1000 });
    const mainnet = await loadConfig(join(root, 'config/examples/mainnet.yaml'));
    expect(mainnet.chain.id).toBe(1);
    expect(mainnet.mode).toBe('shadow');
    expect(mainnet.tokens.every((t) => t.address && t.feed)).toBe(true);
  });
});
