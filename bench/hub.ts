/**
 * Benchmark of the local hub on loopback (`npm run bench:hub`):
 *  1. votes accepted per second: 10,000 votes from 10,000 holders, signed beforehand with snapshot.js Client712
 *     (signing is the voters' cost, not the hub's), sent with bounded concurrency;
 *  2. GraphQL latency (p50/p99) on the proposal that now has 10,000 votes.
 * Target: ≥ 500 votes/s and p99 < 50 ms. Real anvil, real SQLite file, real JSON-RPC balance reads.
 * The load generator and the GraphQL readers run in another process (bench/hubClientProcess.ts, forked), so the
 * hub's process (its event loop and signature workers) does only the hub's work, and its CPU time is the hub's.
 * Voter balances are written with anvil_setStorageAt (TestToken's balanceOf is slot 4) to avoid 10,000 mint
 * transactions; each one is read back once to check.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeAbiParameters, keccak256, numberToHex, parseUnits, toHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { manualClock } from '../governance/clock.ts';
import { startHub } from '../governance/hub/server.ts';
import { createSnapshotClient, viemTypedDataSigner } from '../governance/snapshotClient.ts';
import { Client712 } from '../governance/snapshotProtocol.ts';
import { devSpace, startGovernanceChain } from '../governance/testing.ts';
import type { ClientReply, ClientRequest } from './hubClientProcess.ts';

const VOTES = Number(process.env.BENCH_VOTES ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 400);
const WORKERS = process.env.BENCH_WORKERS === undefined ? undefined : Number(process.env.BENCH_WORKERS);
const BALANCE_SLOT = 4n;

/** The client process (load generator and GraphQL readers), forked through the TypeScript runner. */
function startClients(): {
  ask: <T extends ClientReply['type']>(
    request: ClientRequest,
    type: T,
  ) => Promise<Extract<ClientReply, { type: T }>>;
  stop: () => Promise<void>;
  pid: number | undefined;
} {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('../bin/run-ts.js', import.meta.url)),
    [fileURLToPath(new URL('./hubClientProcess.ts', import.meta.url))],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid,
    ask: (request, type) =>
      new Promise((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`the client process exited (${code})`));
        child.once('exit', onExit);
        child.once('message', (message: ClientReply) => {
          child.off('exit', onExit);
          if (message.type === type) resolve(message as Extract<ClientReply, { type: typeof type }>);
          else reject(new Error(message.type === 'error' ? message.message : `unexpected ${message.type}`));
        });
        child.send(request);
      }),
    stop: async () => {
      if (child.connected) child.send({ type: 'exit' } satisfies ClientRequest);
      const timer = setTimeout(() => child.kill(), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

class CapturingClient extends Client712 {
  override async send(envelope: unknown) {
    return envelope;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function main() {
  const chain = await startGovernanceChain({ accounts: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'bench-hub-'));
  const clock = manualClock(Math.floor(Date.now() / 1000));
  const hub = await startHub({
    spaces: [devSpace(chain, { voting: { delay: 60, period: 86_400, type: 'basic', quorum: 0 } })],
    rpcUrl: chain.anvil.rpcUrl,
    dbPath: join(dir, 'hub.db'),
    clock,
    workers: WORKERS,
  });
  const clients = startClients();
  try {
    // Holders: deterministic keys, balances written straight into the token's storage.
    const voters = Array.from({ length: VOTES }, (_, i) =>
      privateKeyToAccount(keccak256(toHex(`bench-voter-${i}`))),
    );
    const rpc = (method: string, params: unknown[]) =>
      chain.publicClient.request({ method, params } as never);
    const t0 = performance.now();
    for (let i = 0; i < voters.length; i += 500) {
      await Promise.all(
        voters.slice(i, i + 500).map((voter, j) => {
          const slot = keccak256(
            encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [voter.address, BALANCE_SLOT]),
          );
          const amount = parseUnits(String(1 + ((i + j) % 100)), chain.decimals);
          return rpc('anvil_setStorageAt', [chain.token, slot, numberToHex(amount, { size: 32 })]);
        }),
      );
    }
    await rpc('evm_mine', []);
    const snapshot = await chain.blockNumber();
    const check = (await chain.publicClient.readContract({
      address: chain.token,
      abi: [
        {
          type: 'function',
          name: 'balanceOf',
          stateMutability: 'view',
          inputs: [{ type: 'address' }],
          outputs: [{ type: 'uint256' }],
        },
      ],
      functionName: 'balanceOf',
      args: [voters[7]!.address],
    })) as bigint;
    if (check !== parseUnits('8', chain.decimals)) throw new Error(`storage slot check failed: ${check}`);
    const setupMs = performance.now() - t0;

    const proposer = createSnapshotClient({ hubUrl: hub.url, account: chain.accounts[0]!, clock });
    const { id } = await proposer.propose({
      space: 'treasury.eth',
      title: 'Benchmark',
      body: 'load',
      snapshot,
      timing: { delay: 60, period: 86_400 },
    });
    clock.advance(61);

    const t1 = performance.now();
    const now = await clock();
    const envelopes: string[] = [];
    for (const [i, voter] of voters.entries()) {
      const envelope = await new CapturingClient(hub.url).vote(
        viemTypedDataSigner(voter) as never,
        voter.address,
        {
          space: 'treasury.eth',
          proposal: id,
          choice: (i % 3) + 1,
          timestamp: now,
        } as never,
      );
      envelopes.push(JSON.stringify(envelope));
    }
    const signMs = performance.now() - t1;

    // The load generator runs in its own process, so the hub's process does not also pay for the clients.
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const result = await clients.ask(
      { type: 'votes', url: hub.url, envelopes, concurrency: CONCURRENCY },
      'votes',
    );
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const cpu = process.cpuUsage(cpu0);
    const accepted = result.accepted;
    const failures = new Map(Object.entries(result.failures));
    const voteSeconds = result.seconds;
    const cpuPerVote = (cpu.user + cpu.system) / 1000 / Math.max(accepted, 1);

    // The hub caches list pages until the next write, so repeating one query measures cache hits; the last
    // line asks for a different page each time (skip 0…`QUERIES`−1, a new document to parse and validate, a
    // new SQL page; vote rows already read are reused by id) to show the cost of a page never served before.
    const queries: Record<string, string | ((i: number) => string)> = {
      'proposal(id) with scores': `{ proposal(id: "${id}") { id ipfs state type choices scores scores_by_strategy scores_total scores_state scores_updated quorum quorumType votes end snapshot network author updated plugins strategies { name network params } space { id } } }`,
      'votes(first: 1000, where: {proposal})': `{ votes(first: 1000, where: { proposal: "${id}" }, orderBy: "created", orderDirection: desc) { id ipfs voter created choice vp vp_by_strategy vp_state reason app } }`,
      'proposals(first: 20, where: {space})': `{ proposals(first: 20, where: { space: "treasury.eth" }, orderBy: "created", orderDirection: desc) { id ipfs title body choices start end snapshot state author created updated type app plugins scores_state space { id } } }`,
      'votes(first: 1000, skip: i) new page': (i) =>
        `{ votes(first: 1000, skip: ${i % 5000}, where: { proposal: "${id}" }, orderBy: "created", orderDirection: desc) { id ipfs voter created choice vp vp_by_strategy vp_state reason app } }`,
    };
    const latency: string[] = [];
    // the readers run in the client process too, one request at a time
    const measure = async (label: string) => {
      const { timings } = await clients.ask(
        {
          type: 'latency',
          url: hub.graphqlUrl,
          queries: Object.entries(queries).map(([name, query]) => [
            name,
            Array.from({ length: QUERIES }, (_, i) => (typeof query === 'function' ? query(i) : query)),
          ]),
        },
        'latency',
      );
      for (const [name, times] of timings) {
        times.sort((a, b) => a - b);
        latency.push(
          `  ${label.padEnd(7)} ${name.padEnd(40)} p50 ${percentile(times, 50).toFixed(2).padStart(6)} ms   p99 ${percentile(times, 99).toFixed(2).padStart(6)} ms   (n=${QUERIES})`,
        );
      }
    };
    await measure('active');
    // past the end and the real hub's 60 s hold, so the request below measures computing the final scores
    clock.advance(86_400 + 60);
    const f0 = performance.now();
    const final = await proposer.getScores(id);
    const finalizeMs = performance.now() - f0;
    await measure('closed');

    const lines = [
      `hub benchmark — loopback, ${VOTES} voters, concurrency ${CONCURRENCY} (load generator and GraphQL readers in another process, pid ${clients.pid}), signature workers ${WORKERS ?? 'default'}, ${availableParallelism()} CPUs, SQLite WAL file, anvil JSON-RPC`,
      `  setup: balances for ${VOTES} holders in ${(setupMs / 1000).toFixed(1)} s; ${VOTES} votes signed with Client712 in ${(signMs / 1000).toFixed(1)} s (not timed below)`,
      `  votes accepted: ${accepted}/${VOTES} in ${voteSeconds.toFixed(2)} s → ${(accepted / voteSeconds).toFixed(0)} votes/s (target ≥ 500)`,
      `  hub event loop busy ${(elu * 100).toFixed(0)}% of the time; hub process CPU ${cpuPerVote.toFixed(2)} ms per vote (event loop + signature workers; the clients and anvil are separate processes)`,
      ...(failures.size ? [`  refused: ${JSON.stringify(Object.fromEntries(failures))}`] : []),
      `  proposal now has ${final?.votes} votes; scores ${JSON.stringify(final?.scores)} total ${final?.scoresTotal} (${final?.scoresState}); final scores requested and read back (GET /api/scores/{id}, then GraphQL) ${finalizeMs.toFixed(1)} ms`,
      '  GraphQL latency (sequential requests, target p99 < 50 ms):',
      ...latency,
    ];
    console.log(lines.join('\n'));
    if (accepted !== VOTES) process.exitCode = 1;
  } finally {
    await clients.stop();
    await hub.stop();
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
