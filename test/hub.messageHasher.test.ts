import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMessageHasher } from '../governance/hub/messageHasher.ts';
import {
  cancelProposalTypes,
  messageId,
  proposalTypes,
  SNAPSHOT_DOMAIN,
  voteTypes,
} from '../governance/snapshotProtocol.ts';

describe('hub message ids', () => {
  it('equal snapshot.js utils.getHash for votes, proposals, cancels and other domains', () => {
    const hash = createMessageHasher();
    const address = fc.constantFrom(
      '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
    );
    const text = fc.string({ maxLength: 40 });
    const time = fc.integer({ min: 0, max: 2 ** 40 });
    fc.assert(
      fc.property(address, text, time, fc.integer({ min: 0, max: 2 ** 32 - 1 }), text, (from, s, t, c, r) => {
        const vote = {
          domain: { ...SNAPSHOT_DOMAIN },
          types: voteTypes,
          message: {
            from,
            space: s,
            timestamp: t,
            proposal: r,
            choice: c,
            reason: s,
            app: '',
            metadata: '{}',
          },
        };
        expect(hash(vote)).toBe(messageId(vote));
        const proposal = {
          domain: { ...SNAPSHOT_DOMAIN },
          types: proposalTypes,
          message: {
            from,
            space: s,
            timestamp: t,
            type: 'basic',
            title: r,
            body: s,
            discussion: '',
            choices: [s, r],
            labels: [],
            start: t,
            end: t + 1,
            snapshot: c,
            plugins: '{}',
            privacy: '',
            app: '',
          },
        };
        expect(hash(proposal)).toBe(messageId(proposal));
        const cancel = {
          domain: { ...SNAPSHOT_DOMAIN },
          types: cancelProposalTypes,
          message: { from, space: s, timestamp: t, proposal: r },
        };
        expect(hash(cancel)).toBe(messageId(cancel));
        const otherDomain = { ...vote, domain: { ...SNAPSHOT_DOMAIN, chainId: 1 } };
        expect(hash(otherDomain)).toBe(messageId(otherDomain));
        expect(hash(otherDomain)).not.toBe(hash(vote));
      }),
      { numRuns: 150 },
    );
  });

  it('fails where getHash fails', () => {
    const hash = createMessageHasher();
    const bad = {
      domain: { ...SNAPSHOT_DOMAIN },
      types: voteTypes,
      message: {
        from: 'x',
        space: 's',
        timestamp: 'soon',
        proposal: 'p',
        choice: 1,
        reason: '',
        app: '',
        metadata: '',
      },
    };
    expect(() => messageId(bad)).toThrow();
    expect(() => hash(bad)).toThrow();
  });
});
