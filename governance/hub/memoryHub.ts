import type { Address, LocalAccount } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { Clock } from '../clock.ts';
import { createSnapshotClient, type SnapshotClient } from '../snapshotClient.ts';
import type { HubChain } from './chain.ts';
import { createHubGraphql } from './graphql.ts';
import { createSequencer, type ProposalLimits } from './sequencer.ts';
import { parseSpaces, type SpaceInput } from './spaces.ts';
import { HubStore } from './store.ts';

/** A chain held in memory: blocks are numbers you mine, balances are set per block. For tests and dry runs. */
export type MemoryChain = HubChain & {
  /** Sets `holder`'s balance of `token` (base units) from the next mined block on. */
  setBalance: (token: Address, holder: Address, amount: bigint) => void;
  /** Mines a block; returns its number. */
  mine: () => number;
};

export function memoryHubChain(chainId: number): MemoryChain {
  let latest = 0;
  // token:holder → list of [fromBlock, amount], ascending
  const history = new Map<string, [number, bigint][]>();
  return {
    chainId: async () => chainId,
    latestBlock: async () => latest,
    blockExists: async (block) => block >= 0 && block <= latest,
    balanceOf: async (token, holder, block) => {
      const entries = history.get(`${token.toLowerCase()}:${holder.toLowerCase()}`) ?? [];
      let amount = 0n;
      for (const [from, value] of entries) if (from <= block) amount = value;
      return amount;
    },
    isValidSignature: async () => false,
    setBalance: (token, holder, amount) => {
      const key = `${token.toLowerCase()}:${holder.toLowerCase()}`;
      const entries = history.get(key) ?? [];
      entries.push([latest + 1, amount]);
      history.set(key, entries);
    },
    mine: () => {
      latest += 1;
      return latest;
    },
  };
}

/**
 * The hub without HTTP: the same sequencer checks and GraphQL over an in-memory SQLite and chain. Its `fetch`
 * plugs into `createSnapshotClient({ hubUrl: MEMORY_HUB_URL, fetch })`, so signing and every check are real.
 */
export function createMemoryHub(options: {
  spaces: SpaceInput[];
  clock: Clock;
  chain: MemoryChain;
  limits?: Partial<ProposalLimits>;
}) {
  const spaces = parseSpaces(options.spaces);
  const store = new HubStore(':memory:');
  const key = generatePrivateKey();
  const relayer = privateKeyToAccount(key);
  const sequencer = createSequencer({
    store,
    spaces,
    chain: options.chain,
    clock: options.clock,
    relayer: { address: relayer.address, privateKey: key },
    limits: options.limits,
  });
  const graphql = createHubGraphql({ store, spaces, clock: options.clock });
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const body = typeof init?.body === 'string' ? init.body : '';
    if (url.pathname === '/graphql') {
      let request: { query?: unknown; variables?: unknown };
      try {
        request = JSON.parse(body);
      } catch {
        return json(400, { errors: [{ message: 'POST body must be JSON' }] });
      }
      const result = await graphql.run(request);
      return json(result.status, JSON.parse(JSON.stringify(result.body)));
    }
    const reply = await sequencer.ingest(body);
    return json(reply.status, reply.body);
  };
  return {
    fetch,
    store,
    relayer: relayer.address,
    /** A Snapshot client (the governance port) signing with `account`, talking to this hub. */
    client: (account: LocalAccount): SnapshotClient =>
      createSnapshotClient({ hubUrl: MEMORY_HUB_URL, account, clock: options.clock, fetch }),
    close: () => store.close(),
  };
}

/** The URL to give the client with a memory hub (never contacted over the network). */
export const MEMORY_HUB_URL = 'http://memory.hub';
