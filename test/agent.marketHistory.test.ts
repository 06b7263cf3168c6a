import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, createPublicClient, getAddress, http } from 'viem';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAuditLog } from '../agent/auditLog.ts';
import { replayDecision } from '../agent/auditTools.ts';
import { runCycle } from '../agent/cycle.ts';
import { DAY_SECONDS, type DecisionInputs } from '../agent/decide.ts';
import { SqliteLedger } from '../agent/ledger.ts';
import { chainMarketHistory, fileMarketHistory, type HistoryToken } from '../agent/marketHistory.ts';
import { buildRuntime } from '../agent/runtime.ts';
import { projectArtifacts } from '../contracts/artifacts.ts';
import { chainFor, makeWalletClient } from '../contracts/chainClients.ts';
import { setChainTime } from '../contracts/chainTime.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import { closeTimeOf, priceToFeedAnswer } from '../contracts/devnet.ts';
import { writeFeedRounds } from '../contracts/feedRoundWriter.ts';
import { DEFAULT_PRICES_PATH, devnetHistoryDays } from '../contracts/localDevnet.ts';
import { MarketDataError } from '../shared/errors.ts';
import { dayOf, isoDateOf, loadPriceHistory, priceAsOf } from '../strategies/priceHistory.ts';
import { configureStrategy } from '../strategies/registry.ts';
import { useDevnet } from './support/devnet.ts';
import { type CycleStack, startCycleStack } from './support/localStack.ts';

const fixture = useDevnet();

/** A public client on the devnet that records the method of every JSON-RPC request it sends. */
function countingClient() {
  const methods: string[] = [];
  const url = fixture.devnet.anvil.rpcUrl;
  const client = createPublicClient({
    chain: chainFor(31337, url),
    transport: http(url, {
      retryCount: 0,
      fetchFn: async (input, init) => {
        const body = JSON.parse(String(init?.body)) as { method: string } | { method: string }[];
        for (const request of Array.isArray(body) ? body : [body]) methods.push(request.method);
        return fetch(input, init);
      },
    }),
  });
  return { client, methods };
}

function tokensOf(): HistoryToken[] {
  return fixture.devnet.config.tokens.map((t) => ({
    symbol: t.symbol,
    priceAsset: t.priceAsset,
    feed: t.feed!,
  }));
}

async function latestBlock() {
  const block = await fixture.client.getBlock();
  return { blockNumber: block.number, blockTimestamp: Number(block.timestamp) };
}

describe("the devnet's feeds hold the price file's daily closes", () => {
  it("each feed's close of every lookback day is the price file's (to the feed's 8 decimals)", async () => {
    const config = fixture.devnet.config;
    const lookback = configureStrategy(config.strategy!).lookbackDays;
    expect(devnetHistoryDays(config)).toBe(lookback + 7);
    const priceDay = dayOf(config.devnet!.priceDate);
    const at = await latestBlock();
    const toDay = Math.floor(at.blockTimestamp / DAY_SECONDS) - 1;
    expect(toDay).toBe(priceDay); // the devnet's chain starts at the end of priceDate
    const { history } = await chainMarketHistory({
      client: fixture.client,
      ledger: SqliteLedger.open(':memory:'),
    }).dailyCloses({
      tokens: tokensOf(),
      fromDay: priceDay - devnetHistoryDays(config),
      toDay,
      ...at,
    });
    const file = await loadPriceHistory(DEFAULT_PRICES_PATH);
    let compared = 0;
    for (const token of config.tokens) {
      for (let day = priceDay - devnetHistoryDays(config); day <= priceDay; day++) {
        const expected = priceAsOf(file, token.priceAsset, day)!;
        expect(priceAsOf(history, token.priceAsset, day), `${token.symbol} ${isoDateOf(day)}`).toBe(
          Number(priceToFeedAnswer(expected)) / 1e8,
        );
        compared++;
      }
    }
    expect(compared).toBe(config.tokens.length * (devnetHistoryDays(config) + 1));
  });
});

describe('the ledger keeps the closes it read', () => {
  it('a second read of the same days sends no request; the next day costs a few', async () => {
    const ledger = SqliteLedger.open(':memory:');
    const { client, methods } = countingClient();
    const history = chainMarketHistory({ client, ledger });
    const at = await latestBlock();
    const toDay = Math.floor(at.blockTimestamp / DAY_SECONDS) - 1;
    const request = { tokens: tokensOf(), fromDay: toDay - 90, toDay, ...at };
    const cold = await history.dailyCloses(request);
    const coldCalls = methods.length;
    expect(methods.every((m) => m === 'eth_call')).toBe(true);
    // 5 feeds × 91 days: one latestRoundData read, then log2(98 rounds) ≈ 7 search steps; without Multicall3
    // (the devnet) a step of more than 64 probes takes several eth_calls.
    expect(coldCalls).toBeGreaterThanOrEqual(8);
    expect(coldCalls).toBeLessThanOrEqual(16);
    methods.length = 0;
    const warm = await history.dailyCloses(request);
    expect(methods).toEqual([]);
    expect(warm.history.assets).toEqual(cold.history.assets);
    expect(warm.provenance).toEqual(cold.provenance);

    // A day later: each feed posts that day's close; only the new day is read.
    const deployment = fixture.devnet.deployment;
    await writeFeedRounds({
      rpcUrl: deployment.rpcUrl,
      chainId: deployment.chainId,
      from: devAccount(0).address,
      rounds: Object.values(deployment.tokens).map((t) => ({
        feed: t.feed,
        answer: priceToFeedAnswer(t.startPriceUsd * 1.01),
        updatedAt: closeTimeOf(toDay + 1),
      })),
    });
    await setChainTime(fixture.client, (toDay + 2) * DAY_SECONDS + 600);
    methods.length = 0;
    const next = await history.dailyCloses({
      ...request,
      fromDay: toDay - 89,
      toDay: toDay + 1,
      ...(await latestBlock()),
    });
    expect(methods.length).toBeLessThanOrEqual(2); // latestRoundData: the new round is the latest, no search
    expect(next.provenance.rounds!.WETH!.at(-1)).not.toBe('');
    for (const token of Object.values(deployment.tokens)) {
      expect(priceAsOf(next.history, token.priceAsset, toDay + 1)).toBe(
        Number(priceToFeedAnswer(token.startPriceUsd * 1.01)) / 1e8,
      );
    }
    expect(await ledger.feedCloses(deployment.tokens.WETH!.feed, toDay - 90, toDay + 1)).toHaveLength(92);
  });
});

describe('missing or broken feed history fails closed, naming the feed and the days', () => {
  async function feedWithRounds(rounds: { day: number; answer: bigint }[]): Promise<Address> {
    const { deployment } = fixture.devnet;
    const wallet = makeWalletClient(deployment.chainId, deployment.rpcUrl, devAccount(0));
    const [first, ...rest] = rounds;
    const hash = await wallet.deployContract({
      abi: projectArtifacts.priceFeed.abi,
      bytecode: projectArtifacts.priceFeed.bytecode,
      args: [8, 'GAP / USD', first!.answer, BigInt(closeTimeOf(first!.day))],
    });
    const feed = getAddress((await fixture.client.waitForTransactionReceipt({ hash })).contractAddress!);
    await writeFeedRounds({
      rpcUrl: deployment.rpcUrl,
      chainId: deployment.chainId,
      from: devAccount(0).address,
      rounds: rest.map((r) => ({ feed, answer: r.answer, updatedAt: closeTimeOf(r.day) })),
    });
    return feed;
  }

  it('a feed that stopped for 6 days, one that answered 0, one that starts too late, one without code', async () => {
    const toDay = Math.floor((await latestBlock()).blockTimestamp / DAY_SECONDS) - 1;
    const fromDay = toDay - 19;
    const days = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);
    const stopped = await feedWithRounds(
      [...days(fromDay - 1, toDay - 12), ...days(toDay - 5, toDay)].map((day) => ({
        day,
        answer: 100_000_000n,
      })),
    );
    const zero = await feedWithRounds(
      days(fromDay, toDay).map((day) => ({ day, answer: day === toDay - 3 ? 0n : 100_000_000n })),
    );
    const late = await feedWithRounds(days(toDay - 4, toDay).map((day) => ({ day, answer: 100_000_000n })));
    const nowhere = '0x000000000000000000000000000000000000dEaD' as Address;
    const at = await latestBlock(); // read after the feeds exist
    expect(Math.floor(at.blockTimestamp / DAY_SECONDS) - 1).toBe(toDay);
    const history = chainMarketHistory({ client: fixture.client, ledger: SqliteLedger.open(':memory:') });
    const tokens = [
      { symbol: 'STOP', priceAsset: 'STOP', feed: stopped },
      { symbol: 'ZERO', priceAsset: 'ZERO', feed: zero },
      { symbol: 'LATE', priceAsset: 'LATE', feed: late },
      { symbol: 'NONE', priceAsset: 'NONE', feed: nowhere },
      ...tokensOf().slice(0, 1),
    ];
    const error = (await history
      .dailyCloses({ tokens, fromDay, toDay, ...at })
      .catch((e: unknown) => e)) as MarketDataError;
    expect(error).toBeInstanceOf(MarketDataError);
    expect(error.shortMessage).toMatch(
      new RegExp(`price history for ${isoDateOf(fromDay)}…${isoDateOf(toDay)} is incomplete`),
    );
    const d = (n: number) => isoDateOf(n);
    expect(error.details).toEqual([
      `STOP (feed ${stopped}): no daily close on 3 of 20 days: ${d(toDay - 8)}…${d(toDay - 6)} (the feed's last round then was ${d(toDay - 12)}'s)`,
      `ZERO (feed ${zero}): no daily close on 1 of 20 days: ${d(toDay - 3)} (round ${toDay - 3 - fromDay + 1} answered 0)`,
      `LATE (feed ${late}): no daily close on 15 of 20 days: ${d(fromDay)}…${d(toDay - 5)} (before the feed's first round)`,
      `NONE (feed ${nowhere}): no daily close on 20 of 20 days: ${d(fromDay)}…${d(toDay)} (latestRoundData reverted)`,
    ]);
    expect(error.hint).toMatch(/shorten the lookback/);
  });

  it('the price file adapter fails closed the same way (the file ends in 2023)', async () => {
    const file = await loadPriceHistory(DEFAULT_PRICES_PATH);
    const day = dayOf('2026-01-10');
    const error = await fileMarketHistory(file)
      .dailyCloses({
        tokens: tokensOf(),
        fromDay: day - 90,
        toDay: day,
        blockNumber: 1n,
        blockTimestamp: (day + 1) * DAY_SECONDS,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MarketDataError);
    expect((error as MarketDataError).details[0]).toBe(
      `GOV (feed ${tokensOf()[0]!.feed}): no daily close on 91 of 91 days: ${isoDateOf(day - 90)}…2026-01-10`,
    );
  });
});

describe('a cycle on chain history', () => {
  let s: CycleStack | undefined;
  afterAll(async () => {
    await s?.stop();
  });

  it('with no price file, the agent decides the same targets and swaps as with the price file; audit replay holds', async () => {
    s = await startCycleStack((c) => ({ ...c, mode: 'shadow' }));
    const dir = mkdtempSync(join(tmpdir(), 'file-history-'));
    const withFile = await buildRuntime({
      config: {
        ...s.stack.config,
        state: { ledgerPath: join(dir, 'ledger.db'), auditLogPath: join(dir, 'audit.jsonl') },
      },
      env: s.stack.env,
      contractNetworks: s.stack.contractNetworks,
      pricesPath: DEFAULT_PRICES_PATH,
    });
    try {
      await runCycle(s.runtime);
      await runCycle(withFile);
    } finally {
      withFile.close();
    }
    const decisionOf = (path: string) => {
      const records = parseAuditLog(readFileSync(path, 'utf8'));
      const record = records.find((r) => r.kind === 'decision')!;
      return {
        records,
        record,
        data: record.data as { inputs: DecisionInputs; targets: unknown; plan: unknown },
      };
    };
    const chain = decisionOf(s.stack.config.state.auditLogPath);
    const file = decisionOf(join(dir, 'audit.jsonl'));
    expect(chain.data.inputs.history!.source).toMatch(/^chain: AggregatorV3 rounds/);
    expect(file.data.inputs.history!.source).toBe(`price file ${DEFAULT_PRICES_PATH}`);
    // The chain's closes are the file's, rounded to the feeds' 8 decimals.
    for (const [symbol, closes] of Object.entries(file.data.inputs.snapshot.closes)) {
      const onChain = chain.data.inputs.snapshot.closes[symbol]!;
      expect(onChain).toHaveLength(closes.length);
      expect(onChain).toEqual(closes.map((c) => Number(priceToFeedAnswer(c!)) / 1e8));
    }
    expect(chain.data.targets).toEqual(file.data.targets);
    expect(chain.data.plan).toEqual(file.data.plan);
    // each lookback day's round id is logged: day k's close is round (first + k) of the seeded feed
    const rounds = chain.data.inputs.history!.rounds!;
    expect(Object.keys(rounds).sort()).toEqual(s.stack.config.tokens.map((t) => t.symbol).sort());
    expect(rounds.WETH).toHaveLength(chain.data.inputs.snapshot.lookbackDays + 1);
    expect(replayDecision(chain.records, chain.record.id).matches).toBe(true);
  });
});
