/**
 * Benchmark of the local hub on loopback (`npm run bench:hub`):
 *  1. votes accepted per second: 10,000 votes from 10,000 holders, signed beforehand with snapshot.js Client712
 *     (signing is the voters' cost, not the hub's), sent with bounded concurrency;
 *  2. GraphQL latency (p50/p99) on the proposal that now has 10,000 votes.
 * Target: ≥ 500 votes/s and p99 < 50 ms. Real anvil, real SQLite file, real JSON-RPC balance reads.
 * Voter balances are written with anvil_setStorageAt (TestToken's balanceOf is slot 4) to avoid 10,000 mint
 * transactions; each one is read back once to check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { encodeAbiParameters, keccak256, numberToHex, parseUnits, toHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { manualClock } from '../governance/clock.ts';
import { startHub } from '../governance/hub/server.ts';
import { createSnapshotClient, viemTypedDataSigner } from '../governance/snapshotClient.ts';
import { Client712 } from '../governance/snapshotProtocol.ts';
import { devSpace, startGovernanceChain } from '../governance/testing.ts';

const VOTES = Number(process.env.BENCH_VOTES ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 400);
const WORKERS = process.env.BENCH_WORKERS === undefined ? undefined : Number(process.env.BENCH_WORKERS);
const BALANCE_SLOT = 4n;

const LOAD_GENERATOR = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, envelopes, concurrency } = workerData;
let next = 0, accepted = 0;
const failures = {};
Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < envelopes.length) {
    const body = envelopes[next++];
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const json = await response.json();
    if (response.ok) accepted++;
    else { const key = json.error_description || String(response.status); failures[key] = (failures[key] || 0) + 1; }
  }
})).then(() => parentPort.postMessage({ accepted, failures }));
`;

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

    // The load generator runs in its own thread so the hub's event loop does not also pay for the clients.
    const load = new Worker(LOAD_GENERATOR, {
      eval: true,
      workerData: { url: hub.url, envelopes, concurrency: CONCURRENCY },
    });
    const started = performance.now();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const result = await new Promise<{ accepted: number; failures: Record<string, number> }>(
      (resolve, reject) => {
        load.once('message', resolve);
        load.once('error', reject);
      },
    );
    await load.terminate();
    const accepted = result.accepted;
    const failures = new Map(Object.entries(result.failures));
    const voteSeconds = (performance.now() - started) / 1000;
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const cpu = process.cpuUsage(cpu0);
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
    const measure = async (label: string) => {
      for (const [name, query] of Object.entries(queries)) {
        const times: number[] = [];
        for (let i = 0; i < QUERIES; i++) {
          const q0 = performance.now();
          const response = await fetch(hub.graphqlUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: typeof query === 'function' ? query(i) : query }),
          });
          const json = (await response.json()) as { errors?: unknown };
          times.push(performance.now() - q0);
          if (json.errors) throw new Error(`${name}: ${JSON.stringify(json.errors)}`);
        }
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
      `hub benchmark — loopback, ${VOTES} voters, concurrency ${CONCURRENCY} (load generator in a worker thread), signature workers ${WORKERS ?? 'default'}, ${availableParallelism()} CPUs, SQLite WAL file, anvil JSON-RPC`,
      `  setup: balances for ${VOTES} holders in ${(setupMs / 1000).toFixed(1)} s; ${VOTES} votes signed with Client712 in ${(signMs / 1000).toFixed(1)} s (not timed below)`,
      `  votes accepted: ${accepted}/${VOTES} in ${voteSeconds.toFixed(2)} s → ${(accepted / voteSeconds).toFixed(0)} votes/s (target ≥ 500)`,
      `  hub event loop busy ${(elu * 100).toFixed(0)}% of the time; process CPU ${cpuPerVote.toFixed(2)} ms per vote (hub threads + load generator; anvil is a separate process)`,
      ...(failures.size ? [`  refused: ${JSON.stringify(Object.fromEntries(failures))}`] : []),
      `  proposal now has ${final?.votes} votes; scores ${JSON.stringify(final?.scores)} total ${final?.scoresTotal} (${final?.scoresState}); final scores requested and read back (GET /api/scores/{id}, then GraphQL) ${finalizeMs.toFixed(1)} ms`,
      '  GraphQL latency (sequential requests, target p99 < 50 ms):',
      ...latency,
    ];
    console.log(lines.join('\n'));
    if (accepted !== VOTES) process.exitCode = 1;
  } finally {
    await hub.stop();
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
