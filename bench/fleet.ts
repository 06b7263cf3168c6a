/**
 * Many DAOs per instance (`npm run bench:fleet`): 100 DAOs on the devnet (one chain; a Safe, an agent key and a
 * Snapshot space each, one hub), every DAO in live mode with an empty ledger, so a tick observes, reads the
 * lookback from the feeds, decides, simulates, drafts, signs and posts for each.
 *
 * 1. Baseline, in the same run: `treasury once --config` for one DAO as its own process (what one DAO per process
 *    costs a tick).
 * 2. One process: `treasury once --configs DIR` over the 100 DAOs (SQLite ledgers): the tick (every DAO's cycle, as
 *    the process measures and prints it), the process's wall time, CPU and peak RSS, per-DAO figures.
 * 3. Two runners, `treasury run --configs DIR --queue URL`, over 100 fresh DAOs whose ledgers share one PostgreSQL
 *    (the test harness's throwaway server): one tick (a cron second both runners share) to every DAO posted; then
 *    members vote, time passes the vote and the delay, and a second tick executes. Figures: each tick's wall time,
 *    each runner's peak RSS and share of DAOs, and duplicated posts and executions (counted on the hub and on
 *    chain: must be 0).
 * 2b. The same on fresh DAOs with NODE_OPTIONS=--max-old-space-size=160, as README advises for a fleet.
 * CPU and RSS are each process's own `process.resourceUsage()` at exit (a preloaded module writes them).
 * Targets (issue 13): one tick of 100 DAOs under 10 s and under 300 MB.
 *
 *   npm run bench:fleet [-- --daos N]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { privateKeyToAccount } from 'viem/accounts';
import { type FleetStack, startFleetStack } from '../agent/fleetStack.ts';
import { type Ledger, ledgerLocationOf, openLedger } from '../agent/ledger.ts';
import { advanceWithHeartbeats } from '../agent/localStack.ts';
import { DEFAULT_DEVNET_CONFIG } from '../cli/devnetCommand.ts';
import { loadConfig } from '../config/loadConfig.ts';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { makePublicClient } from '../contracts/chainClients.ts';
import { readSafeState } from '../contracts/treasuryReads.ts';
import { chainClock } from '../governance/clock.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { USAGE_PRELOAD } from './processUsage.ts';

const { values } = parseArgs({ options: { daos: { type: 'string' } }, strict: true });
const DAOS = Number(values.daos ?? 100);
const TARGET_S = 10;
const TARGET_MB = 300;
/** What README advises a fleet to run Node with (see 2b). */
const FLEET_NODE_OPTIONS = '--max-old-space-size=160';
const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');
const STAKES = [3_000_000, 2_000_000, 1_500_000, 400_000];
const dir = mkdtempSync(join(tmpdir(), 'bench-fleet-'));

const PRELOAD = USAGE_PRELOAD;

type Usage = { cpuS: number; rssMB: number };
type Proc = {
  child: ChildProcess;
  output: () => string;
  done: Promise<{ code: number | null; usage: Usage }>;
};

function start(args: string[], env: Record<string, string>, name: string): Proc {
  const usageFile = join(dir, `usage-${name}.json`);
  rmSync(usageFile, { force: true });
  const child = spawn(process.execPath, ['--import', PRELOAD, CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, BENCH_USAGE_FILE: usageFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d) => {
    text += d;
  });
  child.stderr!.on('data', (d) => {
    text += d;
  });
  const done = new Promise<{ code: number | null; usage: Usage }>((resolve) =>
    child.on('exit', (code) => {
      const u = JSON.parse(readFileSync(usageFile, 'utf8')) as { user: number; sys: number; rss: number };
      resolve({ code, usage: { cpuS: (u.user + u.sys) / 1e6, rssMB: (u.rss * 1024) / 1e6 } });
    }),
  );
  return { child, output: () => text, done };
}

async function timed(args: string[], env: Record<string, string>, name: string) {
  const started = performance.now();
  const proc = start(args, env, name);
  const { code, usage } = await proc.done;
  return { code, usage, wallS: (performance.now() - started) / 1000, output: proc.output() };
}

const mb = (x: number) => `${x.toFixed(0)} MB`;
const s = (x: number) => `${x.toFixed(2)} s`;

/** Small treasuries, so 100 DAOs selling into the same devnet pools move them by about 1% in all. */
const edit = (config: TreasuryAgentConfig): TreasuryAgentConfig => ({
  ...config,
  mode: 'live',
  guardrails: { ...config.guardrails, minTradeUsd: 1000 },
});

const base = await loadConfig(DEFAULT_DEVNET_CONFIG);

/** DAOS fresh DAOs on a new devnet, their configs written to `<dir>/daos-<name>`. */
async function freshDaos(name: string, editConfig = edit): Promise<{ fresh: FleetStack; configs: string }> {
  const fresh = await startFleetStack({
    base,
    count: DAOS,
    stateDir: join(dir, `state-${name}`),
    memberStakes: STAKES,
    treasuryUsd: 50_000,
    edit: editConfig,
  });
  const configs = join(dir, `daos-${name}`);
  mkdirSync(configs);
  fresh.writeConfigs(configs);
  return { fresh, configs };
}

/**
 * The last line of `once --configs` (`N DAOs: … ran, 0 skipped, 0 failed; tick T s`) and its tick: the tick as
 * `treasury run --configs` has it each time its schedule fires, every DAO's cycle from the first start to the last
 * end. The process wall adds starting Node, loading the modules and the configs, and exiting: paid once by a
 * runner, not per tick. A tick where a DAO failed stops the bench.
 */
function tickOf(run: { output: string }, what: string): { summary: string; tickS: number } {
  const summary = run.output.trim().split('\n').at(-1) ?? '';
  if (!/ran, 0 skipped, 0 failed/.test(summary)) throw new Error(`${what} failed:\n${run.output}`);
  return { summary, tickS: Number(/tick ([\d.]+) s$/.exec(summary)?.[1] ?? Number.NaN) };
}
console.log(
  `node ${process.version}; ${DAOS} DAOs; building the devnet (one chain, ${DAOS} Safes, ${DAOS} spaces)…`,
);
let stack: FleetStack | undefined;
let stack2: FleetStack | undefined;
const pg = await startPostgres();
const runners: Proc[] = [];
const ledgers: Ledger[] = [];
try {
  const { fresh, configs } = await freshDaos('one');
  stack = fresh;

  // 1. Baseline: one DAO, one process.
  const single = await timed(
    ['once', '--config', join(configs, `${stack.daos[0]!.name}.yaml`)],
    stack.env,
    'single',
  );
  if (single.code !== 0 || !/proposal posted/.test(single.output))
    throw new Error(`the baseline once failed (exit ${single.code}):\n${single.output}`);
  console.log(
    `baseline, one DAO per process (treasury once --config): wall ${s(single.wallS)}, CPU ${s(single.usage.cpuS)}, peak RSS ${mb(single.usage.rssMB)}`,
  );
  console.log(
    `  ${DAOS} DAOs that way would be ${DAOS} processes: about ${mb(single.usage.rssMB * DAOS)} and ${s(single.usage.cpuS * DAOS)} of CPU a tick`,
  );

  // 2. One process, every DAO (the first DAO already posted in the baseline: its tick only watches the vote).
  const fleetRun = await timed(['once', '--configs', configs], stack.env, 'fleet');
  const { summary, tickS } = tickOf(fleetRun, 'the fleet tick');
  const postedOne = (fleetRun.output.match(/proposal posted/g) ?? []).length;
  console.log(
    `one process, ${DAOS} DAOs (treasury once --configs): tick ${s(tickS)}, process wall ${s(fleetRun.wallS)}, CPU ${s(fleetRun.usage.cpuS)}, peak RSS ${mb(fleetRun.usage.rssMB)}; ${postedOne} proposals posted; ${summary}`,
  );
  const marginal = (fleet: number, one: number) => (fleet - one) / Math.max(1, DAOS - 1);
  console.log(
    `  per DAO: ${((tickS * 1000) / DAOS).toFixed(0)} ms of the tick, ${((fleetRun.usage.cpuS * 1000) / DAOS).toFixed(0)} ms CPU, ${(fleetRun.usage.rssMB / DAOS).toFixed(2)} MB RSS on average; each DAO beyond the first adds ${(marginal(fleetRun.wallS, single.wallS) * 1000).toFixed(0)} ms wall, ${(marginal(fleetRun.usage.cpuS, single.usage.cpuS) * 1000).toFixed(0)} ms CPU and ${marginal(fleetRun.usage.rssMB, single.usage.rssMB).toFixed(2)} MB`,
  );
  await stack.stop();
  stack = undefined;

  // 2b. The same tick on fresh DAOs with V8's old generation capped as README advises for a fleet: by default V8
  // lets garbage pile up while memory is free (the live heap after a collection stays near 60 MB), which is most
  // of the RSS above one DAO's.
  const cappedDaos = await freshDaos('capped');
  stack = cappedDaos.fresh;
  const capped = await timed(
    ['once', '--configs', cappedDaos.configs],
    { ...stack.env, NODE_OPTIONS: FLEET_NODE_OPTIONS },
    'capped',
  );
  const { summary: cappedSummary, tickS: cappedTickS } = tickOf(capped, 'the capped fleet tick');
  console.log(
    `one process, ${DAOS} fresh DAOs, NODE_OPTIONS=${FLEET_NODE_OPTIONS}: tick ${s(cappedTickS)}, process wall ${s(capped.wallS)}, CPU ${s(capped.usage.cpuS)}, peak RSS ${mb(capped.usage.rssMB)}; ${cappedSummary}`,
  );
  await stack.stop();
  stack = undefined;

  // 3. Two runners over fresh DAOs with PostgreSQL ledgers, sharing ticks through pg-boss.
  const tickSecond = () => {
    const at = new Date(Date.now() + 20_000);
    at.setUTCMilliseconds(0);
    return at;
  };
  const queued = await freshDaos('queue', (config) => ({
    ...edit(config),
    state: { ...config.state, ledgerUrl: pg.url },
  }));
  stack2 = queued.fresh;
  const configs2 = queued.configs;
  const setCron = (at: Date) => {
    for (const dao of stack2!.daos) {
      dao.config = {
        ...dao.config,
        schedule: {
          ...dao.config.schedule,
          cron: `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} * * *`,
        },
      };
    }
    stack2!.writeConfigs(configs2);
  };
  for (const dao of stack2.daos) ledgers.push(await openLedger(ledgerLocationOf(dao.config, pg.password)));
  const allRows = () => Promise.all(ledgers.map((l) => l.all()));
  const env = { ...stack2.env, PGPASSWORD: pg.password };
  const tick = async (label: string, done: () => Promise<boolean>) => {
    const at = tickSecond();
    setCron(at);
    const pair = [0, 1].map((i) =>
      start(['run', '--configs', configs2, '--queue', pg.url], env, `runner${i}-${label}`),
    );
    runners.push(...pair);
    while (!(await done())) {
      for (const r of pair) if (r.child.exitCode !== null) throw new Error(`a runner exited:\n${r.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const wallS = (Date.now() - at.getTime()) / 1000;
    for (const r of pair) r.child.kill('SIGTERM');
    const results = await Promise.all(pair.map((r) => r.done));
    const shares = pair.map((r) => new Set(r.output().match(/\[dao\d+\]/g) ?? []).size);
    const skipped = pair.map((r) => (r.output().match(/tick skipped: another runner/g) ?? []).length);
    return { wallS, results, shares, skipped, outputs: pair.map((r) => r.output()) };
  };

  const posting = await tick('post', async () => (await allRows()).every((r) => r.some((p) => p.proposalId)));
  const hub = createSnapshotClient({
    hubUrl: stack2.hub.url,
    account: privateKeyToAccount(stack2.members[3]!.key),
  });
  let duplicatedPosts = 0;
  for (const dao of stack2.daos)
    duplicatedPosts += Math.max(
      0,
      (await hub.listProposals(dao.config.governance.space, { state: 'all' })).length - 1,
    );
  const report = (label: string, t: Awaited<ReturnType<typeof tick>>) =>
    console.log(
      `two runners on PostgreSQL, ${label}: tick wall ${s(t.wallS)} (from the scheduled second to the last DAO done); peak RSS ${t.results.map((r) => mb(r.usage.rssMB)).join(' and ')}; CPU ${t.results.map((r) => s(r.usage.cpuS)).join(' and ')}; DAOs run per runner ${t.shares.join(' and ')}; ticks found held by the other ${t.skipped.join(' and ')}; per DAO ${((t.wallS * 1000) / DAOS).toFixed(0)} ms wall`,
    );
  report('posting tick', posting);

  // Every proposal passes: two members vote For on each; time passes the vote and the execution delay.
  const clock = chainClock(stack2.devnet.anvil.rpcUrl);
  const voters = [0, 1].map((m) =>
    createSnapshotClient({
      hubUrl: stack2!.hub.url,
      account: privateKeyToAccount(stack2!.members[m]!.key),
      clock,
    }),
  );
  const rows = await allRows();
  for (const [i, dao] of stack2.daos.entries())
    for (const voter of voters)
      await voter.vote({ space: dao.config.governance.space, proposal: rows[i]![0]!.proposalId!, choice: 1 });
  const g = stack2.daos[0]!.config.governance;
  await advanceWithHeartbeats(stack2, g.votingPeriodSeconds + g.executionDelaySeconds + 600);
  const finished = new Set(['executed', 'expired', 'failed', 'rejected']);
  // A DAO is done with this tick when its proposal ended, or waits for the price policy: still `passed` (refused
  // by the simulation) or `executing` with a recorded wait (refused as it was sent, other DAOs' swaps having moved
  // the pool in between).
  const waitingAfterSend = async (ledger: Ledger, row: { key: string; state: string }) =>
    row.state === 'executing' && (await ledger.getState(`waiting:${row.key}`)) !== undefined;
  const executing = await tick('execute', async () => {
    const rows = await allRows();
    for (const [i, daoRows] of rows.entries())
      for (const row of daoRows)
        if (
          !(finished.has(row.state) || row.state === 'passed' || (await waitingAfterSend(ledgers[i]!, row)))
        )
          return false;
    return true;
  });
  const client = makePublicClient(31337, stack2.devnet.anvil.rpcUrl);
  let executed = 0;
  let duplicatedExecutions = 0;
  const states = new Map<string, number>();
  const waits = new Map<string, number>();
  for (const [i, dao] of stack2.daos.entries()) {
    const [row] = await ledgers[i]!.all();
    states.set(row!.state, (states.get(row!.state) ?? 0) + 1);
    const waiting = await ledgers[i]!.getState(`waiting:${row!.key}`);
    const why0 =
      row!.state === 'passed' || row!.state === 'executing'
        ? waiting
        : ['failed', 'expired'].includes(row!.state)
          ? `${row!.state}: ${row!.reason}`
          : undefined;
    if (why0) {
      const why = why0
        .replace(/0x[0-9a-fA-F]+/g, '0x…')
        .replace(/[\d.,]+/g, 'N')
        .slice(0, 140);
      waits.set(why, (waits.get(why) ?? 0) + 1);
    }
    const nonce = (await readSafeState(client, { safe: dao.config.safe.address! })).nonce;
    if (row!.state === 'executed') executed++;
    duplicatedExecutions += Math.max(0, Number(nonce) - 1);
  }
  report('execution tick', executing);
  console.log(
    `  after the execution tick: ${[...states].map(([k, v]) => `${v} ${k}`).join(', ')} (passed, executing = waiting for the next tick)`,
  );
  for (const [why, n] of waits) console.log(`    ${n}: ${why}`);
  const worstRss = Math.max(fleetRun.usage.rssMB, ...posting.results.map((r) => r.usage.rssMB));
  console.log(
    `targets: one tick of ${DAOS} DAOs in one process < ${TARGET_S} s → ${tickS < TARGET_S ? 'met' : 'NOT met'} (${s(tickS)}; the whole process ${s(fleetRun.wallS)}); < ${TARGET_MB} MB → ${fleetRun.usage.rssMB < TARGET_MB ? 'met' : 'NOT met'} with Node's defaults (${mb(fleetRun.usage.rssMB)}), ${capped.usage.rssMB < TARGET_MB ? 'met' : 'NOT met'} with ${FLEET_NODE_OPTIONS} (${mb(capped.usage.rssMB)}, tick ${s(cappedTickS)})`,
  );
  console.log(
    `RESULT one process: tick ${s(tickS)} (process ${s(fleetRun.wallS)}), peak RSS ${mb(fleetRun.usage.rssMB)}, per DAO ${((tickS * 1000) / DAOS).toFixed(0)} ms and ${(fleetRun.usage.rssMB / DAOS).toFixed(2)} MB; with ${FLEET_NODE_OPTIONS}: tick ${s(cappedTickS)}, peak RSS ${mb(capped.usage.rssMB)} | two runners on PostgreSQL: posting tick ${s(posting.wallS)}, execution tick ${s(executing.wallS)}, peak RSS ${posting.results.map((r) => mb(r.usage.rssMB)).join('/')}, ${executed} executed; duplicated posts ${duplicatedPosts}, duplicated executions ${duplicatedExecutions} | baseline one DAO per process ${s(single.wallS)}, ${mb(single.usage.rssMB)}; worst RSS ${mb(worstRss)}`,
  );
} finally {
  for (const r of runners) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  await Promise.all(ledgers.map((l) => l.close()));
  await stack?.stop();
  await stack2?.stop();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
