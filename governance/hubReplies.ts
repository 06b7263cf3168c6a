import { z } from 'zod';

/** A proposal as hub.snapshot.org's GraphQL returns it (the fields the client asks for). */
export const HubProposalSchema = z.object({
  id: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  ipfs: z.string().nullable(),
  author: z.string(),
  created: z.number().int(),
  updated: z.number().int().nullable(),
  space: z.object({ id: z.string() }).nullable(),
  network: z.string(),
  type: z.string().nullable(),
  title: z.string(),
  body: z.string().nullable(),
  choices: z.array(z.string()),
  start: z.number().int(),
  end: z.number().int(),
  snapshot: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).nullable(),
  state: z.enum(['pending', 'active', 'closed']).nullable(),
  app: z.string().nullable(),
  plugins: z.unknown(),
  scores: z.array(z.number()).nullable(),
  scores_by_strategy: z.unknown(),
  scores_total: z.number().nullable(),
  scores_state: z.enum(['pending', 'final', 'invalid', '']).nullable(),
  scores_updated: z.number().int().nullable(),
  quorum: z.number(),
  quorumType: z.string().nullable(),
  votes: z.number().int().nullable(),
  strategies: z.array(
    z.object({ name: z.string(), network: z.string().nullable(), params: z.unknown() }).nullable(),
  ),
});
export type HubProposal = z.infer<typeof HubProposalSchema>;

export const PROPOSAL_FIELDS = `id ipfs author created updated space { id } network type title body choices start end
  snapshot state app plugins scores scores_by_strategy scores_total scores_state scores_updated quorum quorumType
  votes strategies { name network params }`;

export const HubVoteSchema = z.object({
  id: z.string(),
  ipfs: z.string().nullable(),
  voter: z.string(),
  created: z.number().int(),
  choice: z.unknown(),
  vp: z.number().nullable(),
  vp_by_strategy: z.array(z.number()).nullable(),
  vp_state: z.string().nullable(),
  reason: z.string().nullable(),
  app: z.string().nullable(),
});
export type HubVote = z.infer<typeof HubVoteSchema>;

export const VOTE_FIELDS = 'id ipfs voter created choice vp vp_by_strategy vp_state reason app';

export const HubSpaceSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  network: z.string().nullable(),
  symbol: z.string().nullable(),
  admins: z.array(z.string()).nullable(),
  moderators: z.array(z.string()).nullable(),
  members: z.array(z.string()).nullable(),
  filters: z.object({ minScore: z.number().nullable(), onlyMembers: z.boolean().nullable() }).nullable(),
  voting: z
    .object({
      delay: z.number().int().nullable(),
      period: z.number().int().nullable(),
      type: z.string().nullable(),
      quorum: z.number().nullable(),
    })
    .nullable(),
  strategies: z.array(
    z.object({ name: z.string(), network: z.string().nullable(), params: z.unknown() }).nullable(),
  ),
});
export type HubSpace = z.infer<typeof HubSpaceSchema>;

export const SPACE_FIELDS = `id name network symbol admins moderators members filters { minScore onlyMembers }
  voting { delay period type quorum } strategies { name network params }`;

/** What the sequencer replies when it accepts a message. */
export const IngestReceiptSchema = z.object({
  id: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  ipfs: z.string(),
  relayer: z.object({ address: z.string(), receipt: z.string() }),
});

export const HubErrorReplySchema = z.object({ error: z.string(), error_description: z.string() });

/**
 * What `GET {hub}/api/scores/{id}` answers (HTTP 200, after hub.snapshot.org's redirect to the sequencer):
 * `{result: true}` once the scores are (re)computed or final; `{result: false}` for an unknown id, a proposal
 * not yet started, or one too busy to recompute; `{error: 'failed', message}` when computing failed.
 */
export const ScoresRequestReplySchema = z.union([
  z.object({ result: z.boolean() }),
  z.object({ error: z.string(), message: z.unknown().optional() }),
]);
export type ScoresRequestReply = z.infer<typeof ScoresRequestReplySchema>;
