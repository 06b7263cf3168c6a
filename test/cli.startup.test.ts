import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/**
 * The packages a module loads when it is imported: its static imports and re-exports (not `import type`, not
 * `import()`), followed through the project's own files. Dynamic imports are where heavy packages belong.
 */
function staticPackages(entry: string): { packages: Set<string>; files: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    if (!file.endsWith('.ts')) return;
    const text = readFileSync(file, 'utf8');
    const statements = text.matchAll(/^(?:import|export)\s+(?!type\s)([^;]*?\s+from\s+)?'([^']+)'/gms);
    for (const [, clause, specifier] of statements) {
      if (!specifier || (clause && /^\{?\s*type\s[^,]*\}?\s+from\s+$/.test(clause.trim()))) continue;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else if (!specifier.startsWith('node:'))
        packages.add(
          specifier
            .split('/')
            .slice(0, specifier.startsWith('@') ? 2 : 1)
            .join('/'),
        );
    }
  };
  visit(join(ROOT, entry));
  return { packages, files };
}

describe('a fast start: `treasury once` loads only what the config uses', () => {
  it('imports no protocol-kit, snapshot.js, LangChain, api-kit or solc before they are needed', () => {
    // cli/agentCommands.ts holds `once`; the CLI's registry (cli/cli.ts) loads only the command that runs.
    const { packages, files } = staticPackages('cli/agentCommands.ts');
    expect(files.size).toBeGreaterThan(20); // the walk followed the imports
    expect(packages).toContain('viem');
    for (const heavy of [
      '@safe-global/protocol-kit', // executing: contracts/safeExecutor.ts imports it on first execution
      '@safe-global/api-kit', // co-signing through the Transaction Service
      '@snapshot-labs/snapshot.js', // signing and message ids: governance/snapshotClient.ts, on first use
      '@langchain/core',
      '@langchain/openai',
      '@langchain/anthropic',
      '@langchain/ollama',
      'solc',
      'pino', // the logs of run, hub and console: imported when a command logs (cli/logger.ts)
      'pino-pretty', // only on a terminal
    ])
      expect(packages, heavy).not.toContain(heavy);
  });

  it('the commands that log load pino when they start logging, not when they are imported', () => {
    for (const entry of ['cli/hubCommand.ts', 'cli/consoleCommand.ts', 'cli/logger.ts']) {
      const { packages } = staticPackages(entry);
      expect(packages, entry).not.toContain('pino');
      expect(packages, entry).not.toContain('pino-pretty');
    }
  });

  it('the registry itself imports no command', () => {
    const { files, packages } = staticPackages('cli/cli.ts');
    expect([...files].map((f) => f.slice(ROOT.length + 1)).sort()).toEqual([
      'agent/secrets.ts',
      'cli/cli.ts',
      'cli/command.ts',
      'config/nearMatch.ts',
      'shared/errors.ts',
    ]);
    expect([...packages]).toEqual([]);
  });
});
