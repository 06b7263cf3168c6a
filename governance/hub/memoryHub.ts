import type { Address, LocalAccount } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { Clock } from '../clock.ts';
import { createSnapshotClient, type SnapshotClient, type SnapshotClientOptions } from '../snapshotClient.ts';
import type { HubChain } from './chain.ts';
import { createHubGraphql } from './graphql.ts';
import { createHubRoutes } from './routes.ts';
import { abortableSleep, createScores } from './scores.ts';
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
 * The hub without HTTP: the same routes, sequencer checks, scores and GraphQL over an in-memory SQLite and
 * chain. Its `fetch` plugs into `createSnapshotClient({ hubUrl: MEMORY_HUB_URL, fetch })`, so signing and every
 * check are real; it follows redirects (`/api/scores/{id}` → `/scores/{id}`) as the platform's fetch does.
 */
export function createMemoryHub(options: {
  spaces: SpaceInput[];
  clock: Clock;
  chain: MemoryChain;
  limits?: Partial<ProposalLimits>;
  /** The hold of a scores request less than 60 s after the end (see StartHubOptions.sleep). */
  sleep?: (ms: number) => Promise<void>;
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
  const hold = abortableSleep();
  const scores = createScores({ store, clock: options.clock, sleep: options.sleep ?? hold.sleep });
  const routes = createHubRoutes({
    sequencer,
    graphql,
    scores,
    info: () => ({
      name: 'dao-treasury-agent hub (snapshot-compatible, in memory)',
      network: spaces.map((s) => s.network)[0] ?? null,
      relayer: relayer.address,
      spaces: spaces.map((s) => s.id),
    }),
  });
  const fetch: typeof globalThis.fetch = async (input, init) => {
    let url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const body = typeof init?.body === 'string' ? init.body : '';
    const contentType = new Headers(init?.headers).get('content-type');
    for (let redirects = 0; ; redirects++) {
      const reply = await routes({ method, url, contentType, body });
      // A 307 keeps method and body; fetch follows up to 20 unless told not to.
      const location = reply.headers.location;
      if (reply.status === 307 && location && redirects < 20 && init?.redirect !== 'manual') {
        url = new URL(location, url);
        continue;
      }
      return new Response(reply.status === 204 ? null : reply.body, {
        status: reply.status,
        headers: reply.headers,
      });
    }
  };
  return {
    fetch,
    store,
    relayer: relayer.address,
    /** A Snapshot client (the governance port) signing with `account`, talking to this hub. */
    client: (
      account: LocalAccount,
      overrides: Partial<Omit<SnapshotClientOptions, 'hubUrl' | 'account'>> = {},
    ): SnapshotClient =>
      createSnapshotClient({ clock: options.clock, fetch, ...overrides, hubUrl: MEMORY_HUB_URL, account }),
    close: () => {
      hold.abort();
      store.close();
    },
  };
}

/** The URL to give the client with a memory hub (never contacted over the network). */
export const MEMORY_HUB_URL = 'http://memory.hub';
