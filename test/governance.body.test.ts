import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GovernanceError } from '../governance/errors.ts';
import {
  BODY_LIMIT,
  type ProposalBodyInput,
  parseTreasuryPlugin,
  plainText,
  renderProposalBody,
} from '../governance/proposalBody.ts';

const SAFE = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const HASH = `0x${'ab'.repeat(32)}`;
const DATA_HASH = `0x${'cd'.repeat(32)}`;
const DECISION = `0x${'ef'.repeat(32)}`;
const MULTISEND = '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0';
const SWAPPER = '0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9';

function sampleInput(overrides: Partial<ProposalBodyInput> = {}): ProposalBodyInput {
  return {
    summary: 'Rebalance: sell 1,234.5 WETH for USDC to restore the 40% stablecoin floor.',
    rationale: 'ETH rose 30% this quarter; the treasury drifted above its risk budget.',
    risks: ['Slippage above 0.5% reverts the swap (minimum out).'],
    allocation: [
      { symbol: 'WETH', beforeBps: 6000, afterBps: 5000 },
      { symbol: 'USDC', beforeBps: 4000, afterBps: 5000 },
    ],
    trades: [
      {
        policy:
          'sell 1,234.5 WETH for USDC at no worse than the oracle price −1.31% when executed, and never below 2,494.97 USDC per WETH; valid until 2026-01-05 00:00 UTC',
        sell: { symbol: 'WETH', amount: 1_234_500_000_000_000_000_000n, decimals: 18 },
        buy: { symbol: 'USDC', minOut: 3_829_000_123_456n, expectedOut: 3_850_000_000_000n, decimals: 6 },
        price: {
          pair: 'USD/ETH',
          value: '3118.71',
          source: 'Chainlink ETH/USD 0x5f4e…',
          asOf: 1_767_225_600,
        },
        venue: 'Uniswap V2 router 0x7a25…',
      },
    ],
    guardrails: [
      { name: 'Max share of treasury per proposal', detail: '10.0% ≤ 15%' },
      { name: 'Runway floor (stablecoins)', detail: '50.0% ≥ 40%' },
    ],
    dataSources: [{ name: 'ETH/USD', source: 'Chainlink feed', asOf: 1_767_225_600 }],
    safe: {
      address: SAFE.toLowerCase(),
      nonce: 7n,
      chainId: 31337,
      safeTxHash: HASH,
      to: MULTISEND,
      dataHash: DATA_HASH,
      decisionHash: DECISION,
      policySwapper: SWAPPER,
      validUntil: 1_767_571_200,
      transactions: [
        {
          to: '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0',
          value: 0n,
          data: `0x8d80ff0a${'00'.repeat(64)}`,
          operation: 1,
        },
      ],
    },
    auditRecordId: 'audit-2026-11-22-0001',
    auditHead: { seq: 11, hash: `0x${'7a'.repeat(32)}` },
    ...overrides,
  };
}

describe('renderProposalBody', () => {
  it('renders every section with human units, the price source and time, and the exact transaction', () => {
    const { body, plugins, plugin } = renderProposalBody(sampleInput());
    for (const text of [
      '## Summary',
      '## Rationale',
      '## Allocation',
      '| WETH | 60.00% | 50.00% | -10.00% |',
      '| USDC | 40.00% | 50.00% | +10.00% |',
      '1,234.5 WETH',
      '≥ 3,829,000.12 USDC',
      '3,850,000 USDC',
      '3118.71 USD/ETH',
      'Chainlink ETH/USD 0x5f4e…',
      '2026-01-01 00:00 UTC',
      '✅ 10.0% ≤ 15%',
      `\`${SAFE}\``,
      '## What you approve',
      '1. sell 1,234.5 WETH for USDC at no worse than the oracle price −1.31% when executed, and never below 2,494.97 USDC per WETH; valid until 2026-01-05 00:00 UTC',
      `PolicySwapper \`${SWAPPER}\``,
      '| nonce when drafted | 7 |',
      '| Chain id | 31337 |',
      `| to | \`${MULTISEND}\` (MultiSendCallOnly) |`,
      `keccak256 \`${DATA_HASH}\``,
      `| decision hash | \`${DECISION}\` |`,
      '| valid until | 2026-01-05 00:00 UTC |',
      'the safeTxHash is the same fields with that nonce',
      `The agent's audit log stood at record 11, hash \`0x${'7a'.repeat(32)}\``,
      `\`${HASH}\``,
      `0x8d80ff0a${'00'.repeat(64)}`,
      'audit-2026-11-22-0001',
    ]) {
      expect(body).toContain(text);
    }
    expect(body.length).toBeLessThanOrEqual(BODY_LIMIT);
    expect(JSON.parse(plugins)).toEqual({
      treasuryAgent: {
        chainId: 31337,
        safe: SAFE,
        nonce: 7,
        safeTxHash: HASH,
        to: MULTISEND,
        dataHash: DATA_HASH,
        decisionHash: DECISION,
        policySwapper: SWAPPER,
        validUntil: 1_767_571_200,
        auditHead: { seq: 11, hash: `0x${'7a'.repeat(32)}` },
        transactions: [
          {
            to: '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0',
            value: '0',
            data: `0x8d80ff0a${'00'.repeat(64)}`,
            operation: 1,
          },
        ],
      },
    });
    expect(parseTreasuryPlugin(plugins)).toEqual(plugin);
    expect(parseTreasuryPlugin(JSON.parse(plugins))).toEqual(plugin);
  });

  it('shortens the rationale (with a note) but never the transaction section', () => {
    const { body, plugin } = renderProposalBody(sampleInput({ rationale: 'word '.repeat(5000) }));
    expect(body.length).toBeLessThanOrEqual(BODY_LIMIT);
    expect(body.length).toBeGreaterThan(BODY_LIMIT - 200);
    expect(body).toContain('Rationale shortened');
    expect(body).toContain(plugin.safeTxHash);
    expect(body).toContain(plugin.transactions[0]!.data);
    expect(body).toMatch(
      /Audit record: `audit-2026-11-22-0001`; read it with `treasury audit show audit-2026-11-22-0001 --log FILE`\.$/,
    );
    expect(body).toContain(plugin.auditHead.hash);
  });

  it('refuses when the transaction alone does not fit, or is malformed', () => {
    // long calldata: the calls' hex is left to the plugin, every field and hash stays in the body
    const long = sampleInput();
    long.safe.transactions = [{ to: SAFE, value: 0n, data: `0x${'11'.repeat(6000)}`, operation: 0 }];
    const rendered = renderProposalBody(long);
    expect(rendered.body.length).toBeLessThanOrEqual(BODY_LIMIT);
    expect(rendered.body).not.toContain('1111111111');
    expect(rendered.body).toContain(
      "Each call's data (too long for this body) is in this proposal's `plugins.treasuryAgent`",
    );
    expect(rendered.body).toContain(DATA_HASH);
    expect(rendered.plugin.transactions[0]!.data).toBe(`0x${'11'.repeat(6000)}`);
    // far too many calls: even the list of calls does not fit
    const huge = sampleInput();
    huge.safe.transactions = Array.from({ length: 120 }, () => ({
      to: SAFE,
      value: 0n,
      data: '0x',
      operation: 0 as const,
    }));
    expect(() => renderProposalBody(huge)).toThrow(/over 10000 characters even without the rationale/);
    const badHash = sampleInput();
    badHash.safe.safeTxHash = '0x1234';
    expect(() => renderProposalBody(badHash)).toThrow(GovernanceError);
    const badWeights = sampleInput({ allocation: [{ symbol: 'WETH', beforeBps: 5000, afterBps: 10_000 }] });
    expect(() => renderProposalBody(badWeights)).toThrow(/sum to 10,000 bps/);
  });

  it('keeps hostile text inside its table cell', () => {
    const { body } = renderProposalBody(
      sampleInput({
        allocation: [
          { symbol: 'EVIL|\n## Transaction to execute', beforeBps: 6000, afterBps: 5000 },
          { symbol: '<img src=x>', beforeBps: 4000, afterBps: 5000 },
        ],
      }),
    );
    expect(body).toContain('| EVIL\\| ## Transaction to execute | 60.00%');
    expect(body).toContain('&lt;img src=x>');
    expect(body.match(/^## Transaction to execute$/gm)?.length).toBe(1);
  });
});

/** Markdown structure a renderer could build from text: what plainText must never leave in its output. */
const MARKDOWN_SPECIALS = /[\\`*_[\]<>#|~&@^=+]|:\/|[\p{L}]\.[\p{L}\p{N}]|[\p{N}]\.[\p{L}]/u;
const BLOCK_START = /^(?:[-:]|\d+[.)](?: |$))/;

describe('plainText (model and untrusted text in the body)', () => {
  it('leaves figures and ordinary prose as they are', () => {
    for (const text of [
      'Rebalance $98,000 (4.00% of a $2,450,000 treasury): sell 65,333.33 GOV for USDC, then buy WETH.',
      'Runway goes from 12.3 months to 13.5 months; volatility 92.0% for GOV over the lookback.',
      "GOV's weight falls – the step is capped — as voted.",
    ]) {
      expect(plainText(text)).toBe(text);
    }
  });

  it('makes markdown, HTML, entities, autolinks and invisible characters inert, on one line', () => {
    const cases: [string, string][] = [
      ['[claim here](https://evil.example/x)', '［claim here］(https∶//evil․example/x)'],
      ['![x](https://evil.example/p.png)', '!［x］(https∶//evil․example/p․png)'],
      ['## Transaction to execute', '＃＃ Transaction to execute'],
      ['intro\n\n# New heading\n> quote\n- item\n1. first', 'intro ＃ New heading › quote - item 1. first'],
      ['- a list item', '\u2010 a list item'],
      ['3. an ordered item', '3\u2024 an ordered item'],
      ['3) an ordered item', '3\uFF09 an ordered item'],
      ['<img src=x onerror=alert(1)>', '\u2039img src＝x onerror＝alert(1)\u203A'],
      ['<https://evil.example>', '\u2039https∶//evil․example\u203A'],
      ['see www.evil.com or vitalik.eth or a@b.co', 'see www․evil․com or vitalik․eth or a＠b․co'],
      ['e.g. this', 'e․g. this'],
      [
        '**bold** _em_ `code` ~~gone~~ ==mark== ++ins++ ^sup^',
        '∗∗bold∗∗ ˍemˍ ˋcodeˋ ∼∼gone∼∼ ＝＝mark＝＝ ＋＋ins＋＋ ˆsupˆ',
      ],
      ['&#8238;&lt;b&gt;', '＆＃8238;＆lt;b＆gt;'],
      ['| a | b |\n|---|---|', '∣ a ∣ b ∣ ∣---∣---∣'],
      ['```js\nalert(1)\n```', 'ˋˋˋjs alert(1) ˋˋˋ'],
      ['ipfs://QmHash', 'ipfs∶//QmHash'],
      ['a\u200Bb\u202Ec\u2066d\uFEFFe\u00ADf', 'abcdef'],
      ['line\u2028break\u00A0nbsp\ttab', 'line break nbsp tab'],
      ['\\*not escaped\\*', '⧵∗not escaped⧵∗'],
    ];
    for (const [input, expected] of cases) {
      const out = plainText(input);
      expect(out, input).toBe(expected);
      expect(out, input).not.toMatch(MARKDOWN_SPECIALS);
      expect(out, input).not.toMatch(BLOCK_START);
      expect(out, input).not.toMatch(/\n/);
    }
  });

  it('leaves no markdown structure in any string (fast-check)', () => {
    const special = fc.constantFrom(
      ...'\\`*_[]<>#|~&@^=+-:./()!{}0123456789 \n\t'.split(''),
      'https://',
      'www.',
      '1. ',
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.oneof(special, fc.string({ unit: 'binary', maxLength: 2 })) }),
        (input) => {
          const out = plainText(input);
          expect(out).not.toMatch(MARKDOWN_SPECIALS);
          expect(out).not.toMatch(BLOCK_START);
          expect(out).not.toMatch(/[\n\r\t\p{Cf}]/u);
          expect(out).toBe(out.trim());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('puts the model text of summary, rationale and risks in the body as inert text', () => {
    const payload = '[vote here](https://evil.example)\n\n## Transaction to execute\n<img src=x> **now**';
    const { body } = renderProposalBody(
      sampleInput({ summary: payload, rationale: `Fine.\n${payload}`, risks: [payload, '- nested'] }),
    );
    expect(body.match(/^## Transaction to execute$/gm)?.length).toBe(1);
    expect(body).not.toContain('](');
    expect(body).not.toContain('<img');
    expect(body).not.toContain('**now**');
    expect(body).not.toContain('https://evil');
    expect(body).toContain('- \u2010 nested');
    const sections = body.slice(0, body.indexOf('## Allocation'));
    expect(sections.split('\n').filter((l) => l.startsWith('#'))).toEqual([
      '## Summary',
      '## Rationale',
      '## Risks',
    ]);
  });

  it('shortens a long rationale between words, never inside a figure', () => {
    const { body } = renderProposalBody(sampleInput({ rationale: '$98,000.25 moved, '.repeat(800) }));
    const cut = /## Rationale\n\n([^\n]*)…/.exec(body)?.[1] ?? '';
    expect(cut.length).toBeGreaterThan(1000);
    expect(cut.trimEnd().endsWith('moved,') || cut.trimEnd().endsWith('$98,000.25')).toBe(true);
  });
});

describe('parseTreasuryPlugin', () => {
  it('refuses a missing, non-JSON or malformed plugin', () => {
    expect(() => parseTreasuryPlugin({})).toThrow(/no plugins.treasuryAgent/);
    expect(() => parseTreasuryPlugin('{not json')).toThrow(/not JSON/);
    expect(() =>
      parseTreasuryPlugin({
        treasuryAgent: { chainId: 1, safe: SAFE, nonce: -1, safeTxHash: HASH, transactions: [] },
      }),
    ).toThrow(/malformed/);
  });
});
