import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AddressSchema as Address } from '../../config/addressSchema.ts';
import { HubError } from '../errors.ts';

/** The erc20-balance-of strategy of Snapshot: balance at the snapshot block ÷ 10^decimals. */
export const StrategySchema = z.strictObject({
  name: z.literal('erc20-balance-of'),
  network: z.union([z.string(), z.number().int()]).transform(String).optional(),
  params: z.strictObject({
    address: Address,
    decimals: z.number().int().min(0).max(36),
    symbol: z.string().min(1).max(16),
  }),
});

export const SpaceSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, 'lowercase letters, digits, dots and dashes (like foo.eth)'),
  name: z.string().min(1).max(64),
  about: z.string().max(280).default(''),
  /** Chain id of the space, a string as on hub.snapshot.org ("1", "31337"). */
  network: z.union([z.string().regex(/^\d+$/), z.number().int().positive()]).transform(String),
  symbol: z.string().min(1).max(16).optional(),
  admins: z.array(Address).default([]),
  moderators: z.array(Address).default([]),
  members: z.array(Address).default([]),
  filters: z
    .strictObject({ onlyMembers: z.boolean().default(false), minScore: z.number().min(0).default(0) })
    .default({ onlyMembers: false, minScore: 0 }),
  voting: z.strictObject({
    /** Seconds between the proposal's timestamp and its start (exact, as on Snapshot). */
    delay: z.number().int().min(0),
    /** Seconds between start and end (exact). */
    period: z.number().int().positive(),
    type: z.literal('basic'),
    /** Votes (in token units, all choices) needed for a result to count. */
    quorum: z.number().min(0).default(0),
    /**
     * Proposal privacy the space imposes: unset or 'any' = the proposal's own (''), '' = none. 'shutter'
     * (encrypted votes) is a setting of Snapshot the local hub does not implement.
     */
    privacy: z
      .enum(['', 'any'], { error: "'' or 'any' (shutter is not supported by the local hub)" })
      .optional(),
  }),
  strategies: z.array(StrategySchema).min(1).max(8),
});

export type Space = z.infer<typeof SpaceSchema>;
export type SpaceInput = z.input<typeof SpaceSchema>;

const SpaceListSchema = z
  .array(SpaceSchema)
  .max(100)
  .superRefine((spaces, ctx) => {
    const seen = new Set<string>();
    spaces.forEach((space, i) => {
      if (seen.has(space.id))
        ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate space ${space.id}` });
      seen.add(space.id);
    });
  });

/** A spaces file: a list of spaces, or a mapping with `spaces:` (as in governance/hub/examples/spaces.yaml). */
export const SpacesFileSchema = z.strictObject({ spaces: SpaceListSchema });

/**
 * Validates spaces given as data (tests, the demo) or read from a file. Throws a HubError naming the path of each
 * problem. The form is picked by the top value's shape, so a problem inside either form is reported at its own
 * path (a union of the two would only say "invalid input").
 */
export function parseSpaces(value: unknown, source = 'spaces'): Space[] {
  if (typeof value !== 'object' || value === null) {
    throw new HubError(
      `invalid spaces in ${source}: it holds ${value === null || value === undefined ? 'nothing' : `a single ${typeof value}`}, not a list of spaces or a mapping with "spaces:"`,
      { hint: 'start from governance/hub/examples/spaces.yaml (fields: governance/hub/spaces.ts)' },
    );
  }
  const parsed = Array.isArray(value)
    ? SpaceListSchema.safeParse(value)
    : SpacesFileSchema.transform((file) => file.spaces).safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.message} at ${issue.path.length ? issue.path.join('.') : '(top level)'}`,
    );
    throw new HubError(
      `invalid spaces in ${source}: ${issues[0]}${issues.length > 1 ? ` (+${issues.length - 1} more)` : ''}`,
      {
        details: issues.slice(1, 50),
        hint: 'fix the file (fields: governance/hub/spaces.ts)',
      },
    );
  }
  return parsed.data;
}

/** Longest spaces file read (100 spaces of a few hundred bytes fit many times over; YAML's key check is quadratic). */
const MAX_SPACES_FILE_CHARS = 256_000;

/** Reads a spaces file (JSON, or YAML when the name ends in .yaml/.yml). */
export async function loadSpacesFile(path: string): Promise<Space[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new HubError(`cannot read the spaces file ${path}`, { cause: error, hint: 'pass --spaces FILE' });
  }
  if (text.length > MAX_SPACES_FILE_CHARS) {
    throw new HubError(`the spaces file ${path} is ${text.length.toLocaleString('en-US')} characters long`, {
      hint: `a spaces file is a few kilobytes (at most ${MAX_SPACES_FILE_CHARS.toLocaleString('en-US')} characters)`,
    });
  }
  let value: unknown;
  try {
    // logLevel error: YAML warnings would go to stderr as process warnings, quoting the file's lines.
    value = /\.ya?ml$/i.test(path) ? parseYaml(text, { logLevel: 'error' }) : JSON.parse(text);
  } catch (error) {
    throw new HubError(`the spaces file ${path} is not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}`, {
      cause: error,
      details: [(error as Error).message.split('\n')[0] ?? ''],
    });
  }
  return parseSpaces(value, path);
}
