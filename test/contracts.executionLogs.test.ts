import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeFunctionData, type Hex, numberToHex } from 'viem';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_DEVNET_CONFIG } from '../cli/devnetCommand.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { safeArtifacts } from '../contracts/artifacts.ts';
import { makePublicClient } from '../contracts/chainClients.ts';
import { devAccount, devPrivateKey } from '../contracts/devAccounts.ts';
import {
  findDecisionExecution,
  findSafeExecution,
  isRangeRefusal,
  listDecisionExecutions,
} from '../contracts/executionLogs.ts';
import { type LocalDevnet, startDevnet } from '../contracts/localDevnet.ts';
import { ChainError } from '../shared/errors.ts';
import { execAsOwners } from './support/safeExec.ts';

/**
 * Finding executions with a public RPC's limits: an RPC proxy in front of anvil refuses eth_getLogs over more
 * than MAX_RANGE blocks (with Alchemy's wording), as free tiers do. The scans start at the planned block, never 0,
 * and split refused ranges until the RPC accepts them.
 */
const MAX_RANGE = 50n;

type Proxy = {
  url: string;
  ranges: { from: bigint; to: bigint; refused: boolean }[];
  failAll: boolean;
  close: () => Promise<void>;
};

async function startRangeLimitedProxy(target: string): Promise<Proxy> {
  const state: Proxy = { url: '', ranges: [], failAll: false, close: async () => {} };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as {
      id: number;
      method: string;
      params: { fromBlock?: string; toBlock?: string }[];
    };
    if (body.method === 'eth_getLogs') {
      const from = BigInt(body.params[0]?.fromBlock ?? '0x0');
      const to = BigInt(body.params[0]?.toBlock ?? '0x0');
      const refused = state.failAll || to - from + 1n > MAX_RANGE;
      state.ranges.push({ from, to, refused });
      if (refused) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: body.id,
            error: state.failAll
              ? { code: -32603, message: 'internal error' }
              : {
                  code: -32600,
                  message: `You can make eth_getLogs requests with up to a ${MAX_RANGE} block range. Based on your parameters, this block range should work: [${numberToHex(from)}, ${numberToHex(from + MAX_RANGE - 1n)}]`,
                },
          }),
        );
      }
    }
    const forwarded = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    res.writeHead(forwarded.status, { 'content-type': 'application/json' });
    res.end(await forwarded.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

let devnet: LocalDevnet;
let proxy: Proxy;
let executed: { safeTxHash: Hex; transactionHash: Hex; blockNumber: bigint };
let latest: bigint;

beforeAll(async () => {
  devnet = await startDevnet({ config: await loadConfig(DEFAULT_DEVNET_CONFIG) });
  const { chainId, rpcUrl, safe } = devnet.deployment;
  const direct = makePublicClient(chainId, rpcUrl);
  // An execution by the Safe (ExecutionSuccess), then 300 blocks on top of it (MAX_RANGE is scaled down to
  // keep the chain short: anvil mines a few hundred blocks a second).
  await direct.request({ method: 'anvil_mine' as never, params: [numberToHex(100)] as never });
  const { safeTxHash, receipt } = await execAsOwners({
    chainId,
    rpcUrl,
    safe: safe.address,
    ownerKeys: [devPrivateKey(1), devPrivateKey(2)],
    to: safe.address,
    data: encodeFunctionData({
      abi: safeArtifacts.safeL2.abi,
      functionName: 'enableModule',
      args: [devAccount(11).address],
    }),
  });
  executed = { safeTxHash, transactionHash: receipt.transactionHash, blockNumber: receipt.blockNumber };
  await direct.request({ method: 'anvil_mine' as never, params: [numberToHex(300)] as never });
  latest = await direct.getBlockNumber();
  proxy = await startRangeLimitedProxy(rpcUrl);
});

afterAll(async () => {
  await proxy?.close();
  await devnet?.stop();
});

beforeEach(() => {
  proxy.ranges.length = 0;
  proxy.failAll = false;
});

const client = () => makePublicClient(devnet.deployment.chainId, proxy.url);

describe('log queries against an RPC that refuses ranges wider than 50 blocks', () => {
  it('finds an execution from the planned block: refused ranges are halved, accepted ones stay within the limit', async () => {
    const planned = executed.blockNumber - 10n;
    const tx = await findSafeExecution(client(), {
      safe: devnet.deployment.safe.address,
      safeTxHash: executed.safeTxHash,
      fromBlock: planned,
    });
    expect(tx).toBe(executed.transactionHash);
    const accepted = proxy.ranges.filter((r) => !r.refused);
    const refused = proxy.ranges.filter((r) => r.refused);
    const span = latest - planned + 1n;
    expect(refused.map((r) => r.to - r.from + 1n)).toEqual([span, span / 2n, span / 4n]); // then span / 8 passes
    for (const r of accepted) expect(r.to - r.from + 1n).toBeLessThanOrEqual(MAX_RANGE);
    for (const r of proxy.ranges) expect(r.from).toBeGreaterThanOrEqual(planned);
    expect(accepted[0]!.to).toBe(latest); // newest first
  });

  it('a chunk size the RPC accepts (chain.logChunkBlocks) asks no refused range; the whole span is covered once', async () => {
    const from = executed.blockNumber - 123n;
    const found = await listDecisionExecutions(client(), {
      swapper: devnet.deployment.policySwapper,
      safe: devnet.deployment.safe.address,
      fromBlock: from,
      chunkBlocks: 50n,
    });
    expect(found).toEqual([]);
    expect(proxy.ranges.every((r) => !r.refused)).toBe(true);
    expect(proxy.ranges[0]!.from).toBe(from);
    expect(proxy.ranges.at(-1)!.to).toBe(latest);
    for (let i = 1; i < proxy.ranges.length; i++)
      expect(proxy.ranges[i]!.from).toBe(proxy.ranges[i - 1]!.to + 1n);
  });

  it('nothing found: undefined, never a range starting before the planned block', async () => {
    const planned = latest - 199n;
    expect(
      await findDecisionExecution(client(), {
        swapper: devnet.deployment.policySwapper,
        safe: devnet.deployment.safe.address,
        decisionHash: `0x${'ab'.repeat(32)}`,
        fromBlock: planned,
        chunkBlocks: 40n,
      }),
    ).toBeUndefined();
    expect(Math.min(...proxy.ranges.map((r) => Number(r.from)))).toBe(Number(planned));
    expect(proxy.ranges).toHaveLength(5);
  });

  it('an error that is not about the range: one ChainError naming the blocks, no halving', async () => {
    proxy.failAll = true;
    const error = await findSafeExecution(client(), {
      safe: devnet.deployment.safe.address,
      safeTxHash: executed.safeTxHash,
      fromBlock: latest - 100n,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(ChainError);
    expect(error.message).toMatch(
      /^cannot read the Safe's logs for blocks \d+–\d+ → is the RPC up\? .*chain\.logChunkBlocks/,
    );
    expect(proxy.ranges).toHaveLength(1);
  });
});

describe('isRangeRefusal', () => {
  it("recognises public RPCs' wording, and nothing else", () => {
    for (const message of [
      'You can make eth_getLogs requests with up to a 500 block range.',
      'query returned more than 10000 results',
      'eth_getLogs is limited to a 10,000 range',
      'block range is too wide',
      'exceed maximum block range: 50000',
      'Log response size exceeded.',
      'requested too many blocks from 0 to 19000000, maximum is set to 2048',
    ]) {
      expect(isRangeRefusal(new Error(message)), message).toBe(true);
    }
    expect(isRangeRefusal({ code: -32005, message: 'limit exceeded' })).toBe(true);
    for (const message of ['HTTP request failed.', 'internal error', 'execution reverted']) {
      expect(isRangeRefusal(new Error(message)), message).toBe(false);
    }
  });
});
