import { formatUnits, getAddress, isAddress, isHex } from 'viem';
import { z } from 'zod';
import { formatNumber } from '../shared/numberFormat.ts';
import { GovernanceError } from './errors.ts';

/** Snapshot's default body limit (characters). */
export const BODY_LIMIT = 10_000;

const Address = z
  .string()
  .refine((v) => isAddress(v, { strict: false }), 'not an address')
  .transform((v) => getAddress(v));
const Hash = z.string().regex(/^0x[0-9a-fA-F]{64}$/, '32-byte hex hash');

/** One Safe transaction (or batch entry) exactly as it will be executed. */
export const SafeTransactionSchema = z.strictObject({
  to: Address,
  /** Wei, as a decimal string (JSON has no bigint). */
  value: z.string().regex(/^\d+$/, 'wei as a decimal string'),
  data: z.string().refine((v) => isHex(v, { strict: true }) && v.length % 2 === 0, 'hex bytes (0x…)'),
  /** 0 = call, 1 = delegatecall (a Safe transaction to MultiSendCallOnly). */
  operation: z.union([z.literal(0), z.literal(1)]),
});

/**
 * What goes into `plugins` under our own key. Voters approve `transactions` (the batch of calls, whose calldata
 * hashes to `dataHash`): the Safe transaction is {to: `to`, value 0, data, operation 1, no gas refund}, which at
 * the Safe's `nonce` when drafted hashes to `safeTxHash`; if other Safe transactions run first it executes at
 * the nonce of that moment (same fields, a later nonce). `policySwapper` refuses `decisionHash` a second time.
 */
export const TreasuryAgentPluginSchema = z.strictObject({
  chainId: z.number().int().positive(),
  safe: Address,
  /** The Safe's nonce when drafted; the transaction runs at the nonce of the moment it executes (≥ this). */
  nonce: z.number().int().nonnegative(),
  /** The safeTxHash at `nonce`. */
  safeTxHash: Hash,
  /** The Safe transaction's `to`: MultiSendCallOnly (operation 1: calls only). */
  to: Address,
  /** keccak256 of the Safe transaction's data: the voted calls, whatever the nonce. */
  dataHash: Hash,
  /** The decision the calls carry: PolicySwapper emits it when they run and refuses it a second time. */
  decisionHash: Hash,
  policySwapper: Address,
  /** Unix seconds after which the chain refuses the calls. */
  validUntil: z.number().int().positive(),
  /**
   * The agent's audit log when it drafted this: its last record's seq and hash. The hub keeps it, so an auditor
   * can tell a truncated or replaced log from the one the agent wrote.
   */
  auditHead: z.strictObject({
    seq: z.number().int().nonnegative(),
    hash: z.string().regex(/^0x[0-9a-f]{64}$/, 'sha-256 hex'),
  }),
  transactions: z.array(SafeTransactionSchema).min(1),
});
export type TreasuryAgentPlugin = z.infer<typeof TreasuryAgentPluginSchema>;

export const PLUGIN_KEY = 'treasuryAgent';

export type TokenAmount = { symbol: string; amount: bigint; decimals: number };

export type ProposalBodyInput = {
  summary: string;
  rationale: string;
  risks?: string[];
  /** Weights in basis points (each column sums to 10,000). */
  allocation: { symbol: string; beforeBps: number; afterBps: number }[];
  trades: {
    /** The price policy in words, e.g. "sell 55,509 GOV for USDC at no worse than the oracle price −1.5% …". */
    policy?: string;
    sell: TokenAmount;
    buy: { symbol: string; minOut: bigint; expectedOut?: bigint; decimals: number };
    /** The price used: `value` quote per base, e.g. 3120.55 USD per ETH, with its source and time. */
    price: { pair: string; value: string; source: string; asOf: number };
    /** Router or venue, e.g. "Uniswap V2 router 0x…". */
    venue?: string;
  }[];
  guardrails: { name: string; detail: string }[];
  /** Market data the decision used (source and time of each). */
  dataSources?: { name: string; source: string; asOf: number }[];
  safe: {
    address: string;
    nonce: number | bigint;
    chainId: number;
    safeTxHash: string;
    /** The Safe transaction's `to` (MultiSendCallOnly) and the keccak256 of its data. */
    to: string;
    dataHash: string;
    decisionHash: string;
    policySwapper: string;
    validUntil: number;
    transactions: { to: string; value: bigint | string; data: string; operation: 0 | 1 }[];
  };
  /** The audit log's head before the decision record (see TreasuryAgentPluginSchema.auditHead). */
  auditHead: { seq: number; hash: string };
  auditRecordId: string;
  /** The strategy the stewards configured, in words. */
  strategy?: string;
  /** What each call does, in words, in the order of safe.transactions. */
  callWords?: string[];
  /** The voted calls simulated from the Safe when drafted: balances after, and gas. */
  simulation?: {
    block: bigint | number;
    gasUsed: bigint;
    balances: { symbol: string; before: string; after: string }[];
  };
  /** Where the proposal is discussed (from config). */
  discussionUrl?: string;
  /** Where the DAO publishes its audit log (from config), and the command that shows the record. */
  auditLogUrl?: string;
};

export type RenderedProposal = {
  body: string;
  /** The JSON string for the `plugins` field of the Snapshot message. */
  plugins: string;
  plugin: TreasuryAgentPlugin;
};

/** Text the code builds (symbols, policies, sources, ids) kept inside one table cell or line. */
function cell(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .trim();
}

/**
 * Characters that mean something to a markdown renderer, each shown instead as an inert look-alike. snapshot.org
 * renders bodies with remarkable with its `escape` and `entity` rules turned off (sx-monorepo
 * apps/ui/src/components/Ui/Markdown.vue), so there a backslash or `&lt;` shows as typed and leaves the character
 * live: replacing the character is the one escape that holds on every renderer (CommonMark, GFM, remarkable).
 */
const INERT: Record<string, string> = {
  '\\': '\u29F5', // ⧵ escapes
  '`': '\u02CB', // ˋ code spans and fences
  '*': '\u2217', // ∗ emphasis, lists, rules
  _: '\u02CD', // ˍ emphasis, rules
  '[': '\uFF3B', // ［ links, images, footnotes, reference definitions
  ']': '\uFF3D', // ］
  '<': '\u2039', // ‹ HTML, autolinks
  '>': '\u203A', // › blockquotes
  '#': '\uFF03', // ＃ headings
  '|': '\u2223', // ∣ tables
  '~': '\u223C', // ∼ strikethrough, fences
  '&': '\uFF06', // ＆ entities (&#8238; would be a direction override)
  '@': '\uFF20', // ＠ e-mail autolinks
  '^': '\u02C6', // ˆ superscript, footnotes
  '=': '\uFF1D', // ＝ highlight, setext headings
  '+': '\uFF0B', // ＋ insertions, lists
};

/**
 * Untrusted text (the model's words, anything from outside) as inert markdown: one line of plain text that no
 * renderer turns into structure. Whitespace becomes single spaces and invisible or direction-control characters
 * are dropped; every markdown special character is replaced by a look-alike (INERT); `://` and dots inside words
 * (`evil.com`, not `4.00`) are broken so nothing is linkified; the start cannot open a list, heading or quote.
 * Figures ("$98,000", "4.00%", "65,333.33 GOV") pass unchanged.
 */
export function plainText(text: string): string {
  return text
    .replace(/\p{Cf}/gu, '')
    .replace(/\s+/gu, ' ')
    .replace(/\p{Cc}/gu, '')
    .replace(/ {2,}/g, ' ')
    .trim()
    .replace(/[\\`*_[\]<>#|~&@^=+]/g, (c) => INERT[c] ?? c)
    .replace(/:(?=\/)/g, '\u2236') // ∶
    .replace(
      /(?<=([\p{L}\p{N}]))\.(?=([\p{L}\p{N}]))/gu,
      (dot, before: string, after: string) => (/\d/.test(before) && /\d/.test(after) ? dot : '\u2024'), // ․
    )
    .replace(/^-/, '\u2010') // ‐
    .replace(/^:/, '\u2236')
    .replace(
      /^(\d+)([.)])(?= |$)/,
      (_m, digits: string, mark: string) => `${digits}${mark === '.' ? '\u2024' : '\uFF09'}`,
    );
}

const utc = (t: number) => `${new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const pct = (bps: number) => `${(bps / 100).toFixed(2)}%`;

/**
 * A token amount for people, in display units with sensible precision: 2 decimals from 1,000, 4 from 1, and
 * 4 significant digits below (the exact base units are in the calldata).
 */
export function displayAmount(value: bigint, decimals: number): string {
  const units = Number(formatUnits(value, decimals));
  if (Math.abs(units) >= 1) {
    return formatNumber(units, { maximumFractionDigits: Math.abs(units) >= 1000 ? 2 : 4 });
  }
  return formatNumber(units, { maximumSignificantDigits: 4 });
}

const amount = displayAmount;

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Builds the plugin value, validated: invalid JSON in plugins silently becomes {} on the real hub. */
export function treasuryPlugin(
  safe: ProposalBodyInput['safe'],
  auditHead: ProposalBodyInput['auditHead'],
): TreasuryAgentPlugin {
  const parsed = TreasuryAgentPluginSchema.safeParse({
    chainId: safe.chainId,
    safe: safe.address,
    nonce: Number(safe.nonce),
    safeTxHash: safe.safeTxHash,
    to: safe.to,
    dataHash: safe.dataHash,
    decisionHash: safe.decisionHash,
    policySwapper: safe.policySwapper,
    validUntil: safe.validUntil,
    auditHead,
    transactions: safe.transactions.map((t) => ({ ...t, value: t.value.toString() })),
  });
  if (!parsed.success) {
    throw new GovernanceError('the Safe transaction for the proposal is not valid', {
      details: z.prettifyError(parsed.error).split('\n'),
    });
  }
  return parsed.data;
}

/**
 * The proposal's markdown body (plain CommonMark tables, reads well on snapshot.org) and its `plugins` JSON.
 * The body stays under 10,000 characters: the rationale is shortened first (with a note), never the
 * transaction section; if the transaction alone does not fit, this throws.
 */
export function renderProposalBody(input: ProposalBodyInput): RenderedProposal {
  const plugin = treasuryPlugin(input.safe, input.auditHead);
  const sumBefore = input.allocation.reduce((a, r) => a + r.beforeBps, 0);
  const sumAfter = input.allocation.reduce((a, r) => a + r.afterBps, 0);
  if (input.allocation.length && (sumBefore !== 10_000 || sumAfter !== 10_000)) {
    throw new GovernanceError(
      `allocation weights must sum to 10,000 bps (before ${sumBefore}, after ${sumAfter})`,
    );
  }

  const head = ['## Summary', '', plainText(input.summary)].join('\n');
  const rationaleSection = (text: string) => ['## Rationale', '', text].join('\n');
  const risks = input.risks?.length
    ? ['## Risks', '', ...input.risks.map((r) => `- ${plainText(r)}`)].join('\n')
    : '';
  const allocation = [
    '## Allocation',
    '',
    table(
      ['Asset', 'Before', 'After', 'Change'],
      input.allocation.map((r) => {
        const change = r.afterBps - r.beforeBps;
        return [cell(r.symbol), pct(r.beforeBps), pct(r.afterBps), `${change > 0 ? '+' : ''}${pct(change)}`];
      }),
    ),
  ].join('\n');
  const policies = input.trades.some((t) => t.policy)
    ? [
        '## What you approve',
        '',
        ...input.trades.map((t, i) => `${i + 1}. ${cell(t.policy ?? '')}`),
        '',
        `The chain checks each price when the trades run (PolicySwapper \`${plugin.policySwapper}\`, no owner): it reads both USD price feeds, refuses stale ones, and reverts the whole transaction if any trade would go below its minimum. Nothing is half-done.`,
      ].join('\n')
    : '';
  const trades = [
    '## Trades',
    '',
    table(
      [
        '#',
        'Sell',
        'Buy (at least, at the floor)',
        'Expected out',
        'Price used',
        'Price source',
        'Price time',
      ],
      input.trades.map((t, i) => [
        String(i + 1),
        `${amount(t.sell.amount, t.sell.decimals)} ${cell(t.sell.symbol)}`,
        `≥ ${amount(t.buy.minOut, t.buy.decimals)} ${cell(t.buy.symbol)}`,
        t.buy.expectedOut === undefined
          ? '–'
          : `${amount(t.buy.expectedOut, t.buy.decimals)} ${cell(t.buy.symbol)}`,
        `${cell(t.price.value)} ${cell(t.price.pair)}`,
        cell(t.price.source),
        utc(t.price.asOf),
      ]),
    ),
    ...(input.trades.some((t) => t.venue)
      ? [
          '',
          new Set(input.trades.map((t) => t.venue)).size === 1
            ? `Venue: ${cell(input.trades[0]!.venue ?? '')}`
            : input.trades
                .map((t, i) => (t.venue ? `Trade ${i + 1} venue: ${cell(t.venue)}` : ''))
                .filter(Boolean)
                .join('\n'),
        ]
      : []),
  ].join('\n');
  const guardrails = [
    '## Guardrail checks (all passed)',
    '',
    table(
      ['Check', 'Result'],
      input.guardrails.map((g) => [cell(g.name), `✅ ${cell(g.detail)}`]),
    ),
  ].join('\n');
  const sources = input.dataSources?.length
    ? [
        '## Data sources',
        '',
        table(
          ['Data', 'Source', 'As of'],
          input.dataSources.map((d) => [cell(d.name), cell(d.source), utc(d.asOf)]),
        ),
      ].join('\n')
    : '';
  const transaction = (withHex: boolean) =>
    [
      '## Transaction to execute',
      '',
      "Only these calls may be executed if the vote passes, as one Safe transaction. It runs at the Safe's nonce of that moment: if other Safe transactions (payroll, grants) run first, the nonce is higher and the safeTxHash is the same fields with that nonce. The calls never change, and PolicySwapper refuses this decision a second time.",
      '',
      table(
        ['Field', 'Value'],
        [
          ['Safe', `\`${plugin.safe}\``],
          ['Chain id', String(plugin.chainId)],
          ['to', `\`${plugin.to}\` (MultiSendCallOnly)`],
          ['value', '0'],
          ['data', `the calls below; keccak256 \`${plugin.dataHash}\``],
          ['operation', '1 (delegatecall into MultiSendCallOnly: calls only)'],
          ['safeTxGas, baseGas, gasPrice', '0, 0, 0'],
          ['gasToken, refundReceiver', '`0x0000000000000000000000000000000000000000`'],
          ['nonce when drafted', String(plugin.nonce)],
          ['safeTxHash at that nonce', `\`${plugin.safeTxHash}\``],
          ['decision hash', `\`${plugin.decisionHash}\``],
          ['valid until', utc(plugin.validUntil)],
        ],
      ),
      '',
      ...plugin.transactions.flatMap((t, i) => [
        `Call ${i + 1}${input.callWords?.[i] ? ` — ${cell(input.callWords[i]!)}` : ''}: to \`${t.to}\`, value ${t.value} wei, operation ${t.operation === 0 ? '0 (call)' : '1 (delegatecall)'}`,
        '',
        ...(withHex ? ['```', t.data, '```', ''] : []),
      ]),
      `${withHex ? 'The same data is' : "Each call's data (too long for this body) is"} in this proposal's \`plugins.${PLUGIN_KEY}\`. To recompute the hash yourself (viem), with \`calls\` = \`plugins.${PLUGIN_KEY}.transactions\` and \`nonce\` the Safe's nonce:`,
      '',
      '```js',
      "const data = encodeFunctionData({ abi: parseAbi(['function multiSend(bytes)']), functionName: 'multiSend',",
      "  args: [concat(calls.map((c) => encodePacked(['uint8','address','uint256','uint256','bytes'], [c.operation, c.to, BigInt(c.value), BigInt(size(c.data)), c.data])))] });",
      'keccak256(data); // = the keccak256 above',
      `hashTypedData({ domain: { chainId: ${plugin.chainId}, verifyingContract: '${plugin.safe}' }, primaryType: 'SafeTx',`,
      "  types: { SafeTx: [['to','address'],['value','uint256'],['data','bytes'],['operation','uint8'],['safeTxGas','uint256'],['baseGas','uint256'],['gasPrice','uint256'],['gasToken','address'],['refundReceiver','address'],['nonce','uint256']].map(([name, type]) => ({ name, type })) },",
      `  message: { to: '${plugin.to}', value: 0n, data, operation: 1, safeTxGas: 0n, baseGas: 0n, gasPrice: 0n, gasToken: zeroAddress, refundReceiver: zeroAddress, nonce } });`,
      '```',
      '',
      `Or on chain: \`cast call ${plugin.safe} "getTransactionHash(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,uint256)(bytes32)" ${plugin.to} 0 $DATA 1 0 0 0 0x0000000000000000000000000000000000000000 0x0000000000000000000000000000000000000000 $NONCE\`.`,
    ].join('\n');
  const simulation = input.simulation
    ? [
        '## Simulation when drafted',
        '',
        `The calls above, run from the Safe on block ${input.simulation.block} (eth_simulateV1): ${formatNumber(input.simulation.gasUsed)} gas for the calls (the Safe's own signature checks come on top).`,
        '',
        table(
          ['Token', 'Now', 'After'],
          input.simulation.balances.map((b) => [cell(b.symbol), cell(b.before), cell(b.after)]),
        ),
      ].join('\n')
    : '';
  const strategy = input.strategy ? ['## Strategy', '', plainText(input.strategy)].join('\n') : '';
  const audit = [
    '## Audit',
    '',
    `The agent's audit log stood at record ${plugin.auditHead.seq}, hash \`${plugin.auditHead.hash}\`, when it drafted this; auditors check it with \`treasury audit verify\`.`,
    '',
    `Audit record: \`${cell(input.auditRecordId)}\`${input.auditLogUrl ? ` in the audit log published at ${input.auditLogUrl}` : ''}; read it with \`treasury audit show ${cell(input.auditRecordId)} --log FILE\`.${input.discussionUrl ? `\n\nDiscussion: ${input.discussionUrl}` : ''}`,
  ].join('\n');

  const assemble = (rationale: string, withHex: boolean) =>
    [
      head,
      rationaleSection(rationale),
      risks,
      strategy,
      allocation,
      policies,
      trades,
      simulation,
      guardrails,
      sources,
      transaction(withHex),
      audit,
    ]
      .filter(Boolean)
      .join('\n\n');

  // Within Snapshot's limit: the whole body if it fits; else the rationale shortened (with a note) while at least
  // a paragraph of it remains; else the calls' hex left to the plugins (the fields and hashes stay), then the
  // rationale shortened again. The transaction's fields are never cut.
  const rationale = plainText(input.rationale);
  const note = `\n\n*(Rationale shortened to fit Snapshot's ${BODY_LIMIT.toLocaleString('en-US')}-character limit; the full text is in audit record \`${cell(input.auditRecordId)}\`.)*`;
  const MIN_RATIONALE = 600;
  let body: string | undefined;
  for (const withHex of [true, false]) {
    const full = assemble(rationale, withHex);
    if (full.length <= BODY_LIMIT) {
      body = full;
      break;
    }
    const room = BODY_LIMIT - assemble('', withHex).length - note.length - 1;
    if (room < (withHex ? MIN_RATIONALE : 0)) continue;
    // Cut between words: half a figure would be a different figure.
    const cut = rationale.slice(0, room + 1);
    const space = cut.lastIndexOf(' ');
    body = assemble(`${(space > 0 ? cut.slice(0, space) : cut.slice(0, room)).trimEnd()}…${note}`, withHex);
    break;
  }
  if (body === undefined) {
    throw new GovernanceError(
      `the proposal body is over ${BODY_LIMIT} characters even without the rationale`,
      {
        details: [`${assemble('', false).length} characters without rationale and without the calls' hex`],
        hint: 'split the plan into fewer trades or transactions per proposal',
      },
    );
  }
  return { body, plugins: JSON.stringify({ [PLUGIN_KEY]: plugin }), plugin };
}

/**
 * Reads our plugin back from a hub proposal's `plugins` (object or JSON string). The hub's copy is untrusted:
 * a missing or malformed plugin is an error, never a default.
 */
export function parseTreasuryPlugin(plugins: unknown): TreasuryAgentPlugin {
  let value = plugins;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (error) {
      throw new GovernanceError("the proposal's plugins are not JSON", { cause: error });
    }
  }
  const container = z.object({ [PLUGIN_KEY]: z.unknown() }).safeParse(value);
  if (!container.success || container.data[PLUGIN_KEY] === undefined) {
    throw new GovernanceError(`the proposal has no plugins.${PLUGIN_KEY}`, {
      hint: 'it was not created by the treasury agent, or its plugins were edited',
    });
  }
  const parsed = TreasuryAgentPluginSchema.safeParse(container.data[PLUGIN_KEY]);
  if (!parsed.success) {
    throw new GovernanceError(`the proposal's plugins.${PLUGIN_KEY} is malformed`, {
      details: z.prettifyError(parsed.error).split('\n'),
    });
  }
  return parsed.data;
}
