/**
 * The parts of the Snapshot protocol that come from snapshot.js itself: EIP-712 domain and types, message ids
 * (`utils.getHash`), the known type hashes (`src/sign/hashedTypes.json`), schemas and voting classes.
 * Everything here is re-exported from the installed package so client and hub agree with the real services.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import snapshotModule from '@snapshot-labs/snapshot.js';

const require = createRequire(import.meta.url);

type SnapshotJs = (typeof snapshotModule)['default'];
// The CommonJS build exports the object itself; its typings declare it as `default`.
const snapshot = ((snapshotModule as unknown as { default?: SnapshotJs }).default ??
  snapshotModule) as unknown as SnapshotJs;

export const snapshotJs = snapshot;
export const Client712 = snapshot.Client712;

/** sha256(JSON of types) → message kind, as shipped in snapshot.js (`proposal`, `vote`, `delete-proposal`…). */
export const hashedTypes = require('@snapshot-labs/snapshot.js/src/sign/hashedTypes.json') as Record<
  string,
  string
>;

export const SNAPSHOT_DOMAIN = { name: 'snapshot', version: '0.1.4' } as const;

/**
 * ENS normalisation with the ethers module snapshot.js loads (`@ethersproject/hash` `ensNormalize`, what the
 * sequencer checks space ids with). Throws for names that are not valid ENS names (`bad..eth`).
 */
export const ensNormalize = (
  createRequire(require.resolve('@snapshot-labs/snapshot.js'))('@ethersproject/hash') as {
    ensNormalize: (name: string) => string;
  }
).ensNormalize;

type Field = { name: string; type: string };

export const proposalTypes: { Proposal: Field[] } = {
  Proposal: [
    { name: 'from', type: 'string' },
    { name: 'space', type: 'string' },
    { name: 'timestamp', type: 'uint64' },
    { name: 'type', type: 'string' },
    { name: 'title', type: 'string' },
    { name: 'body', type: 'string' },
    { name: 'discussion', type: 'string' },
    { name: 'choices', type: 'string[]' },
    { name: 'labels', type: 'string[]' },
    { name: 'start', type: 'uint64' },
    { name: 'end', type: 'uint64' },
    { name: 'snapshot', type: 'uint64' },
    { name: 'plugins', type: 'string' },
    { name: 'privacy', type: 'string' },
    { name: 'app', type: 'string' },
  ],
};

export const voteTypes: { Vote: Field[] } = {
  Vote: [
    { name: 'from', type: 'string' },
    { name: 'space', type: 'string' },
    { name: 'timestamp', type: 'uint64' },
    { name: 'proposal', type: 'string' },
    { name: 'choice', type: 'uint32' },
    { name: 'reason', type: 'string' },
    { name: 'app', type: 'string' },
    { name: 'metadata', type: 'string' },
  ],
};

export const updateProposalTypes: { UpdateProposal: Field[] } = {
  UpdateProposal: [
    { name: 'proposal', type: 'string' },
    { name: 'from', type: 'string' },
    { name: 'space', type: 'string' },
    { name: 'timestamp', type: 'uint64' },
    { name: 'type', type: 'string' },
    { name: 'title', type: 'string' },
    { name: 'body', type: 'string' },
    { name: 'discussion', type: 'string' },
    { name: 'choices', type: 'string[]' },
    { name: 'labels', type: 'string[]' },
    { name: 'plugins', type: 'string' },
    { name: 'privacy', type: 'string' },
  ],
};

export const cancelProposalTypes: { CancelProposal: Field[] } = {
  CancelProposal: [
    { name: 'from', type: 'string' },
    { name: 'space', type: 'string' },
    { name: 'timestamp', type: 'uint64' },
    { name: 'proposal', type: 'string' },
  ],
};

export type SignedData = {
  domain: Record<string, string | number>;
  types: Record<string, Field[]>;
  message: Record<string, unknown>;
};

/** The message id: the EIP-712 digest of (domain, types, message), exactly as the sequencer computes it. */
export function messageId(data: SignedData): `0x${string}` {
  return snapshot.utils.getHash(data as never) as `0x${string}`;
}

/** The kind of message a `types` object stands for (the sequencer's `wrong types` check), or undefined. */
export function messageKind(types: unknown): string | undefined {
  const hash = createHash('sha256').update(JSON.stringify(types)).digest('hex');
  return hashedTypes[hash];
}

/** Choices of a basic proposal, in Snapshot's order (1 = For, 2 = Against, 3 = Abstain). */
export const BASIC_CHOICES = ['For', 'Against', 'Abstain'] as const;
