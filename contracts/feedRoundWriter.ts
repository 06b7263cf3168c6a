import { type Address, createPublicClient, encodeFunctionData, type Hex, http, numberToHex } from 'viem';
import { ChainError } from '../shared/errors.ts';
import { aggregatorV3Abi } from './abis.ts';
import { chainFor } from './chainClients.ts';

/** One round to post to a devnet feed: `updateAnswerAt(answer, updatedAt)`. */
export type RoundToWrite = { feed: Address; answer: bigint; updatedAt: number };

/** Gas per updateAnswerAt (a new round: three storage slots, an event; ~92k used). */
const GAS_PER_ROUND = 150_000n;
/** JSON-RPC requests per HTTP batch. */
const RPC_BATCH = 1_000;

/**
 * Posts rounds to devnet feeds (anvil only: `from` must be an unlocked development account that owns them) in
 * as few blocks as they fit: automine off, every transaction sent at once in JSON-RPC batches (anvil signs, no
 * receipt waited for), blocks mined until all are in, automine back on. Rounds go in the given order, so post
 * each feed's rounds oldest first. Checks each feed's latest round at the end; throws a ChainError otherwise.
 */
export async function writeFeedRounds(params: {
  rpcUrl: string;
  chainId: number;
  from: Address;
  rounds: readonly RoundToWrite[];
}): Promise<void> {
  const { rounds, from } = params;
  if (rounds.length === 0) return;
  const client = createPublicClient({
    chain: chainFor(params.chainId, params.rpcUrl),
    transport: http(params.rpcUrl, { batch: { batchSize: RPC_BATCH }, retryCount: 0 }),
  });
  const rpc = (method: string, args: unknown[] = []) =>
    client.request({
      method: method as 'eth_chainId',
      params: args as unknown as undefined,
    }) as Promise<unknown>;
  const feeds = [...new Set(rounds.map((r) => r.feed))];
  const latestRound = () =>
    Promise.all(
      feeds.map((address) =>
        client.readContract({ address, abi: aggregatorV3Abi, functionName: 'latestRoundData' }),
      ),
    );
  const [before, nonce, block] = await Promise.all([
    latestRound(),
    client.getTransactionCount({ address: from, blockTag: 'pending' }),
    client.getBlock({ blockTag: 'latest' }),
  ]);
  // Full blocks raise the base fee by up to 12.5% each: leave room for many of them.
  const maxFeePerGas = (block.baseFeePerGas ?? 1_000_000_000n) * 8n + 1_000_000_000n;
  await rpc('evm_setAutomine', [false]);
  try {
    await Promise.all(
      rounds.map(
        (round, i) =>
          rpc('eth_sendTransaction', [
            {
              from,
              to: round.feed,
              data: encodeFunctionData({
                abi: aggregatorV3Abi,
                functionName: 'updateAnswerAt',
                args: [round.answer, BigInt(round.updatedAt)],
              }),
              gas: numberToHex(GAS_PER_ROUND),
              nonce: numberToHex(nonce + i),
              maxFeePerGas: numberToHex(maxFeePerGas),
              maxPriorityFeePerGas: '0x0',
            },
          ]) as Promise<Hex>,
      ),
    );
    const done = nonce + rounds.length;
    for (let blocks = 0; ; blocks++) {
      await rpc('evm_mine');
      const mined = await client.getTransactionCount({ address: from, blockTag: 'latest' });
      if (mined >= done) break;
      if (blocks > rounds.length) {
        throw new ChainError(
          `posting feed rounds: ${done - mined} of ${rounds.length} transactions not mined`,
        );
      }
    }
  } finally {
    await rpc('evm_setAutomine', [true]);
  }
  const after = await latestRound();
  feeds.forEach((feed, i) => {
    const mine = rounds.filter((r) => r.feed === feed);
    const [roundId, answer, , updatedAt] = after[i]!;
    const last = mine.at(-1)!;
    if (
      roundId !== before[i]![0] + BigInt(mine.length) ||
      answer !== last.answer ||
      Number(updatedAt) !== last.updatedAt
    ) {
      throw new ChainError(
        `posting rounds to feed ${feed}: expected round ${before[i]![0] + BigInt(mine.length)} at ${last.updatedAt}, the feed is at round ${roundId} (${updatedAt})`,
        { hint: 'some updateAnswerAt transactions failed: is `from` the feed owner?' },
      );
    }
  });
}
