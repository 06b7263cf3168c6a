import { describe, expect, it } from 'vitest';
import { GovernanceError } from '../governance/errors.ts';
import {
  BODY_LIMIT,
  type ProposalBodyInput,
  parseTreasuryPlugin,
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
      '≥ 3,829,000.123456 USDC',
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
    expect(body.endsWith('Audit record: `audit-2026-11-22-0001`')).toBe(true);
    expect(body).toContain(plugin.auditHead.hash);
  });

  it('refuses when the transaction alone does not fit, or is malformed', () => {
    const huge = sampleInput();
    huge.safe.transactions = [{ to: SAFE, value: 0n, data: `0x${'11'.repeat(6000)}`, operation: 0 }];
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
