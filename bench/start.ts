/**
 * Start-up cost of `treasury once` (`npm run bench:start`): one full shadow-mode cycle on the devnet (observe →
 * decide → draft, nothing posted or executed) as its own process, against `node -e 0` in the same run, in turn.
 * Target: under 1.5 s of CPU (user + sys) per `once`. The same `once` with TREASURY_TSX=1 (the sources through
 * tsx's loader hooks instead of the bundle bin/prebuiltCli.js builds) shows what the bundle saves.
 *
 * anvil runs in the background with the devnet deployed; each run of `once` starts from an empty ledger and
 * audit log, so every run does the whole cycle (a second run would otherwise stop at the cadence check).
 * CPU is the child's own `process.resourceUsage()` (getrusage of the whole process, every thread) taken at its
 * `exit` event by a module preloaded with `--import`, the same preload for every command; wall time is from
 * spawn to the child's exit, as the parent sees it; peak RSS from the same resource usage.
 *
 *   npm run bench:start [-- --runs N]      (BENCH_RUNS=N also works; default 7, after one warm-up)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DEVNET_CONFIG } from '../cli/devnetCommand.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { devAccount, devPrivateKey } from '../contracts/devAccounts.ts';
import { startDevnet } from '../contracts/localDevnet.ts';
import { USAGE_PRELOAD } from './processUsage.ts';

const { values } = parseArgs({ options: { runs: { type: 'string' } }, strict: true });
const RUNS = Number(values.runs ?? process.env.BENCH_RUNS ?? 7);
const TARGET_CPU_S = 1.5;
const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');

const dir = mkdtempSync(join(tmpdir(), 'bench-start-'));
const usageFile = join(dir, 'usage.json');
const PRELOAD = USAGE_PRELOAD;

type Sample = { cpu: number; user: number; sys: number; wall: number; rssMiB: number };

function run(args: string[], env: NodeJS.ProcessEnv): Promise<Sample & { code: number; output: string }> {
  rmSync(usageFile, { force: true });
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', PRELOAD, ...args], {
      env: { ...env, BENCH_USAGE_FILE: usageFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      try {
        const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as {
          user: number;
          sys: number;
          rss: number;
        };
        const user = usage.user / 1e6;
        const sys = usage.sys / 1e6;
        resolve({ cpu: user + sys, user, sys, wall, rssMiB: usage.rss / 1024, code: code ?? -1, output });
      } catch (error) {
        reject(
          new Error(`no resource usage from \`${args.join(' ')}\` (exit ${code}): ${output}`, {
            cause: error,
          }),
        );
      }
    });
  });
}

const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
};
const fmt = (xs: number[], unit: string) => {
  const s = stats(xs);
  const digits = unit === 's' ? 3 : 0;
  return `${s.median.toFixed(digits)} ${unit} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
};

const base = await loadConfig(DEFAULT_DEVNET_CONFIG);
const devnet = await startDevnet({ config: base });
try {
  const state = { ledgerPath: join(dir, 'ledger.db'), auditLogPath: join(dir, 'audit.jsonl') };
  const configPath = join(dir, 'shadow.json');
  writeFileSync(configPath, JSON.stringify({ ...devnet.config, mode: 'shadow', state }, null, 2));
  const agentIndex = [...Array(12).keys()].find((i) => devAccount(i).address === base.safe.agent);
  if (agentIndex === undefined) throw new Error('safe.agent is not an anvil development account');
  const env = { ...process.env, TREASURY_AGENT_KEY: devPrivateKey(agentIndex) };
  const once = async (extraEnv: Record<string, string> = {}) => {
    for (const path of [
      state.ledgerPath,
      `${state.ledgerPath}-wal`,
      `${state.ledgerPath}-shm`,
      state.auditLogPath,
    ])
      rmSync(path, { force: true });
    const result = await run([CLI, 'once', '--config', configPath], { ...env, ...extraEnv });
    if (result.code !== 0 || !/shadow mode: drafted|nothing to propose/.test(result.output))
      throw new Error(`treasury once failed (exit ${result.code}):\n${result.output}`);
    return result;
  };
  const commands: [string, () => Promise<Sample>][] = [
    ['treasury once', () => once()],
    ['once via tsx', () => once({ TREASURY_TSX: '1' })],
    ['node -e 0', () => run(['-e', '0'], env)],
  ];

  // Warm-up: builds the bundle if the sources changed, fills the file system cache; shows what a run does.
  const first = await once();
  for (const [, command] of commands.slice(1)) await command();
  console.log(`node ${process.version}, ${RUNS} runs each after one warm-up, in turn; a run of once prints:`);
  for (const line of first.output.trim().split('\n')) console.log(`  | ${line}`);
  const samples: Sample[][] = commands.map(() => []);
  for (let i = 0; i < RUNS; i++)
    for (const [c, [, command]] of commands.entries()) samples[c]!.push(await command());

  const rows: [string, (s: Sample) => number, string][] = [
    ['cpu (user+sys)', (s) => s.cpu, 's'],
    ['  user', (s) => s.user, 's'],
    ['  sys', (s) => s.sys, 's'],
    ['wall', (s) => s.wall, 's'],
    ['peak RSS', (s) => s.rssMiB, 'MiB'],
  ];
  const width = 34;
  console.log(`${'median (min–max)'.padEnd(18)}${commands.map(([name]) => name.padEnd(width)).join('')}`);
  for (const [label, pick, unit] of rows)
    console.log(`${label.padEnd(18)}${samples.map((xs) => fmt(xs.map(pick), unit).padEnd(width)).join('')}`);
  const [bundled, tsx, empty] = samples as [Sample[], Sample[], Sample[]];
  const cpu = stats(bundled.map((s) => s.cpu)).median;
  const pairwise = (xs: Sample[]) => stats(xs.map((s, i) => s.cpu - empty[i]!.cpu)).median;
  console.log(
    `CPU over node -e 0, pair by pair (median): once ${pairwise(bundled).toFixed(3)} s, via tsx ${pairwise(tsx).toFixed(3)} s`,
  );
  console.log(
    `target: treasury once < ${TARGET_CPU_S} s CPU → ${cpu < TARGET_CPU_S ? 'met' : 'NOT met'} (${cpu.toFixed(3)} s)`,
  );
} finally {
  await devnet.stop();
  rmSync(dir, { recursive: true, force: true });
}
