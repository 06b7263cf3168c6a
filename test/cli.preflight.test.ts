import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFunctionData, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalStack, startLocalStack } from '../agent/localStack.ts';
import { formatCheck, type PreflightCheck, runPreflight } from '../agent/preflight.ts';
import { main } from '../cli/cli.ts';
import { DEFAULT_DEVNET_CONFIG, devnetAgentConfig } from '../cli/devnetCommand.ts';
import { configToYaml } from '../config/configYaml.ts';
import { loadConfig } from '../config/loadConfig.ts';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { aggregatorV3Abi } from '../contracts/abis.ts';
import { safeArtifacts } from '../contracts/artifacts.ts';
import { makePublicClient, makeWalletClient } from '../contracts/chainClients.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import {
  type FakeSafeTransactionService,
  startFakeSafeTransactionService,
} from './support/fakeSafeTransactionService.ts';
import { execAsOwners } from './support/safeExec.ts';

/**
 * `treasury preflight` on the devnet and the local hub (the full local stack): every check passes for the
 * stack's own config; then one thing at a time is made wrong and the ✖ line says what and what to do.
 */
const SAFE_KEY = 'eyJhbGciOiJIUzI1NiJ9.preflight-safe-key.sig';

let stack: LocalStack;
let dir: string;
let config: TreasuryAgentConfig;
let safeService: FakeSafeTransactionService;
let ollama: Server;
let ollamaUrl: string;

/** Writes `edit(config)` to a file and runs `treasury preflight --config FILE` in-process. */
async function preflight(edit: (c: TreasuryAgentConfig) => TreasuryAgentConfig = (c) => c) {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(path, configToYaml(edit(config)));
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['preflight', '--config', path], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out, err, text: [...out, ...err].join('\n') };
}

const line = (text: string, start: string) => text.split('\n').find((l) => l.startsWith(start));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treasury-preflight-'));
  const base = await loadConfig(DEFAULT_DEVNET_CONFIG);
  stack = await startLocalStack({ config: base, memberStakes: [1_000_000] });
  config = devnetAgentConfig(stack.config);
  for (const [name, value] of Object.entries(stack.env)) vi.stubEnv(name, value);
  safeService = await startFakeSafeTransactionService({ apiKey: SAFE_KEY });
  safeService.safes.set(config.safe.address!, {
    owners: config.safe.owners,
    threshold: 2,
    nonce: 0,
    modules: [],
    guard: '0x0000000000000000000000000000000000000000',
  });
  ollama = createServer((req, res) => {
    res.writeHead(req.url === '/api/tags' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ models: [{ name: 'llama3.1:latest', model: 'llama3.1:latest' }] }));
  });
  await new Promise<void>((resolve) => ollama.listen(0, '127.0.0.1', resolve));
  ollamaUrl = `http://127.0.0.1:${(ollama.address() as AddressInfo).port}`;
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise<void>((resolve) => ollama?.close(() => resolve()));
  await safeService?.close();
  await stack?.stop();
});

describe('treasury preflight', () => {
  it("passes every check for the stack's own config, one line each", async () => {
    const { code, out, text } = await preflight();
    expect(text).not.toContain('✖');
    expect(code).toBe(0);
    for (const start of [
      '✔ agent key: TREASURY_AGENT_KEY is safe.agent',
      '✔ RPC: chain 31337 at block',
      '✔ Safe: 0x',
      '✔ Safe owners: the 3 owners of safe.owners',
      '✔ Safe threshold: 2 of 3, as safe.threshold',
      '✔ agent: 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 is an owner, below threshold',
      '✔ Safe modules: none enabled',
      '✔ Safe guard: none set',
      '✔ feed WETH/USD: 0x',
      '✔ router: 0x',
      '✔ pool WBTC/USDC: 0x',
      '✔ PolicySwapper: 0x',
      '✔ Snapshot space: treasury-dao.eth on http://127.0.0.1:',
      '✔ space network: 31337, as chain.id',
      '✔ space voting type: basic',
      '✔ space voting delay: 0, as governance.votingDelaySeconds',
      '✔ space voting period: 172800, as governance.votingPeriodSeconds',
      '✔ space quorum: 1000000, as governance.quorum',
      '✔ space strategy: erc20-balance-of on GOV',
      '✔ space who may propose: only its',
      '✔ agent may propose: 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 is a member',
      '✔ Transaction Service: not used',
      '✔ LLM: the deterministic writer',
    ]) {
      expect(line(text, start), start).toBeDefined();
    }
    expect(line(text, '✔ PolicySwapper')).toMatch(/runs PolicySwapper's code/);
    expect(out.at(-1)).toMatch(/^all \d+ checks passed$/);
  });

  it('a wrong threshold in the config: ✖ with the value on chain, exit 1', async () => {
    const { code, text, err } = await preflight((c) => ({ ...c, safe: { ...c.safe, threshold: 3 } }));
    expect(code).toBe(1);
    expect(line(text, '✖ Safe threshold')).toBe(
      "✖ Safe threshold: 2 of 3 on chain, safe.threshold says 3 → set safe.threshold: 2, or change the Safe's threshold",
    );
    expect(text.match(/^✖/gm)).toHaveLength(2); // the line, and the summary
    expect(err.at(-1)).toMatch(/^✖ 1 of \d+ checks failed/);
  });

  it('space settings that differ from the config: one ✖ per setting', async () => {
    const { code, text } = await preflight((c) => ({
      ...c,
      governance: { ...c.governance, votingPeriodSeconds: 3 * 86_400, quorum: 5 },
    }));
    expect(code).toBe(1);
    expect(line(text, '✖ space voting period')).toBe(
      '✖ space voting period: 172800 on the hub, governance.votingPeriodSeconds is 259200 → make the two equal (the hub refuses a proposal whose end − start is not the period)',
    );
    expect(line(text, '✖ space quorum')).toMatch(
      /^✖ space quorum: 1000000 on the hub, governance.quorum is 5 → /,
    );
  });

  it('a stale feed: ✖ for that feed only', async () => {
    const client = makePublicClient(config.chain.id, config.chain.rpcUrl);
    const deployer = makeWalletClient(config.chain.id, config.chain.rpcUrl, devAccount(0));
    const weth = config.tokens.find((t) => t.symbol === 'WETH')!.feed!;
    const [, answer] = await client.readContract({
      address: weth,
      abi: aggregatorV3Abi,
      functionName: 'latestRoundData',
    });
    const now = Number((await client.getBlock()).timestamp);
    const post = async (data: Hex) =>
      client.waitForTransactionReceipt({ hash: await deployer.sendTransaction({ to: weth, data }) });
    await post(
      encodeFunctionData({
        abi: aggregatorV3Abi,
        functionName: 'updateAnswerAt',
        args: [answer, BigInt(now - 3 * 86_400)],
      }),
    );
    try {
      const { code, text } = await preflight();
      expect(code).toBe(1);
      expect(line(text, '✖ feed WETH/USD')).toMatch(
        /^✖ feed WETH\/USD: 0x[0-9a-fA-F]{40}: \$[\d.]+, updated 72\.\d h ago \(limit observe\.maxFeedAgeSeconds = 48\.0 h\) → the feed is stale: use a live feed, or raise observe\.maxFeedAgeSeconds to its heartbeat$/,
      );
      expect(text.match(/^✖ feed/gm)).toHaveLength(1);
    } finally {
      await post(encodeFunctionData({ abi: aggregatorV3Abi, functionName: 'updateAnswer', args: [answer] }));
    }
  });

  it('the Transaction Service and an LLM endpoint, when configured: reachable, key sent, key never printed', async () => {
    vi.stubEnv('TREASURY_SAFE_API_KEY', SAFE_KEY);
    const withServices = (c: TreasuryAgentConfig): TreasuryAgentConfig => ({
      ...c,
      execution: {
        ...c.execution,
        coSigning: 'safe-transaction-service',
        transactionServiceUrl: safeService.url,
      },
      llm: { ...c.llm, provider: 'ollama', model: 'llama3.1', baseUrl: ollamaUrl },
    });
    const good = await preflight(withServices);
    expect(good.code).toBe(0);
    expect(line(good.text, '✔ Transaction Service')).toBe(
      `✔ Transaction Service: ${safeService.url} knows the Safe (nonce 0, 2 of 3), with TREASURY_SAFE_API_KEY`,
    );
    expect(safeService.requests.at(-1)?.headers.authorization).toBe(`Bearer ${SAFE_KEY}`);
    expect(line(good.text, '✔ LLM')).toBe(
      `✔ LLM: ollama at ${ollamaUrl}/api/tags answers, model llama3.1 available`,
    );

    vi.stubEnv('TREASURY_SAFE_API_KEY', 'a-wrong-key-0123456789');
    const bad = await preflight((c) => {
      const s = withServices(c);
      return { ...s, llm: { ...s.llm, model: 'qwen2.5' } };
    });
    expect(bad.code).toBe(1);
    expect(line(bad.text, '✖ Transaction Service')).toMatch(
      /HTTP 401 "Incorrect authentication credentials\."\) → TREASURY_SAFE_API_KEY was refused/,
    );
    expect(line(bad.text, '✖ LLM')).toBe(
      `✖ LLM: ${ollamaUrl}/api/tags answers, but has no model qwen2.5 → ollama pull qwen2.5, or set llm.model`,
    );
    for (const secret of ['a-wrong-key-0123456789', SAFE_KEY, stack.env.TREASURY_AGENT_KEY!.slice(2)]) {
      expect(good.text + bad.text).not.toContain(secret);
    }
    vi.stubEnv('TREASURY_SAFE_API_KEY', '');
  });

  it('without the agent key: ✖ naming the variable', async () => {
    const checks: PreflightCheck[] = await runPreflight({ config, env: {} });
    expect(formatCheck(checks[0]!)).toBe(
      "✖ agent key: TREASURY_AGENT_KEY is not set → export the agent's private key as TREASURY_AGENT_KEY (never in the config)",
    );
    expect(checks.filter((c) => !c.ok)).toHaveLength(1);
  });

  it('a module enabled on the Safe: ✖ until safe.modules lists it', async () => {
    const module = devAccount(11).address;
    const { receipt } = await execAsOwners({
      chainId: config.chain.id,
      rpcUrl: config.chain.rpcUrl,
      safe: config.safe.address!,
      ownerKeys: [stack.env.TREASURY_AGENT_KEY!, stack.env.TREASURY_COSIGNER_KEYS!.split(',')[0]!] as Hex[],
      to: config.safe.address!,
      data: encodeFunctionData({
        abi: safeArtifacts.safeL2.abi,
        functionName: 'enableModule',
        args: [module],
      }),
    });
    expect(receipt.status).toBe('success');
    const { code, text } = await preflight();
    expect(code).toBe(1);
    expect(line(text, '✖ Safe modules')).toBe(
      `✖ Safe modules: enabled and not in safe.modules: ${module} (a module moves funds without the owners' signatures) → disable it on the Safe, or list it in safe.modules if the DAO enabled it on purpose`,
    );
    const listed = await preflight((c) => ({ ...c, safe: { ...c.safe, modules: [module] } }));
    expect(line(listed.text, '✔ Safe modules')).toBe(`✔ Safe modules: ${module}, as safe.modules lists`);
    expect(listed.code).toBe(0);
  });
});
