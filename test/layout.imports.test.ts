import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/** The libraries: any of them may import another and shared/, none the agent or the CLI. */
const LIBRARIES = ['strategies', 'contracts', 'governance', 'config', 'shared'];
/** What wires the libraries together: agent/ imports libraries, cli/ imports both. */
const WIRING = ['agent', 'cli'];

const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
const TEST = /\.test\.(ts|tsx)$/;

const rel = (file: string) => relative(ROOT, file).split(sep).join('/');

function sourcesUnder(folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'build') walk(path);
      } else if (SOURCE.test(entry.name) && !TEST.test(entry.name)) found.push(path);
    }
  };
  walk(join(ROOT, folder));
  return found;
}

/**
 * Every relative module a file names: static imports and re-exports (`import type` too: a type from the agent is
 * still a dependency on it), side-effect imports, `import()`, `require()`, `import.meta.resolve()` and
 * `new URL('./x', import.meta.url)` (workers, files beside the source), resolved to absolute paths.
 */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const patterns = [
    /\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]/g,
    /\bimport\.meta\.resolve\s*\(\s*['"]([^'"]+)['"]/g,
    /\bnew\s+URL\s*\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url/g,
  ];
  const found = new Set<string>();
  for (const pattern of patterns)
    for (const [, specifier] of text.matchAll(pattern))
      if (specifier?.startsWith('.')) found.add(resolve(dirname(file), specifier));
  return [...found];
}

const within = (file: string, folders: readonly string[]) =>
  folders.some((f) => rel(file).startsWith(`${f}/`));

/**
 * Follows every import from `start` through the project's own files (whatever folder they are in) and returns
 * the chains that reach a file in one of `forbidden`: `['strategies/x.ts', 'console/y.ts', 'agent/z.ts']`.
 */
function chainsInto(start: readonly string[], forbidden: readonly string[]): string[][] {
  const chains: string[][] = [];
  const seen = new Set<string>();
  const visit = (file: string, path: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const target of relativeImports(file)) {
      const chain = [...path, rel(target)];
      if (within(target, forbidden)) chains.push(chain);
      else if (SOURCE.test(target) && existsSync(target) && statSync(target).isFile()) visit(target, chain);
    }
  };
  for (const file of start) visit(file, [rel(file)]);
  return chains;
}

describe('the layout: libraries never depend on the agent or the CLI', () => {
  const libraries = LIBRARIES.flatMap(sourcesUnder);

  it('no import of a library source, followed through any file, reaches agent/ or cli/', () => {
    expect(libraries.length).toBeGreaterThan(60); // the walk found the libraries
    const chains = chainsInto(libraries, WIRING).map((chain) => chain.join(' → '));
    expect(chains, 'move what a library needs into shared/ or the library; wiring goes in cli/').toEqual([]);
  });

  it('the check sees imports: the CLI does reach the agent, and the agent the libraries', () => {
    const fromCli = chainsInto(sourcesUnder('cli'), ['agent']);
    expect(fromCli.length).toBeGreaterThan(0);
    // dynamic imports are followed too: the registry loads its commands with import()
    expect(relativeImports(join(ROOT, 'cli/cli.ts')).map(rel)).toContain('cli/agentCommands.ts');
    expect(chainsInto(sourcesUnder('agent'), LIBRARIES).length).toBeGreaterThan(0);
  });

  it('the agent does not depend on the CLI', () => {
    expect(chainsInto(sourcesUnder('agent'), ['cli']).map((chain) => chain.join(' → '))).toEqual([]);
  });

  it('every command module lives in cli/', () => {
    const commandFiles = [...LIBRARIES, 'agent', 'console']
      .flatMap(sourcesUnder)
      .map(rel)
      .filter((file) => /Commands?\.tsx?$|(^|\/)cli\.ts$/.test(file));
    expect(commandFiles).toEqual([]);
  });
});
