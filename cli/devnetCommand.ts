import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configToYaml } from '../config/configYaml.ts';
import { loadConfig } from '../config/loadConfig.ts';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { devAccount } from '../contracts/devAccounts.ts';
import type { DevnetDeployment } from '../contracts/devnet.ts';
import { startDevnet } from '../contracts/localDevnet.ts';
import { type Command, integerOption, stringOption } from './command.ts';

export const DEFAULT_DEVNET_CONFIG = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'config',
  'examples',
  'devnet.yaml',
);

/** The lines `treasury devnet` prints: every deployed address, grouped. */
export function describeDeployment(d: DevnetDeployment): string[] {
  const lines = [
    `chain ${d.chainId} at ${d.rpcUrl} (prices of ${d.priceDate})`,
    `DAO Safe        ${d.safe.address}  ${d.safe.threshold}-of-${d.safe.owners.length}`,
    ...d.safe.owners.map((owner) => `  owner         ${owner}${owner === d.safe.agent ? '  (agent)' : ''}`),
    'tokens          address                                     feed (8 decimals)                           pair with USDC',
    ...Object.values(d.tokens).map(
      (t) =>
        `  ${t.symbol.padEnd(5)} ${String(t.decimals).padStart(2)}d  ${t.address}  ${t.feed}  ${t.pair ?? '—'}  $${t.startPriceUsd}`,
    ),
    `Uniswap V2      factory ${d.uniswap.factory}  router ${d.uniswap.router}  WETH9 ${d.uniswap.weth9}`,
    `PolicySwapper   ${d.policySwapper}  (checks each voted swap's price policy on chain)`,
    'Safe v1.4.1',
    ...Object.entries(d.safeContracts).map(([name, address]) => `  ${name.padEnd(18)} ${address}`),
  ];
  return lines;
}

/**
 * The config for the running devnet, ready for `treasury once`/`run`/`preflight`: every address filled in (Safe
 * and its 1.4.1 contracts, tokens, feeds, router, PolicySwapper), chain.rpcUrl this anvil. The `devnet` section is
 * left out, so validation requires every address as it does for a live chain. Keys are not in it.
 */
export function devnetAgentConfig(deployed: TreasuryAgentConfig): TreasuryAgentConfig {
  const { devnet: _devnet, ...rest } = deployed;
  return rest;
}

export function devnetConfigYaml(deployed: TreasuryAgentConfig, deployment: DevnetDeployment): string {
  const account = Array.from({ length: 12 }, (_, i) => i).find(
    (i) => devAccount(i).address === deployment.safe.agent,
  );
  const whose = account === undefined ? "the agent's key" : `anvil's development key of account ${account}`;
  return configToYaml(devnetAgentConfig(deployed), [
    `Written by \`treasury devnet --write-config\` for the devnet at ${deployment.rpcUrl} (chain ${deployment.chainId}, prices of ${deployment.priceDate}).`,
    'Valid while that anvil runs; a new devnet deploys new addresses. Keys are never written here: the agent reads',
    `TREASURY_AGENT_KEY from the environment (here ${whose}), and TREASURY_COSIGNER_KEYS for coSigning local-keys.`,
    'governance.hubUrl needs a hub for live mode: `treasury hub`.',
    '',
  ]);
}

export const devnetCommand: Command = {
  name: ['devnet'],
  summary:
    'start anvil and deploy the DAO Safe, tokens, Uniswap V2 pools and price feeds; stay up until Ctrl-C',
  options: {
    config: {
      type: 'string',
      valueName: 'FILE',
      description: 'config file (default: config/examples/devnet.yaml)',
    },
    port: { type: 'string', valueName: 'N', description: 'anvil port on 127.0.0.1 (default: a free port)' },
    json: { type: 'string', valueName: 'FILE', description: 'also write every address to FILE as JSON' },
    'write-config': {
      type: 'string',
      valueName: 'FILE',
      description: 'also write a ready agent config (YAML) for this devnet to FILE (no keys)',
    },
    prices: {
      type: 'string',
      valueName: 'FILE',
      description: 'price history CSV (default: data/prices_daily.csv)',
    },
  },
  help: [
    'The pools and feeds start at the closes of devnet.priceDate; the Safe is funded per devnet.treasuryMixBps.',
    'Example: treasury devnet --port 8545 --json out/devnet.json --write-config out/devnet-agent.yaml',
    'then, in another shell: treasury once --config out/devnet-agent.yaml (with TREASURY_AGENT_KEY set).',
  ],
  async run(args, io) {
    const config = await loadConfig(stringOption(args, 'config') ?? DEFAULT_DEVNET_CONFIG);
    const port = integerOption(args, 'port', { min: 1, max: 65_535 });
    const devnet = await startDevnet({ config, port, pricesPath: stringOption(args, 'prices') });
    try {
      for (const line of describeDeployment(devnet.deployment)) io.out(line);
      const jsonPath = stringOption(args, 'json');
      if (jsonPath) {
        await writeFile(jsonPath, `${JSON.stringify(devnet.deployment, null, 2)}\n`);
        io.out(`addresses written to ${jsonPath}`);
      }
      const configPath = stringOption(args, 'write-config');
      if (configPath) {
        await writeFile(configPath, devnetConfigYaml(devnet.config, devnet.deployment));
        io.out(
          `agent config written to ${configPath} (no keys: TREASURY_AGENT_KEY comes from the environment)`,
        );
      }
      io.out('devnet is up; Ctrl-C (SIGINT) or SIGTERM stops it');
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
        devnet.anvil.process.once('exit', () => resolve());
      });
      return devnet.anvil.process.exitCode && !io.signal.aborted ? 1 : 0;
    } finally {
      await devnet.stop();
      io.out('devnet stopped');
    }
  },
};
