/** The governance module's public API (see governance/README.md). */
export { type Clock, chainClock, manualClock, systemClock } from './clock.ts';
export { GovernanceError, HubError, HubRejectedError } from './errors.ts';
export type { GovernancePort } from './governancePort.ts';
export { createMemoryHub, MEMORY_HUB_URL, type MemoryChain, memoryHubChain } from './hub/memoryHub.ts';
export { type HubInstance, type StartHubOptions, startHub } from './hub/server.ts';
export { loadSpacesFile, parseSpaces, type Space, type SpaceInput } from './hub/spaces.ts';
export type { HubProposal, HubSpace, HubVote } from './hubReplies.ts';
export {
  BODY_LIMIT,
  PLUGIN_KEY,
  type ProposalBodyInput,
  parseTreasuryPlugin,
  plainText,
  type RenderedProposal,
  renderProposalBody,
  type TreasuryAgentPlugin,
  TreasuryAgentPluginSchema,
} from './proposalBody.ts';
export {
  createSnapshotClient,
  type PreparedMessage,
  type ProposalScores,
  type ProposeInput,
  type Receipt,
  type SnapshotClient,
  type SnapshotClientOptions,
  type VoteInput,
  viemTypedDataSigner,
} from './snapshotClient.ts';
export { BASIC_CHOICES, messageId } from './snapshotProtocol.ts';
