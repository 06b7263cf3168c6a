import type { Chain, PublicClient, Transport } from 'viem';
import { makePublicClient } from '../contracts/chainClients.ts';
import { type Clock, chainClock } from '../governance/clock.ts';
import { loadPriceHistory, type PriceHistory } from '../strategies/priceHistory.ts';
import type { PostgresPools } from './postgresLedger.ts';

/**
 * What the DAOs of one process share, each built once on first use: a viem public client per chain and RPC URL,
 * a chain clock per RPC URL, PostgreSQL pools per database, and any value read once for all (the router's
 * factory, PolicySwapper's code, a price file). Owned by the composition root (one per process, not a module
 * global); `close()` ends the pools. PostgreSQL's client is loaded only when a DAO's ledger is on PostgreSQL (it
 * costs a process of SQLite ledgers about 10 MB).
 */
export class SharedClients {
  private readonly clients = new Map<string, PublicClient<Transport, Chain>>();
  private readonly clocks = new Map<string, Clock>();
  private readonly values = new Map<string, Promise<unknown>>();
  private pools?: Promise<PostgresPools>;

  constructor(private readonly options: { poolSize?: number } = {}) {}

  /** The PostgreSQL pools, one per database, for every DAO of the process. */
  postgresPools(): Promise<PostgresPools> {
    this.pools ??= import('./postgresLedger.ts').then(
      ({ PostgresPools }) => new PostgresPools({ max: this.options.poolSize ?? 8 }),
    );
    return this.pools;
  }

  publicClient(chainId: number, rpcUrl: string): PublicClient<Transport, Chain> {
    const id = `${chainId} ${rpcUrl}`;
    let client = this.clients.get(id);
    if (!client) {
      client = makePublicClient(chainId, rpcUrl);
      this.clients.set(id, client);
    }
    return client;
  }

  chainClock(rpcUrl: string): Clock {
    let clock = this.clocks.get(rpcUrl);
    if (!clock) {
      clock = chainClock(rpcUrl);
      this.clocks.set(rpcUrl, clock);
    }
    return clock;
  }

  /** `read()` once per key; a failed read is forgotten, so the next asks again (an RPC that was down). */
  once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let value = this.values.get(key) as Promise<T> | undefined;
    if (!value) {
      value = read();
      this.values.set(key, value);
      value.catch(() => this.values.delete(key));
    }
    return value;
  }

  priceHistory(path: string): Promise<PriceHistory> {
    return this.once(`prices ${path}`, () => loadPriceHistory(path));
  }

  async close(): Promise<void> {
    await (await this.pools)?.close();
  }
}
