import { createPublicClient, http } from 'viem';
import { rpcRequestTimeoutMs } from '../contracts/chainClients.ts';
import { GovernanceError } from './errors.ts';

/** "Now" in unix seconds. Injected everywhere time matters (hub checks, message timestamps). */
export type Clock = () => Promise<number>;

/** The wall clock, for production against hub.snapshot.org. */
export const systemClock: Clock = async () => Math.floor(Date.now() / 1000);

/** A clock for tests: starts at `start`, moved with `set`/`advance`. */
export function manualClock(
  start: number,
): Clock & { set: (t: number) => void; advance: (s: number) => void } {
  let now = start;
  const clock = (async () => now) as Clock & { set: (t: number) => void; advance: (s: number) => void };
  clock.set = (t) => {
    now = t;
  };
  clock.advance = (s) => {
    now += s;
  };
  return clock;
}

/**
 * The chain's clock: the timestamp of the latest block at `rpcUrl`. Locally every component reads time this
 * way, so moving anvil's time (evm_increaseTime + mine) moves the hub, the agent and the feeds together.
 */
export function chainClock(rpcUrl: string): Clock {
  const client = createPublicClient({
    transport: http(rpcUrl, { retryCount: 1, timeout: rpcRequestTimeoutMs(rpcUrl) }),
  });
  return async () => {
    try {
      const block = await client.getBlock({ blockTag: 'latest' });
      return Number(block.timestamp);
    } catch (error) {
      throw new GovernanceError('could not read the latest block time for the chain clock', {
        cause: error,
        hint: 'check that the RPC (anvil) is running',
      });
    }
  };
}
