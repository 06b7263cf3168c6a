import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { DEFAULT_DEVNET_CONFIG } from '../../cli/devnetCommand.ts';
import { loadConfig } from '../../config/loadConfig.ts';
import type { TreasuryAgentConfig } from '../../config/schema.ts';
import { makePublicClient } from '../../contracts/chainClients.ts';
import { type LocalDevnet, startDevnet } from '../../contracts/localDevnet.ts';

export type DevnetFixture = {
  devnet: LocalDevnet;
  client: ReturnType<typeof makePublicClient>;
};

/**
 * One real anvil with the whole devnet deployed per test file (~1 s); every test runs between an evm_snapshot
 * and an evm_revert, so tests see the same freshly deployed state and do not leak into each other.
 */
export function useDevnet(
  options: { configPath?: string; edit?: (config: TreasuryAgentConfig) => TreasuryAgentConfig } = {},
) {
  const fixture = {} as DevnetFixture;
  let snapshotId: string | undefined;
  beforeAll(async () => {
    let config = await loadConfig(options.configPath ?? DEFAULT_DEVNET_CONFIG);
    if (options.edit) config = options.edit(config);
    fixture.devnet = await startDevnet({ config });
    fixture.client = makePublicClient(config.chain.id, fixture.devnet.anvil.rpcUrl);
  });
  afterAll(async () => {
    await fixture.devnet?.stop();
  });
  beforeEach(async () => {
    snapshotId = (await fixture.client.request({
      method: 'evm_snapshot' as 'eth_chainId',
    })) as unknown as string;
  });
  afterEach(async () => {
    if (snapshotId)
      await fixture.client.request({
        method: 'evm_revert' as 'eth_chainId',
        params: [snapshotId] as unknown as undefined,
      });
  });
  return fixture;
}
