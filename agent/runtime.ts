import { createRequire } from 'node:module';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { uniswapV2RouterAbi } from '../contracts/abis.ts';
import { makePublicClient } from '../contracts/chainClients.ts';
import { contractNetworksFor } from '../contracts/devnet.ts';
import { safeTransactionService, type TransactionService } from '../contracts/transactionService.ts';
import { type Clock, chainClock, systemClock } from '../governance/clock.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';
import { ChainError, ConfigError } from '../shared/errors.ts';
import { loadPriceHistory } from '../strategies/priceHistory.ts';
import { AuditLog } from './auditLog.ts';
import { CRASH_POINTS, type CrashPoint, type CycleDeps } from './cycle.ts';
import { deterministicWriter } from './draft/deterministicWriter.ts';
import type { RationaleWriter } from './draft/types.ts';
import { ledgerLocationOf, openLedger } from './ledger.ts';
import { chainMarketHistory, fileMarketHistory } from './marketHistory.ts';
import { readSecrets } from './secrets.ts';
import type { SharedClients } from './sharedClients.ts';

/**
 * The composition root: the one place that reads the environment and builds clients, ports and stores from
 * the config. Everything else takes what it needs as arguments.
 */
export type RuntimeOptions = {
  config: TreasuryAgentConfig;
  env: Readonly<Record<string, string | undefined>>;
  /** Default: the chain's latest block time on the devnet (31337), the wall clock elsewhere. */
  clock?: Clock;
  writer?: RationaleWriter;
  log?: (line: string) => void;
  /**
   * A price file to take the lookback from instead of the feeds' past rounds (backtest-style runs, tests);
   * absent: the chain's history, kept in the ledger.
   */
  pricesPath?: string;
  /** Default per execution.coSigning: the Safe Transaction Service (TREASURY_SAFE_API_KEY for Safe's hosted one). */
  transactionService?: TransactionService;
  /** protocol-kit contract addresses for chains without a safe-deployments entry (the devnet). */
  contractNetworks?: CycleDeps['contracts']['contractNetworks'];
  /**
   * What the DAOs of one process share (public clients, clocks, PostgreSQL pools, reads done once); the caller
   * closes it. Default: this runtime's own.
   */
  shared?: SharedClients;
};

export type Runtime = CycleDeps & { close: () => Promise<void> };

function canonicalMultiSendCallOnly(chainId: number): Address | undefined {
  const require = createRequire(import.meta.url);
  const deployments = require('@safe-global/safe-deployments') as {
    getMultiSendCallOnlyDeployment: (f: {
      version: string;
      network: string;
    }) => { networkAddresses: Record<string, string | string[]> } | undefined;
  };
  const found = deployments.getMultiSendCallOnlyDeployment({ version: '1.4.1', network: String(chainId) })
    ?.networkAddresses[String(chainId)];
  return (Array.isArray(found) ? found[0] : found) as Address | undefined;
}

export async function buildRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config } = options;
  const secrets = readSecrets(options.env, config.keys);
  const agentKeyEnv = config.keys.agentKeyEnv;
  if (!secrets.agentKey) {
    throw new ConfigError(`${agentKeyEnv} is not set`, {
      hint: 'export the agent key in the environment (never in the config file)',
    });
  }
  const agent = privateKeyToAccount(secrets.agentKey);
  if (agent.address !== config.safe.agent) {
    throw new ConfigError(
      `${agentKeyEnv} belongs to ${agent.address}, but safe.agent is ${config.safe.agent}`,
    );
  }
  if (!config.router || !config.safe.address) {
    throw new ConfigError('router and safe.address must be set', {
      hint: 'on the devnet, use the config written by the local stack',
    });
  }
  const shared = options.shared;
  const client = shared
    ? shared.publicClient(config.chain.id, config.chain.rpcUrl)
    : makePublicClient(config.chain.id, config.chain.rpcUrl);
  const router = config.router;
  const readOnce = <T>(key: string, read: () => Promise<T>) =>
    shared ? shared.once(`${config.chain.id} ${config.chain.rpcUrl} ${key}`, read) : read();
  const factory = await readOnce(`factory ${router}`, () =>
    client.readContract({ address: router, abi: uniswapV2RouterAbi, functionName: 'factory' }),
  ).catch((error: unknown) => {
    throw new ChainError(`cannot read the router's factory at ${config.router}`, {
      cause: error,
      hint: 'is the RPC up and the router right?',
    });
  });
  const multiSendCallOnly =
    config.safe.contracts?.multiSendCallOnly ?? canonicalMultiSendCallOnly(config.chain.id);
  if (!multiSendCallOnly) {
    throw new ConfigError(`no MultiSendCallOnly 1.4.1 known for chain ${config.chain.id}`, {
      hint: "set safe.contracts (the chain's Safe 1.4.1 addresses)",
    });
  }
  const swapper = config.execution.policySwapper;
  if (!swapper) {
    throw new ConfigError('execution.policySwapper must be set', {
      hint: 'deploy contracts/solidity/PolicySwapper.sol on the chain (the devnet deploys it) and set its address',
    });
  }
  const swapperCode = await readOnce(`code ${swapper}`, () => client.getCode({ address: swapper })).catch(
    (error: unknown) => {
      throw new ChainError('cannot read execution.policySwapper from the RPC', { cause: error });
    },
  );
  if (!swapperCode || swapperCode === '0x') {
    throw new ConfigError(`execution.policySwapper ${swapper} has no code on chain ${config.chain.id}`, {
      hint: 'deploy contracts/solidity/PolicySwapper.sol there, or fix the address',
    });
  }
  // Before anything is opened: a missing TREASURY_SAFE_API_KEY for Safe's hosted service fails here.
  const transactionService =
    options.transactionService ??
    (config.execution.coSigning === 'safe-transaction-service'
      ? safeTransactionService({
          chainId: config.chain.id,
          txServiceUrl: config.execution.transactionServiceUrl,
          apiKey: secrets.safeApiKey,
        })
      : undefined);
  const clock =
    options.clock ??
    (config.chain.id === 31337
      ? (shared?.chainClock(config.chain.rpcUrl) ?? chainClock(config.chain.rpcUrl))
      : systemClock);
  const location = ledgerLocationOf(config, secrets.ledgerPassword);
  const ledger = await openLedger(location, {
    pools: location.kind === 'postgresql' ? await shared?.postgresPools() : undefined,
  });
  let audit: AuditLog;
  try {
    audit = await AuditLog.open(config.state.auditLogPath, ledger);
  } catch (error) {
    await ledger.close();
    throw error;
  }
  const marketHistory = options.pricesPath
    ? fileMarketHistory(
        await (shared?.priceHistory(options.pricesPath) ?? loadPriceHistory(options.pricesPath)),
      )
    : chainMarketHistory({ client, ledger, readOnce: shared ? readOnce : undefined });
  const governance = createSnapshotClient({
    hubUrl: config.governance.hubUrl,
    account: agent,
    clock,
    apiKey: secrets.snapshotApiKey,
  });
  const writer = options.writer ?? (await rationaleWriterFor(config, secrets));
  return {
    config,
    client,
    contracts: {
      router: config.router,
      factory,
      multiSendCallOnly,
      swapper,
      contractNetworks:
        options.contractNetworks ??
        (config.safe.contracts
          ? contractNetworksFor({ chainId: config.chain.id, safeContracts: config.safe.contracts })
          : undefined),
    },
    marketHistory,
    ledger,
    audit,
    clock,
    writer,
    governance,
    agentKey: secrets.agentKey as Hex,
    coSignerKeys: secrets.coSignerKeys,
    transactionService,
    log: options.log,
    crashPoint: crashHook(options.env.TREASURY_TEST_CRASH_AT),
    close: () => ledger.close(),
  };
}

/** For the crash tests only: TREASURY_TEST_CRASH_AT=<point> kills this process (SIGKILL) at that step. */
function crashHook(point: string | undefined): ((at: CrashPoint) => void) | undefined {
  if (!point) return undefined;
  if (!(CRASH_POINTS as readonly string[]).includes(point)) {
    throw new ConfigError(`TREASURY_TEST_CRASH_AT=${point} is not a crash point`, {
      hint: `one of ${CRASH_POINTS.join(', ')}`,
    });
  }
  return (at) => {
    if (at === point) process.kill(process.pid, 'SIGKILL');
  };
}

async function rationaleWriterFor(
  config: TreasuryAgentConfig,
  secrets: ReturnType<typeof readSecrets>,
): Promise<RationaleWriter> {
  if (config.llm.provider === 'deterministic') return deterministicWriter;
  const { createRationaleWriter } = (await import('./draft/chatModels.ts')) as {
    createRationaleWriter: (
      llm: TreasuryAgentConfig['llm'],
      s: typeof secrets,
    ) => Promise<RationaleWriter> | RationaleWriter;
  };
  return createRationaleWriter(config.llm, secrets);
}
