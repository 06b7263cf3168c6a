import {
  type Address,
  type Chain,
  getAbiItem,
  getAddress,
  type Hex,
  type PublicClient,
  type Transport,
} from 'viem';
import { ChainError } from '../shared/errors.ts';
import { aggregatorV3Abi, erc20Abi, safeAbi, uniswapV2FactoryAbi, uniswapV2PairAbi } from './abis.ts';

/** A token the treasury tracks: where it lives and how many decimals its base units have. */
export type TokenRef = { symbol: string; address: Address; decimals: number };

/** Where and when a reading was taken: every input of a decision keeps this. */
export type ReadingSource = { source: string; blockNumber: bigint; blockTimestamp: number };

export type Holding = TokenRef & { amount: bigint };
export type HoldingsReading = ReadingSource & { safe: Address; holdings: Record<string, Holding> };

export type FeedReading = {
  symbol: string;
  feed: Address;
  /** Raw answer in `decimals` (8 for USD feeds). */
  answer: bigint;
  decimals: number;
  roundId: bigint;
  /** Unix seconds of the answer (the feed's updatedAt). */
  updatedAt: number;
};
export type FeedsReading = ReadingSource & { feeds: Record<string, FeedReading> };

export type PoolReading = {
  symbol: string;
  pair: Address;
  reserveToken: bigint;
  reserveQuote: bigint;
  tokenDecimals: number;
  quoteDecimals: number;
  /** Unix seconds of the pair's last reserve update. */
  blockTimestampLast: number;
};
export type PoolsReading = ReadingSource & { quote: string; pools: Record<string, PoolReading> };

export type SafeStateReading = ReadingSource & {
  safe: Address;
  nonce: bigint;
  threshold: number;
  owners: Address[];
};

type Client = PublicClient<Transport, Chain>;

/** Multicall through Multicall3 where the chain has it, else viem's deployless multicall (same code, in eth_call). */
function multicallOptions(client: Client) {
  return { allowFailure: false as const, deployless: !client.chain.contracts?.multicall3 };
}

async function pinnedBlock(client: Client, blockNumber?: bigint) {
  try {
    const block = await client.getBlock(blockNumber === undefined ? { blockTag: 'latest' } : { blockNumber });
    return { blockNumber: block.number, blockTimestamp: Number(block.timestamp) };
  } catch (error) {
    throw new ChainError('cannot read the latest block from the RPC', {
      cause: error,
      hint: 'is the node up?',
    });
  }
}

function rpcFailure(what: string, error: unknown): ChainError {
  const reason =
    (error as { shortMessage?: string }).shortMessage ?? (error as Error).message?.split('\n')[0];
  return new ChainError(`${what} failed: ${reason}`, { cause: error });
}

/** Balances of the Safe for every token, in base units, at one block (latest unless given). */
export async function readHoldings(
  client: Client,
  params: { safe: Address; tokens: TokenRef[]; blockNumber?: bigint },
): Promise<HoldingsReading> {
  const at = await pinnedBlock(client, params.blockNumber);
  let amounts: bigint[];
  try {
    amounts = (await client.multicall({
      ...multicallOptions(client),
      blockNumber: at.blockNumber,
      contracts: params.tokens.map((token) => ({
        address: token.address,
        abi: erc20Abi,
        functionName: 'balanceOf' as const,
        args: [params.safe] as const,
      })),
    })) as bigint[];
  } catch (error) {
    throw rpcFailure(`reading the Safe's balances at block ${at.blockNumber}`, error);
  }
  const holdings: Record<string, Holding> = {};
  params.tokens.forEach((token, i) => {
    holdings[token.symbol] = { ...token, amount: amounts[i]! };
  });
  return { source: `balanceOf(${params.safe})`, ...at, safe: params.safe, holdings };
}

/** latestRoundData and decimals of each AggregatorV3 feed. Validation (stale, ≤ 0) is the observer's job. */
export async function readFeeds(
  client: Client,
  params: { feeds: { symbol: string; feed: Address }[]; blockNumber?: bigint },
): Promise<FeedsReading> {
  const at = await pinnedBlock(client, params.blockNumber);
  let results: unknown[];
  try {
    results = await client.multicall({
      ...multicallOptions(client),
      blockNumber: at.blockNumber,
      contracts: params.feeds.flatMap(({ feed }) => [
        { address: feed, abi: aggregatorV3Abi, functionName: 'latestRoundData' as const },
        { address: feed, abi: aggregatorV3Abi, functionName: 'decimals' as const },
      ]),
    });
  } catch (error) {
    throw rpcFailure(`reading the price feeds at block ${at.blockNumber}`, error);
  }
  const feeds: Record<string, FeedReading> = {};
  params.feeds.forEach(({ symbol, feed }, i) => {
    const [roundId, answer, , updatedAt] = results[2 * i] as readonly [
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    feeds[symbol] = {
      symbol,
      feed,
      answer,
      decimals: Number(results[2 * i + 1]),
      roundId,
      updatedAt: Number(updatedAt),
    };
  });
  return { source: 'AggregatorV3.latestRoundData', ...at, feeds };
}

/** Reserves of each token's Uniswap V2 pair against `quote` (USDC), oriented as (token, quote). */
export async function readPools(
  client: Client,
  params: { factory: Address; quote: TokenRef; tokens: TokenRef[]; blockNumber?: bigint },
): Promise<PoolsReading> {
  const at = await pinnedBlock(client, params.blockNumber);
  const others = params.tokens.filter((t) => t.address.toLowerCase() !== params.quote.address.toLowerCase());
  try {
    const pairs = (await client.multicall({
      ...multicallOptions(client),
      blockNumber: at.blockNumber,
      contracts: others.map((token) => ({
        address: params.factory,
        abi: uniswapV2FactoryAbi,
        functionName: 'getPair' as const,
        args: [token.address, params.quote.address] as const,
      })),
    })) as Address[];
    const missing = others.filter((_, i) => BigInt(pairs[i]!) === 0n).map((t) => t.symbol);
    if (missing.length)
      throw new ChainError(`no Uniswap V2 pair with ${params.quote.symbol} for ${missing.join(', ')}`);
    const reads = await client.multicall({
      ...multicallOptions(client),
      blockNumber: at.blockNumber,
      contracts: pairs.flatMap((pair) => [
        { address: pair, abi: uniswapV2PairAbi, functionName: 'getReserves' as const },
        { address: pair, abi: uniswapV2PairAbi, functionName: 'token0' as const },
      ]),
    });
    const pools: Record<string, PoolReading> = {};
    others.forEach((token, i) => {
      const [reserve0, reserve1, timestampLast] = reads[2 * i] as readonly [bigint, bigint, number];
      const tokenIsToken0 = getAddress(reads[2 * i + 1] as Address) === getAddress(token.address);
      pools[token.symbol] = {
        symbol: token.symbol,
        pair: getAddress(pairs[i]!),
        reserveToken: tokenIsToken0 ? reserve0 : reserve1,
        reserveQuote: tokenIsToken0 ? reserve1 : reserve0,
        tokenDecimals: token.decimals,
        quoteDecimals: params.quote.decimals,
        blockTimestampLast: Number(timestampLast),
      };
    });
    return {
      source: `UniswapV2Pair.getReserves (factory ${params.factory})`,
      ...at,
      quote: params.quote.symbol,
      pools,
    };
  } catch (error) {
    if (error instanceof ChainError) throw error;
    throw rpcFailure(`reading the Uniswap pools at block ${at.blockNumber}`, error);
  }
}

/** The Safe's nonce, threshold and owners at one block. */
export async function readSafeState(
  client: Client,
  params: { safe: Address; blockNumber?: bigint },
): Promise<SafeStateReading> {
  const at = await pinnedBlock(client, params.blockNumber);
  try {
    const [nonce, threshold, owners] = await client.multicall({
      ...multicallOptions(client),
      blockNumber: at.blockNumber,
      contracts: [
        { address: params.safe, abi: safeAbi, functionName: 'nonce' },
        { address: params.safe, abi: safeAbi, functionName: 'getThreshold' },
        { address: params.safe, abi: safeAbi, functionName: 'getOwners' },
      ],
    });
    return {
      source: `Safe ${params.safe}`,
      ...at,
      safe: params.safe,
      nonce,
      threshold: Number(threshold),
      owners: [...owners],
    };
  } catch (error) {
    throw rpcFailure(`reading the Safe ${params.safe}`, error);
  }
}

/** A feed answer or pool price as a USD number, for display and weights (never for amounts). */
export function feedPriceUsd(reading: FeedReading): number {
  return Number(reading.answer) / 10 ** reading.decimals;
}

/** The pool's spot price of one whole token in the quote token's whole units. */
export function poolSpotPrice(pool: PoolReading): number {
  const token = Number(pool.reserveToken) / 10 ** pool.tokenDecimals;
  const quote = Number(pool.reserveQuote) / 10 ** pool.quoteDecimals;
  return quote / token;
}

/**
 * Each holder's balance of `token` at `blockNumber` (multicall, in batches): the voting power Snapshot's
 * erc20-balance-of strategy gives at a proposal's snapshot block, read from the chain rather than the hub.
 */
export async function readBalancesAt(
  client: Client,
  params: { token: Address; holders: readonly Address[]; blockNumber: bigint },
): Promise<Map<Address, bigint>> {
  const balances = new Map<Address, bigint>();
  const batch = 500;
  for (let i = 0; i < params.holders.length; i += batch) {
    const holders = params.holders.slice(i, i + batch);
    let amounts: bigint[];
    try {
      amounts = (await client.multicall({
        ...multicallOptions(client),
        blockNumber: params.blockNumber,
        contracts: holders.map((holder) => ({
          address: params.token,
          abi: erc20Abi,
          functionName: 'balanceOf' as const,
          args: [holder],
        })),
      })) as bigint[];
    } catch (error) {
      throw rpcFailure(`reading voting power at block ${params.blockNumber}`, error);
    }
    holders.forEach((holder, k) => {
      balances.set(holder, amounts[k]!);
    });
  }
  return balances;
}

/** Safe v1.4.1 storage slots: keccak256("guard_manager.guard.address"), keccak256("fallback_manager.handler.address"). */
export const SAFE_GUARD_SLOT = '0x4a204f620c8c5ccdca3fd54d003badd85ba500436a431f0cbda4f558c93c34c8';
export const SAFE_FALLBACK_HANDLER_SLOT =
  '0x6c9a6c4a39284e37ed1cf53d337577d14212a4870fb976a4366c693b939918d5';
const SENTINEL = '0x0000000000000000000000000000000000000001';

export type SafeConfigurationReading = ReadingSource & {
  safe: Address;
  owners: Address[];
  threshold: number;
  modules: Address[];
  /** The zero address when no guard is set. */
  guard: Address;
  fallbackHandler: Address;
};

/** Everything that decides who can move the Safe's funds: owners, threshold, modules, guard, fallback handler. */
export async function readSafeConfiguration(
  client: Client,
  params: { safe: Address; blockNumber?: bigint },
): Promise<SafeConfigurationReading> {
  const at = await pinnedBlock(client, params.blockNumber);
  try {
    const [threshold, owners, [modules]] = await client.multicall({
      ...multicallOptions(client),
      blockNumber: at.blockNumber,
      contracts: [
        { address: params.safe, abi: safeAbi, functionName: 'getThreshold' },
        { address: params.safe, abi: safeAbi, functionName: 'getOwners' },
        { address: params.safe, abi: safeAbi, functionName: 'getModulesPaginated', args: [SENTINEL, 50n] },
      ],
    });
    const slot = async (position: Hex) =>
      getAddress(
        `0x${((await client.getStorageAt({ address: params.safe, slot: position, blockNumber: at.blockNumber })) ?? '0x').slice(-40).padStart(40, '0')}`,
      );
    return {
      source: `Safe ${params.safe}`,
      ...at,
      safe: params.safe,
      owners: owners.map((o) => getAddress(o)),
      threshold: Number(threshold),
      modules: modules.map((m) => getAddress(m)),
      guard: await slot(SAFE_GUARD_SLOT),
      fallbackHandler: await slot(SAFE_FALLBACK_HANDLER_SLOT),
    };
  } catch (error) {
    throw rpcFailure(`reading the Safe's configuration ${params.safe}`, error);
  }
}

export type TokenOutflow = {
  symbol: string;
  to: Address;
  amount: bigint;
  transactionHash: Hex;
  blockNumber: bigint;
};

/** Every transfer of the configured tokens out of `safe` in [fromBlock, toBlock], in chunks of 5,000 blocks. */
export async function readOutflows(
  client: Client,
  params: { safe: Address; tokens: TokenRef[]; fromBlock: bigint; toBlock: bigint },
): Promise<TokenOutflow[]> {
  const bySymbol = new Map(params.tokens.map((t) => [getAddress(t.address), t.symbol]));
  const outflows: TokenOutflow[] = [];
  const transfer = getAbiItem({ abi: erc20Abi, name: 'Transfer' });
  for (let from = params.fromBlock; from <= params.toBlock; from += 5_000n) {
    const to = from + 4_999n < params.toBlock ? from + 4_999n : params.toBlock;
    let logs: Awaited<ReturnType<typeof client.getLogs<typeof transfer>>>;
    try {
      logs = await client.getLogs({
        address: params.tokens.map((t) => t.address),
        event: transfer,
        args: { from: params.safe },
        fromBlock: from,
        toBlock: to,
      });
    } catch (error) {
      throw rpcFailure(`reading the Safe's token transfers in blocks ${from}–${to}`, error);
    }
    for (const log of logs) {
      if (!log.args.to || log.args.value === undefined || !log.transactionHash || log.blockNumber === null)
        continue;
      outflows.push({
        symbol: bySymbol.get(getAddress(log.address)) ?? log.address,
        to: getAddress(log.args.to),
        amount: log.args.value,
        transactionHash: log.transactionHash,
        blockNumber: log.blockNumber,
      });
    }
  }
  return outflows;
}
