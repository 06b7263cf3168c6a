import {
  type Address,
  type Chain,
  getAddress,
  keccak256,
  type PublicClient,
  type Transport,
  zeroAddress,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { LlmConfig, TreasuryAgentConfig } from '../config/schema.ts';
import {
  aggregatorV3Abi,
  safeAbi,
  uniswapV2FactoryAbi,
  uniswapV2PairAbi,
  uniswapV2RouterAbi,
} from '../contracts/abis.ts';
import { projectArtifacts } from '../contracts/artifacts.ts';
import { makePublicClient } from '../contracts/chainClients.ts';
import { safeTransactionService } from '../contracts/transactionService.ts';
import { readSafeConfiguration } from '../contracts/treasuryReads.ts';
import type { HubSpace } from '../governance/hubReplies.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { redactUrl, redactUrlsIn } from '../shared/errors.ts';
import type { BackoffPolicy, Sleep } from '../shared/httpRetry.ts';
import { FEED_DECIMALS } from '../strategies/pricePolicy.ts';
import { type AgentSecrets, readSecrets, redactSecrets } from './secrets.ts';

/**
 * `treasury preflight`: checks a config against what is really there — the Safe, the feeds, the venue, the
 * Snapshot space, the Transaction Service and the LLM endpoint — before the agent runs on it. Each check is one
 * line: ✔, or ✖ with what to do. Nothing is written anywhere; keys are read from the environment, never printed.
 */
export type PreflightCheck = { ok: boolean; what: string; detail: string; fix?: string };

export type PreflightOptions = {
  config: TreasuryAgentConfig;
  env: Readonly<Record<string, string | undefined>>;
  /** For the hub, the Transaction Service and the LLM endpoint (tests pass local servers' URLs in the config). */
  fetch?: typeof globalThis.fetch;
  sleep?: Sleep;
  /** A preflight is interactive: fewer attempts and shorter waits than the agent's (default 2, ≤ 10 s). */
  retry?: Partial<BackoffPolicy>;
  client?: PublicClient<Transport, Chain>;
};

const ok = (what: string, detail: string): PreflightCheck => ({ ok: true, what, detail });
const fail = (what: string, detail: string, fix: string): PreflightCheck => ({
  ok: false,
  what,
  detail,
  fix,
});

/** The first line of an error, without URLs' credentials (errors of viem name the RPC URL). */
function reason(error: unknown): string {
  const e = error as { shortMessage?: string; message?: string };
  return redactUrlsIn(e?.shortMessage ?? e?.message?.split('\n')[0] ?? String(error));
}

const usd = (n: number) =>
  n >= 1e6 ? `$${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `$${(n / 1e3).toFixed(1)}k` : `$${n.toFixed(2)}`;
const hours = (s: number) => (s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

export async function runPreflight(options: PreflightOptions): Promise<PreflightCheck[]> {
  const { config } = options;
  const checks: PreflightCheck[] = [];
  let secrets: AgentSecrets;
  try {
    secrets = readSecrets(options.env, config.keys);
  } catch (error) {
    checks.push(fail('keys', reason(error), 'fix the variable named; its value is not shown'));
    secrets = { coSignerKeys: [] };
  }
  checks.push(agentKeyCheck(config, secrets));
  const client = options.client ?? makePublicClient(config.chain.id, config.chain.rpcUrl);
  const chain = await chainChecks(config, client);
  checks.push(...chain);
  checks.push(...(await spaceChecks(config, secrets, options)));
  checks.push(await transactionServiceCheck(config, secrets, options));
  checks.push(await llmCheck(config.llm, secrets, options.fetch ?? globalThis.fetch));
  // Whatever a check said, no key's value leaves this function.
  return checks.map((c) => ({
    ...c,
    detail: redactSecrets(c.detail, secrets),
    fix: c.fix === undefined ? undefined : redactSecrets(c.fix, secrets),
  }));
}

/** `✔ what: detail` or `✖ what: detail → fix`. */
export function formatCheck(check: PreflightCheck): string {
  return check.ok
    ? `✔ ${check.what}: ${check.detail}`
    : `✖ ${check.what}: ${check.detail}${check.fix ? ` → ${check.fix}` : ''}`;
}

function agentKeyCheck(config: TreasuryAgentConfig, secrets: AgentSecrets): PreflightCheck {
  const name = config.keys.agentKeyEnv;
  if (!secrets.agentKey) {
    return fail(
      'agent key',
      `${name} is not set`,
      `export the agent's private key as ${name} (never in the config)`,
    );
  }
  const address = privateKeyToAccount(secrets.agentKey).address;
  return address === config.safe.agent
    ? ok('agent key', `${name} is safe.agent ${config.safe.agent}`)
    : fail(
        'agent key',
        `${name} belongs to ${address}, not to safe.agent ${config.safe.agent}`,
        "export the agent's key, or fix safe.agent",
      );
}

async function chainChecks(
  config: TreasuryAgentConfig,
  client: PublicClient<Transport, Chain>,
): Promise<PreflightCheck[]> {
  const rpc = redactUrl(config.chain.rpcUrl);
  let block: { number: bigint; timestamp: bigint };
  try {
    const [chainId, latest] = await Promise.all([
      client.getChainId(),
      client.getBlock({ blockTag: 'latest' }),
    ]);
    if (chainId !== config.chain.id) {
      return [
        fail(
          'RPC',
          `${rpc} serves chain ${chainId}, the config says chain.id ${config.chain.id}`,
          'fix chain.rpcUrl or chain.id (the Safe, feeds and pools were not checked)',
        ),
      ];
    }
    block = latest;
  } catch (error) {
    return [
      fail(
        'RPC',
        `${rpc} does not answer: ${reason(error)}`,
        'fix chain.rpcUrl, or start the node (the Safe, feeds and pools were not checked)',
      ),
    ];
  }
  const at = { blockNumber: block.number };
  const now = Number(block.timestamp);
  const checks = [ok('RPC', `chain ${config.chain.id} at block ${block.number} (${rpc})`)];
  checks.push(...(await safeChecks(config, client, at)));
  checks.push(...(await feedChecks(config, client, at, now)));
  checks.push(...(await venueChecks(config, client, at)));
  checks.push(await swapperCheck(config, client, at));
  return checks;
}

async function safeChecks(
  config: TreasuryAgentConfig,
  client: PublicClient<Transport, Chain>,
  at: { blockNumber: bigint },
): Promise<PreflightCheck[]> {
  const safe = config.safe.address;
  if (!safe) {
    return [
      fail(
        'Safe',
        'safe.address is not set',
        'set the DAO Safe (on the devnet: treasury devnet --write-config FILE writes it)',
      ),
    ];
  }
  const code = await client.getCode({ address: safe, ...at }).catch(() => undefined);
  if (!code || code === '0x') {
    return [
      fail('Safe', `no contract at safe.address ${safe} on chain ${config.chain.id}`, 'fix safe.address'),
    ];
  }
  let version: string;
  let owners: readonly Address[];
  let threshold: number;
  let modules: readonly Address[];
  let guard: Address;
  try {
    const [v, reading] = await Promise.all([
      client.readContract({ address: safe, abi: safeAbi, functionName: 'VERSION', ...at }) as Promise<string>,
      readSafeConfiguration(client, { safe, blockNumber: at.blockNumber }),
    ]);
    version = v;
    ({ owners, threshold, modules, guard } = reading);
  } catch (error) {
    return [
      fail(
        'Safe',
        `${safe} does not answer as a Safe: ${reason(error)}`,
        'safe.address must be a Safe (1.3.0 or later; the agent is tested with 1.4.1)',
      ),
    ];
  }
  const checks = [ok('Safe', `${safe}, Safe ${version}`)];
  const missing = config.safe.owners.filter((o) => !owners.includes(o));
  const extra = owners.filter((o) => !config.safe.owners.includes(o));
  checks.push(
    missing.length || extra.length
      ? fail(
          'Safe owners',
          [
            missing.length ? `not owners on chain: ${missing.join(', ')}` : '',
            extra.length ? `owners on chain missing from safe.owners: ${extra.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; '),
          "make safe.owners the Safe's owners (or change the Safe's owners)",
        )
      : ok('Safe owners', `the ${owners.length} owners of safe.owners`),
  );
  checks.push(
    threshold === config.safe.threshold
      ? ok('Safe threshold', `${threshold} of ${owners.length}, as safe.threshold`)
      : fail(
          'Safe threshold',
          `${threshold} of ${owners.length} on chain, safe.threshold says ${config.safe.threshold}`,
          `set safe.threshold: ${threshold}, or change the Safe's threshold`,
        ),
  );
  const agent = config.safe.agent;
  checks.push(
    !owners.includes(agent)
      ? fail('agent', `${agent} is not an owner of the Safe`, 'add the agent as one owner of the Safe')
      : threshold < 2
        ? fail(
            'agent',
            `${agent} is an owner and the threshold is ${threshold}: the agent alone can move funds`,
            'raise the Safe threshold to 2 or more',
          )
        : ok('agent', `${agent} is an owner, below threshold (1 of the ${threshold} signatures needed)`),
  );
  const expected = config.safe.modules ?? [];
  const unexpected = modules.filter((m) => !expected.includes(getAddress(m)));
  const absent = expected.filter((m) => !modules.map((x) => getAddress(x)).includes(m));
  checks.push(
    unexpected.length
      ? fail(
          'Safe modules',
          `enabled and not in safe.modules: ${unexpected.join(', ')} (a module moves funds without the owners' signatures)`,
          'disable it on the Safe, or list it in safe.modules if the DAO enabled it on purpose',
        )
      : absent.length
        ? fail(
            'Safe modules',
            `safe.modules lists ${absent.join(', ')}, not enabled on the Safe`,
            'fix safe.modules',
          )
        : ok(
            'Safe modules',
            modules.length ? `${modules.join(', ')}, as safe.modules lists` : 'none enabled',
          ),
  );
  const expectedGuard = config.safe.guard ?? zeroAddress;
  checks.push(
    guard === expectedGuard
      ? ok('Safe guard', guard === zeroAddress ? 'none set' : `${guard}, as safe.guard`)
      : fail(
          'Safe guard',
          guard === zeroAddress
            ? `none set, safe.guard says ${expectedGuard}`
            : `${guard} is set (a guard can refuse every transaction the agent executes)${config.safe.guard ? `, safe.guard says ${config.safe.guard}` : ''}`,
          guard === zeroAddress
            ? 'fix safe.guard'
            : 'remove it from the Safe, or set safe.guard if the DAO set it on purpose',
        ),
  );
  return checks;
}

async function feedChecks(
  config: TreasuryAgentConfig,
  client: PublicClient<Transport, Chain>,
  at: { blockNumber: bigint },
  now: number,
): Promise<PreflightCheck[]> {
  const limit = config.observe.maxFeedAgeSeconds;
  return Promise.all(
    config.tokens.map(async (token): Promise<PreflightCheck> => {
      const what = `feed ${token.symbol}/USD`;
      if (!token.feed)
        return fail(what, 'tokens[].feed is not set', 'set the Chainlink USD feed of the token');
      try {
        const [[, answer, , updatedAt], decimals] = await Promise.all([
          client.readContract({
            address: token.feed,
            abi: aggregatorV3Abi,
            functionName: 'latestRoundData',
            ...at,
          }),
          client.readContract({ address: token.feed, abi: aggregatorV3Abi, functionName: 'decimals', ...at }),
        ]);
        const age = now - Number(updatedAt);
        const where = `${token.feed}`;
        if (decimals !== FEED_DECIMALS) {
          return fail(
            what,
            `${where} reports ${decimals} decimals; USD feeds have ${FEED_DECIMALS}`,
            `use the token's USD feed (${FEED_DECIMALS} decimals)`,
          );
        }
        if (answer <= 0n) return fail(what, `${where} answers ${answer}`, 'the feed is broken: use another');
        const price = `$${(Number(answer) / 10 ** FEED_DECIMALS).toPrecision(6)}`;
        if (age < 0)
          return fail(what, `${where}: ${price}, dated ${-age} s after the latest block`, 'check the feed');
        if (age > limit) {
          return fail(
            what,
            `${where}: ${price}, updated ${hours(age)} ago (limit observe.maxFeedAgeSeconds = ${hours(limit)})`,
            'the feed is stale: use a live feed, or raise observe.maxFeedAgeSeconds to its heartbeat',
          );
        }
        return ok(
          what,
          `${where}: ${price}, ${decimals} decimals, updated ${hours(age)} ago (limit ${hours(limit)})`,
        );
      } catch (error) {
        return fail(
          what,
          `${token.feed} does not answer as an AggregatorV3: ${reason(error)}`,
          'fix tokens[].feed',
        );
      }
    }),
  );
}

async function venueChecks(
  config: TreasuryAgentConfig,
  client: PublicClient<Transport, Chain>,
  at: { blockNumber: bigint },
): Promise<PreflightCheck[]> {
  if (!config.router)
    return [fail('router', 'router is not set', 'set the Uniswap V2 router the Safe trades on')];
  let factory: Address;
  try {
    factory = await client.readContract({
      address: config.router,
      abi: uniswapV2RouterAbi,
      functionName: 'factory',
      ...at,
    });
  } catch (error) {
    return [fail('router', `${config.router} has no Uniswap V2 factory(): ${reason(error)}`, 'fix router')];
  }
  const checks = [ok('router', `${config.router} (Uniswap V2, factory ${factory})`)];
  const quote = config.tokens.find((t) => t.symbol === 'USDC');
  if (!quote?.address) return [...checks, fail('pools', 'USDC has no address', 'set tokens[USDC].address')];
  // A trade of guardrails.minTradeUsd must move a pool's price by at most guardrails.maxPriceImpactBps:
  // for x·y = k that takes a quote reserve of at least minTradeUsd × 10,000 / maxPriceImpactBps.
  const { minTradeUsd, maxPriceImpactBps } = config.guardrails;
  const minDepth = (minTradeUsd * 10_000) / maxPriceImpactBps;
  for (const token of config.tokens) {
    if (token.symbol === 'USDC') continue;
    const what = `pool ${token.symbol}/USDC`;
    if (!token.address) {
      checks.push(fail(what, `${token.symbol} has no address`, 'set tokens[].address'));
      continue;
    }
    try {
      const pair = await client.readContract({
        address: factory,
        abi: uniswapV2FactoryAbi,
        functionName: 'getPair',
        args: [token.address, quote.address],
        ...at,
      });
      if (BigInt(pair) === 0n) {
        checks.push(
          fail(
            what,
            `the factory has no ${token.symbol}/USDC pair`,
            'the agent prices and trades every token against USDC there: pick a venue with the pair',
          ),
        );
        continue;
      }
      const [[r0, r1], token0] = await Promise.all([
        client.readContract({ address: pair, abi: uniswapV2PairAbi, functionName: 'getReserves', ...at }),
        client.readContract({ address: pair, abi: uniswapV2PairAbi, functionName: 'token0', ...at }),
      ]);
      const quoteReserve = getAddress(token0) === getAddress(quote.address) ? r0 : r1;
      const depth = Number(quoteReserve) / 10 ** quote.decimals;
      checks.push(
        depth >= minDepth
          ? ok(what, `${pair} holds ${usd(depth)} of USDC (at least ${usd(minDepth)} needed)`)
          : fail(
              what,
              `${pair} holds ${usd(depth)} of USDC: a ${usd(minTradeUsd)} trade (guardrails.minTradeUsd) would move it more than guardrails.maxPriceImpactBps (${maxPriceImpactBps} bps)`,
              `pick a venue with at least ${usd(minDepth)} of USDC in the pool, or drop ${token.symbol}`,
            ),
      );
    } catch (error) {
      checks.push(fail(what, `cannot read the pair: ${reason(error)}`, 'check router and tokens[].address'));
    }
  }
  return checks;
}

async function swapperCheck(
  config: TreasuryAgentConfig,
  client: PublicClient<Transport, Chain>,
  at: { blockNumber: bigint },
): Promise<PreflightCheck> {
  const what = 'PolicySwapper';
  const swapper = config.execution.policySwapper;
  if (!swapper) {
    return fail(
      what,
      'execution.policySwapper is not set',
      'deploy contracts/solidity/PolicySwapper.sol once on the chain and set it',
    );
  }
  const code = await client.getCode({ address: swapper, ...at }).catch(() => undefined);
  if (!code || code === '0x') {
    return fail(
      what,
      `execution.policySwapper ${swapper} has no code on chain ${config.chain.id}`,
      'deploy contracts/solidity/PolicySwapper.sol there, or fix the address',
    );
  }
  // PolicySwapper has no constructor and no immutables: its runtime code is what its init code returns.
  const expected = await client
    .call({ data: projectArtifacts.policySwapper.bytecode, ...at })
    .then((r) => r.data)
    .catch(() => undefined);
  if (!expected)
    return ok(
      what,
      `${swapper} has code (${(code.length - 2) / 2} bytes; not compared: the RPC refused the comparison)`,
    );
  return keccak256(code) === keccak256(expected)
    ? ok(what, `${swapper} runs PolicySwapper's code (contracts/solidity/build)`)
    : fail(
        what,
        `${swapper} has code, but not contracts/solidity/build's PolicySwapper`,
        'deploy contracts/solidity/PolicySwapper.sol from this build and set execution.policySwapper',
      );
}

async function spaceChecks(
  config: TreasuryAgentConfig,
  secrets: AgentSecrets,
  options: PreflightOptions,
): Promise<PreflightCheck[]> {
  const g = config.governance;
  const hub = redactUrl(g.hubUrl);
  const reader = createSnapshotClient({
    hubUrl: g.hubUrl,
    // Reads only: nothing is signed, so any key will do.
    account: privateKeyToAccount(secrets.agentKey ?? generatePrivateKey()),
    apiKey: secrets.snapshotApiKey,
    fetch: options.fetch,
    sleep: options.sleep,
    retry: { attempts: 2, maxRetryAfterMs: 10_000, ...options.retry },
  });
  let space: HubSpace | null;
  try {
    space = await reader.getSpace(g.space);
  } catch (error) {
    return [
      fail(
        'Snapshot hub',
        `${hub}: ${reason(error)}`,
        (error as { hint?: string }).hint ?? 'check governance.hubUrl',
      ),
    ];
  }
  const keyNote = secrets.snapshotApiKey
    ? 'with TREASURY_SNAPSHOT_API_KEY'
    : /hub\.snapshot\.org/.test(g.hubUrl)
      ? 'no TREASURY_SNAPSHOT_API_KEY: the public limit of about 100 requests a minute per IP'
      : 'no API key';
  if (!space) {
    return [
      fail(
        'Snapshot space',
        `${g.space} does not exist on ${hub} (${keyNote})`,
        'create it (snapshot.org) or fix governance.space',
      ),
    ];
  }
  const checks = [ok('Snapshot space', `${g.space} on ${hub} (${keyNote})`)];
  const what = (s: string) => `space ${s}`;
  const setting = (name: string, actual: unknown, expected: unknown, field: string, fix: string) =>
    actual === expected
      ? ok(what(name), `${String(actual)}, as ${field}`)
      : fail(
          what(name),
          `${actual === null || actual === undefined ? 'not set' : String(actual)} on the hub, ${field} is ${String(expected)}`,
          fix,
        );
  checks.push(
    setting(
      'network',
      space.network,
      String(config.chain.id),
      'chain.id',
      "set the space's network to the chain of the Safe",
    ),
  );
  const v = space.voting;
  checks.push(
    setting(
      'voting type',
      v?.type ?? null,
      'basic',
      'what the agent posts',
      'set the voting type to basic (For, Against, Abstain) in the space settings',
    ),
  );
  checks.push(
    setting(
      'voting delay',
      v?.delay ?? 0,
      g.votingDelaySeconds,
      'governance.votingDelaySeconds',
      'make the two equal (the hub refuses a proposal whose start is not now + the delay)',
    ),
  );
  checks.push(
    setting(
      'voting period',
      v?.period ?? null,
      g.votingPeriodSeconds,
      'governance.votingPeriodSeconds',
      'make the two equal (the hub refuses a proposal whose end − start is not the period)',
    ),
  );
  checks.push(
    setting(
      'quorum',
      v?.quorum ?? 0,
      g.quorum,
      'governance.quorum',
      "make the two equal: voters read the space's quorum, the agent applies governance.quorum",
    ),
  );
  const gov = config.tokens.find((t) => t.role === 'governance');
  const strategies = space.strategies.filter((s) => s !== null);
  const only = strategies.length === 1 ? strategies[0] : undefined;
  const params = (only?.params ?? {}) as { address?: unknown };
  checks.push(
    only?.name === 'erc20-balance-of' &&
      typeof params.address === 'string' &&
      gov?.address !== undefined &&
      params.address.toLowerCase() === gov.address.toLowerCase()
      ? ok(what('strategy'), `erc20-balance-of on ${gov.symbol} ${gov.address}`)
      : fail(
          what('strategy'),
          `${JSON.stringify(strategies.map((s) => ({ name: s.name, address: (s.params as { address?: unknown })?.address })))}`,
          `use exactly one strategy, erc20-balance-of on the governance token ${gov?.address ?? '(tokens[role governance].address)'}: the agent recomputes every tally with it`,
        ),
  );
  const authors = [...(space.members ?? []), ...(space.admins ?? []), ...(space.moderators ?? [])].map((a) =>
    a.toLowerCase(),
  );
  const onlyMembers = space.filters?.onlyMembers === true;
  checks.push(
    onlyMembers
      ? ok(what('who may propose'), `only its ${authors.length} members, admins and moderators (onlyMembers)`)
      : fail(
          what('who may propose'),
          `anyone${space.filters?.minScore ? ` with a score of ${space.filters.minScore}` : ''} who passes the space's proposal validation`,
          "turn on 'only members' (authors) in the space settings: treasury proposals should come from the agent and the stewards only",
        ),
  );
  const agentIsAuthor = authors.includes(config.safe.agent.toLowerCase());
  checks.push(
    agentIsAuthor
      ? ok('agent may propose', `${config.safe.agent} is a member of ${g.space}`)
      : fail(
          'agent may propose',
          onlyMembers
            ? `${config.safe.agent} is not a member, admin or moderator: the hub refuses its proposals ("only space authors can propose")`
            : `${config.safe.agent} is not a member: its proposals depend on the space's validation (minScore ${space.filters?.minScore ?? 0}) at posting time`,
          "add the agent's address to the space's members (authors)",
        ),
  );
  return checks;
}

async function transactionServiceCheck(
  config: TreasuryAgentConfig,
  secrets: AgentSecrets,
  options: PreflightOptions,
): Promise<PreflightCheck> {
  const what = 'Transaction Service';
  if (config.execution.coSigning !== 'safe-transaction-service') {
    return config.chain.id === 31337
      ? ok(what, 'not used: co-signing with local keys (TREASURY_COSIGNER_KEYS), the devnet')
      : fail(
          what,
          `execution.coSigning is local-keys on chain ${config.chain.id}: the co-signers' keys would be on the agent's machine`,
          "set execution.coSigning: safe-transaction-service (and TREASURY_SAFE_API_KEY for Safe's hosted service)",
        );
  }
  let service: ReturnType<typeof safeTransactionService>;
  try {
    service = safeTransactionService({
      chainId: config.chain.id,
      txServiceUrl: config.execution.transactionServiceUrl,
      apiKey: secrets.safeApiKey,
      fetch: options.fetch,
      sleep: options.sleep,
      retry: { attempts: 2, maxRetryAfterMs: 10_000, ...options.retry },
    });
  } catch (error) {
    return fail(
      what,
      reason(error),
      (error as { hint?: string }).hint ?? 'check execution.transactionServiceUrl',
    );
  }
  const where = service.name.replace(/^safe-transaction-service /, '');
  if (!config.safe.address) return fail(what, `${where}: safe.address is not set`, 'set safe.address');
  try {
    const info = await service.safeInfo(config.safe.address);
    if (!info) {
      return fail(
        what,
        `${where} does not know the Safe ${config.safe.address}`,
        `is it the service of chain ${config.chain.id}? fix execution.transactionServiceUrl`,
      );
    }
    return ok(
      what,
      `${where} knows the Safe (nonce ${info.nonce}, ${info.threshold} of ${info.owners.length})${secrets.safeApiKey ? ', with TREASURY_SAFE_API_KEY' : ''}`,
    );
  } catch (error) {
    const e = error as { shortMessage?: string; hint?: string };
    return fail(
      what,
      redactUrlsIn(e.shortMessage ?? reason(error)),
      e.hint ?? 'check execution.transactionServiceUrl',
    );
  }
}

/** Where each provider answers a cheap authenticated read (a model list), and the key it needs. */
async function llmCheck(
  llm: LlmConfig,
  secrets: AgentSecrets,
  fetchFn: typeof globalThis.fetch,
): Promise<PreflightCheck> {
  const what = 'LLM';
  if (llm.provider === 'deterministic') return ok(what, 'the deterministic writer (no endpoint, no key)');
  const { DEFAULT_MODELS } = await import('./draft/chatModels.ts');
  const model = llm.model ?? DEFAULT_MODELS[llm.provider];
  const probe =
    llm.provider === 'openai'
      ? {
          key: secrets.openaiApiKey,
          variable: 'OPENAI_API_KEY',
          url: `${(llm.baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, '')}/models`,
          headers: (k: string): Record<string, string> => ({ authorization: `Bearer ${k}` }),
        }
      : llm.provider === 'anthropic'
        ? {
            key: secrets.anthropicApiKey,
            variable: 'ANTHROPIC_API_KEY',
            url: `${(llm.baseUrl ?? 'https://api.anthropic.com').replace(/\/+$/, '')}/v1/models`,
            headers: (k: string): Record<string, string> => ({
              'x-api-key': k,
              'anthropic-version': '2023-06-01',
            }),
          }
        : {
            key: 'none',
            variable: '',
            url: `${(llm.baseUrl ?? 'http://127.0.0.1:11434').replace(/\/+$/, '')}/api/tags`,
            headers: (): Record<string, string> => ({}),
          };
  if (!probe.key) {
    return fail(
      what,
      `llm.provider is ${llm.provider} but ${probe.variable} is not set`,
      `export ${probe.variable}, or set llm.provider: deterministic`,
    );
  }
  const where = redactUrl(probe.url);
  let reply: Response;
  try {
    reply = await fetchFn(probe.url, {
      headers: { accept: 'application/json', ...probe.headers(probe.key) },
      signal: AbortSignal.timeout(llm.timeoutMs),
    });
  } catch (error) {
    return fail(
      what,
      `${where} does not answer: ${reason(error)}`,
      'check llm.baseUrl and the network (the agent falls back to the deterministic writer)',
    );
  }
  const text = await reply.text().catch(() => '');
  if (reply.status === 401 || reply.status === 403) {
    return fail(what, `${where} refused ${probe.variable} (HTTP ${reply.status})`, `fix ${probe.variable}`);
  }
  if (!reply.ok) return fail(what, `${where} answered HTTP ${reply.status}`, 'check llm.baseUrl');
  let ids: string[] = [];
  try {
    const json = JSON.parse(text) as {
      data?: { id?: string }[];
      models?: { name?: string; model?: string }[];
    };
    ids = [
      ...(json.data ?? []).map((m) => m.id ?? ''),
      ...(json.models ?? []).flatMap((m) => [m.name ?? '', m.model ?? '']),
    ].filter(Boolean);
  } catch {
    // an endpoint that answers something else: reachable, model not checked
  }
  const found = ids.some((id) => id === model || id === `${model}:latest`);
  if (ids.length && !found) {
    return fail(
      what,
      `${where} answers, but has no model ${model}`,
      llm.provider === 'ollama' ? `ollama pull ${model}, or set llm.model` : 'fix llm.model',
    );
  }
  return ok(what, `${llm.provider} at ${where} answers${ids.length ? `, model ${model} available` : ''}`);
}
