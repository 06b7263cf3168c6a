// The CLI's TypeScript sources bundled into JavaScript on first use, and again whenever a source changes.
//
// Why: under tsx, every module (ours and every ESM dependency's) goes through Node's loader hooks, which on
// Node 20 run on another thread with a round trip per resolve and per load. viem alone is ~400 modules, so
// `treasury once` spent more CPU in the hooks than in its work. The bundle holds our files in a few chunks
// (each command still a lazy chunk, each `import()` still lazy) and loads the other packages with no hooks.
//
// How: esbuild bundles cli/cli.ts. In each of our files `import.meta.url` (and dirname, filename) is replaced
// by that source file's own, so paths relative to a source (data/, artifacts, createRequire, worker files)
// resolve as they do from the sources. The build goes to .cache/cli/<key>/ in the project, keyed by the content
// of every file that went into it (plus this file and the project's path); a start reads those files again and
// runs the build whose key matches, or builds (about a second). Nothing is built by `npm ci` or `npm test`.
//
// The build runs in a child process whose environment holds only what esbuild needs (ENV_FOR_BUILD): the agent's
// keys stay in this process and never reach esbuild's service process.
//
// Anything unusual (no esbuild, a read-only checkout, a failed build) returns undefined and the caller runs the
// sources through tsx, as before. TREASURY_TSX=1 forces that; TREASURY_DEBUG=1 says why the build was not used.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * A running command loads chunks of its build until it exits (a lazy `import()` may come days later in `treasury
 * run`), so older builds are removed only beyond the newest KEEP and once a day old. Never delete .cache/cli/
 * under a running agent.
 */
const KEEP = 4;
const KEEP_MS = 24 * 3_600_000;

/**
 * Bundled rather than loaded from node_modules: viem and the pure-ESM libraries it is made of. As files they are
 * ~500 modules; bundled, only what the CLI uses. Every other package stays external (protocol-kit, snapshot.js,
 * LangChain and zod keep one module instance, shared with whatever else loads them). No object of the bundled
 * viem crosses into an external package: protocol-kit gets keys and a `request` function, snapshot.js a signing
 * function.
 */
const INLINE = /^(viem|ox|abitype|@noble\/[^/]+|@scure\/[^/]+)(\/|$)/;

const slash = (path) => path.split(sep).join('/');

/** The build's key: the content of its inputs, the build options (this file) and where the sources are. */
function keyOf(root, inputs) {
  const hash = createHash('sha256');
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  hash.update(`\0${root}`);
  for (const [path, content] of inputs) hash.update(`\0${path}\0`).update(content);
  return hash.digest('hex').slice(0, 20);
}

/** The entry of the build made from the sources as they are now, if there is one. */
function currentBuild(root, cache) {
  let paths;
  try {
    paths = JSON.parse(readFileSync(join(cache, 'manifest.json'), 'utf8')).inputs;
  } catch {
    return undefined;
  }
  const inputs = [];
  for (const path of paths) {
    try {
      inputs.push([path, readFileSync(join(root, path))]);
    } catch {
      return undefined; // a source was removed or renamed: build again
    }
  }
  const entry = join(cache, keyOf(root, inputs), 'cli.js');
  return existsSync(entry) ? entry : undefined;
}

/**
 * esbuild plugin: every bare import is external but INLINE ones; each file read goes into `inputs` (the build's
 * key): our files by content, a bundled package by its package.json. Our files get their own import.meta.
 */
function inputsPlugin(root, inputs) {
  const loaders = { ts: 'ts', mts: 'ts', js: 'js', mjs: 'js', json: 'json' };
  const nodeModules = `${sep}node_modules${sep}`;
  return {
    name: 'treasury-inputs',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) =>
        INLINE.test(args.path) ? undefined : { path: args.path, external: true },
      );
      build.onLoad({ filter: /\.(ts|mts|js|mjs|cjs|json)$/ }, (args) => {
        const at = args.path.lastIndexOf(nodeModules);
        if (at >= 0) {
          const start = at + nodeModules.length;
          const name = args.path
            .slice(start)
            .split(sep)
            .slice(0, args.path[start] === '@' ? 2 : 1);
          const manifest = join(args.path.slice(0, start), ...name, 'package.json');
          const path = slash(relative(root, manifest));
          if (!inputs.has(path)) inputs.set(path, readFileSync(manifest));
          return undefined;
        }
        const content = readFileSync(args.path);
        inputs.set(slash(relative(root, args.path)), content);
        const loader = loaders[args.path.slice(args.path.lastIndexOf('.') + 1)] ?? 'js';
        if (loader === 'json') return { contents: content, loader };
        const meta = { url: pathToFileURL(args.path).href, dirname: dirname(args.path), filename: args.path };
        const contents = content
          .toString('utf8')
          .replace(/\bimport\.meta\.(url|dirname|filename)\b/g, (_, key) => JSON.stringify(meta[key]));
        return { contents, loader };
      });
    },
  };
}

async function build(root, entry, cache) {
  const esbuild = await import('esbuild');
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(cache, 'tmp-'));
  const inputs = new Map();
  try {
    await esbuild.build({
      absWorkingDir: root,
      entryPoints: { cli: entry },
      outdir: tmp,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      keepNames: true,
      sourcemap: 'linked',
      sourcesContent: false,
      logLevel: 'silent',
      plugins: [inputsPlugin(root, inputs)],
    });
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  const sorted = [...inputs].sort(([a], [b]) => (a < b ? -1 : 1));
  const key = keyOf(root, sorted);
  const dir = join(cache, key);
  try {
    renameSync(tmp, dir);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true }); // another process made the same build first
    if (!existsSync(join(dir, 'cli.js'))) throw error;
  }
  const manifest = join(cache, `manifest.${process.pid}.json`);
  writeFileSync(manifest, `${JSON.stringify({ entry, inputs: sorted.map(([path]) => path) })}\n`);
  renameSync(manifest, join(cache, 'manifest.json'));
  prune(cache, key);
  return join(dir, 'cli.js');
}

/** Removes the builds beyond the newest KEEP that are over a day old, and what crashed builds left (an hour). */
function prune(cache, current) {
  const entries = readdirSync(cache, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== current)
    .map((e) => ({ path: join(cache, e.name), tmp: e.name.startsWith('tmp-') }))
    .map((e) => ({ ...e, at: statSync(e.path, { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => b.at - a.at);
  const old = entries
    .filter((e) => !e.tmp)
    .slice(KEEP)
    .filter((e) => Date.now() - e.at > KEEP_MS);
  const crashed = entries.filter((e) => e.tmp && Date.now() - e.at > 3_600_000);
  for (const { path } of [...old, ...crashed]) rmSync(path, { recursive: true, force: true });
}

/** What the build process gets of the environment: where programs and temporary files are, nothing else. */
const ENV_FOR_BUILD = ['PATH', 'HOME', 'TMPDIR', 'TEMP', 'TMP', 'SYSTEMROOT', 'ESBUILD_BINARY_PATH'];

/** Builds in a child process with ENV_FOR_BUILD only; resolves to the built entry's path. */
function buildInChild(root, entry, cache, env) {
  const childEnv = {};
  for (const name of ENV_FOR_BUILD) if (env[name] !== undefined) childEnv[name] = env[name];
  const args = [fileURLToPath(import.meta.url), '--build', root, entry, cache];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { env: childEnv, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`the CLI build failed: ${stderr.trim() || error.message}`));
      else resolve(stdout.trim());
    });
  });
}

/**
 * The file URL of the bundled CLI (it exports `main`), built if the sources changed since the last build; or
 * undefined, to run the sources through tsx.
 */
export async function prebuiltCli(options = {}) {
  const { root = PROJECT_ROOT, entry = 'cli/cli.ts', env = process.env } = options;
  if (env.TREASURY_TSX === '1') return undefined;
  const cache = join(root, '.cache', 'cli');
  try {
    const built = currentBuild(root, cache) ?? (await buildInChild(root, entry, cache, env));
    return pathToFileURL(built).href;
  } catch (error) {
    if (env.TREASURY_DEBUG)
      process.stderr.write(`the bundled CLI is not used (running through tsx): ${error}\n`);
    return undefined;
  }
}

if (process.argv[2] === '--build' && process.argv[1] === fileURLToPath(import.meta.url)) {
  const [root, entry, cache] = process.argv.slice(3);
  process.stdout.write(`${await build(root, entry, cache)}\n`);
}
