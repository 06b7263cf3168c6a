import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Address,
  encodeFunctionData,
  getAddress,
  type Hex,
  keccak256,
  parseEther,
  stringToHex,
  zeroAddress,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { stringify } from 'yaml';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { projectArtifacts, safeArtifacts } from '../contracts/artifacts.ts';
import { makePublicClient, makeWalletClient } from '../contracts/chainClients.ts';
import { devAccount, devPrivateKey } from '../contracts/devAccounts.ts';
import { contractNetworksFor, usdToUnits } from '../contracts/devnet.ts';
import { type LocalDevnet, startDevnet } from '../contracts/localDevnet.ts';
import { waitForReceipt } from '../contracts/receipts.ts';
import { type HubInstance, startHub } from '../governance/hub/server.ts';
import { ConfigError } from '../shared/errors.ts';
import { devnetSpace, LOCAL_HINT, type Member } from './localStack.ts';

/**
 * Many DAOs on one local chain, for `treasury run --configs` tests and `npm run bench:fleet`: one devnet (tokens,
 * pools, feeds, PolicySwapper), then per DAO its own agent key, its own Safe (the agent and two stewards, 2 of 3)
 * funded with GOV and USDC, and its own Snapshot space on one hub. Each DAO's config names its own key variables
 * (TREASURY_AGENT_KEY_<NAME>, TREASURY_COSIGNER_KEYS_<NAME>); `env` holds their values.
 */
export type FleetStackDao = { name: string; config: TreasuryAgentConfig; agent: Address };

export type FleetStack = {
  devnet: LocalDevnet;
  hub: HubInstance;
  daos: FleetStackDao[];
  members: Member[];
  /** Every DAO's key variables (never written to a file). */
  env: Record<string, string>;
  contractNetworks: ReturnType<typeof contractNetworksFor>;
  /** Writes each DAO's config as `<dir>/<name>.yaml` (no keys). */
  writeConfigs: (dir: string) => void;
  stop: () => Promise<void>;
};

export async function startFleetStack(options: {
  base: TreasuryAgentConfig;
  count: number;
  /** Where each DAO's ledger and audit log go: `<stateDir>/<name>/`. */
  stateDir: string;
  /** GOV (whole tokens) per member (dev accounts 4, 5, …): the same members hold every space's token. */
  memberStakes: number[];
  /** USD in each DAO's Safe (default 1,000,000), mixed as devnet.treasuryMixBps. */
  treasuryUsd?: number;
  /** Edits each DAO's config (e.g. a PostgreSQL ledger, a fast schedule). */
  edit?: (config: TreasuryAgentConfig, name: string) => TreasuryAgentConfig;
  hubDbPath?: string;
}): Promise<FleetStack> {
  const { base } = options;
  if (!base.devnet) throw new ConfigError('the base config has no devnet section');
  const devnet = await startDevnet({ config: base });
  let hub: HubInstance | undefined;
  try {
    const { deployment } = devnet;
    const rpcUrl = devnet.anvil.rpcUrl;
    const client = makePublicClient(base.chain.id, rpcUrl);
    const deployer = makeWalletClient(base.chain.id, rpcUrl, devAccount(0));
    let pending: Hex | undefined;
    const send = async (to: Address, data: Hex) => {
      pending = await deployer.sendTransaction({ to, data });
    };
    const settle = async (step: string) => {
      if (pending) await waitForReceipt(client, { hash: pending, step, hint: LOCAL_HINT });
      pending = undefined;
    };
    const gov = deployment.tokens.GOV!;
    const members: Member[] = [];
    for (const [i, stake] of options.memberStakes.entries()) {
      const index = 4 + i;
      const account = devAccount(index);
      const amount = BigInt(stake) * 10n ** 18n;
      await send(
        gov.address,
        encodeFunctionData({
          abi: projectArtifacts.testToken.abi,
          functionName: 'mint',
          args: [account.address, amount],
        }),
      );
      members.push({ index, address: account.address, key: devPrivateKey(index), gov: amount });
    }
    await settle('minting GOV for the members');

    const stewards = [devAccount(2).address, devAccount(3).address];
    const stewardKeys = [devPrivateKey(2), devPrivateKey(3)];
    const treasuryUsd = options.treasuryUsd ?? 1_000_000;
    const daos: FleetStackDao[] = [];
    const env: Record<string, string> = {};
    const width = String(options.count).length;
    for (let i = 0; i < options.count; i++) {
      const name = `dao${String(i + 1).padStart(width, '0')}`;
      const key = keccak256(stringToHex(`treasury fleet agent ${name}`));
      const agent = privateKeyToAccount(key).address;
      await client.request({
        method: 'anvil_setBalance' as 'eth_chainId',
        params: [agent, `0x${parseEther('100').toString(16)}`] as unknown as undefined,
      });
      const owners = [agent, ...stewards];
      const setup = encodeFunctionData({
        abi: safeArtifacts.safeL2.abi,
        functionName: 'setup',
        args: [
          owners,
          2n,
          zeroAddress,
          '0x',
          deployment.safeContracts.fallbackHandler,
          zeroAddress,
          0n,
          zeroAddress,
        ],
      });
      const { result: safe, request } = await client.simulateContract({
        account: devAccount(0),
        address: deployment.safeContracts.safeProxyFactory,
        abi: safeArtifacts.proxyFactory.abi,
        functionName: 'createProxyWithNonce',
        args: [deployment.safeContracts.safeSingleton, setup, BigInt(i + 1)],
      });
      await waitForReceipt(client, {
        hash: await deployer.writeContract(request),
        step: `creating ${name}'s Safe`,
        hint: LOCAL_HINT,
      });
      for (const [symbol, bps] of Object.entries(base.devnet.treasuryMixBps)) {
        const token = deployment.tokens[symbol]!;
        if (symbol === 'WETH')
          throw new ConfigError('the fleet stack funds Safes by minting: no WETH in treasuryMixBps');
        const amount = usdToUnits((treasuryUsd * bps) / 10_000, token.startPriceUsd, token.decimals);
        await send(
          token.address,
          encodeFunctionData({
            abi: projectArtifacts.testToken.abi,
            functionName: 'mint',
            args: [safe, amount],
          }),
        );
      }
      const suffix = name.toUpperCase();
      env[`TREASURY_AGENT_KEY_${suffix}`] = key;
      env[`TREASURY_COSIGNER_KEYS_${suffix}`] = stewardKeys.join(',');
      const config: TreasuryAgentConfig = {
        ...devnet.config,
        safe: { ...devnet.config.safe, address: getAddress(safe as Address), owners, agent, threshold: 2 },
        governance: { ...devnet.config.governance, space: `${name}.eth` },
        state: {
          ...devnet.config.state,
          ledgerPath: join(options.stateDir, name, 'ledger.db'),
          auditLogPath: join(options.stateDir, name, 'audit.jsonl'),
        },
        keys: {
          ...devnet.config.keys,
          agentKeyEnv: `TREASURY_AGENT_KEY_${suffix}`,
          coSignerKeysEnv: `TREASURY_COSIGNER_KEYS_${suffix}`,
        },
      };
      daos.push({ name, agent, config: options.edit ? options.edit(config, name) : config });
    }
    await settle('funding the Safes');
    hub = await startHub({
      spaces: daos.map((d) => devnetSpace(d.config, gov.address, stewards)),
      rpcUrl,
      dbPath: options.hubDbPath ?? ':memory:',
      clock: 'chain',
    });
    const hubUrl = hub.url;
    for (const dao of daos) dao.config = { ...dao.config, governance: { ...dao.config.governance, hubUrl } };
    const started = hub;
    return {
      devnet,
      hub: started,
      daos,
      members,
      env,
      contractNetworks: contractNetworksFor(deployment),
      writeConfigs(dir) {
        for (const dao of daos) writeFileSync(join(dir, `${dao.name}.yaml`), stringify(dao.config));
      },
      stop: async () => {
        await started.stop();
        await devnet.stop();
      },
    };
  } catch (error) {
    await hub?.stop();
    await devnet.stop();
    throw error;
  }
}
