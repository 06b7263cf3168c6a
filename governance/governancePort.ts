import type { SnapshotClient } from './snapshotClient.ts';

/**
 * The governance port the agent uses: post, vote, cancel, read back. Real adapter: `createSnapshotClient`
 * (hub.snapshot.org or the local hub over HTTP). In-memory adapter: `createMemoryHub(...).client(account)`
 * (same client, same sequencer checks, no network). Both pass test/governance.port.test.ts.
 */
export type GovernancePort = SnapshotClient;

export { createMemoryHub, MEMORY_HUB_URL, type MemoryChain, memoryHubChain } from './hub/memoryHub.ts';
export { createSnapshotClient } from './snapshotClient.ts';
