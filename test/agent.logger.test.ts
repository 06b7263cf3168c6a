import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../agent/auditLog.ts';
import { cycleOutcome } from '../agent/cycleLog.ts';
import type { ProposalRow } from '../agent/ledger.ts';
import { createRedactor } from '../agent/secrets.ts';
import type { CommandIo } from '../cli/command.ts';
import { createCommandLogger } from '../cli/logger.ts';
import { redactUrlsIn } from '../shared/errors.ts';

function capture(tty: boolean) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    signal: new AbortController().signal,
    tty,
  };
  return { io, out, err };
}

describe('command logs (pino)', () => {
  it('not a terminal: one JSON object a line, info on out, warnings and errors on err', async () => {
    const { io, out, err } = capture(false);
    const log = await createCommandLogger(io, 'run');
    log.info({ space: 'dao.eth', ms: 12 }, 'dao.eth: proposed');
    log.warn('tick skipped');
    log.error({ error: 'boom' }, 'cycle failed');
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toMatchObject({
      level: 30,
      command: 'run',
      space: 'dao.eth',
      ms: 12,
      msg: 'dao.eth: proposed',
    });
    expect(new Date(JSON.parse(out[0]!).time).toISOString()).toBe(JSON.parse(out[0]!).time);
    expect(err.map((l) => JSON.parse(l).level)).toEqual([40, 50]);
  });

  it('a terminal: one readable line an event, with its fields on the same line', async () => {
    const { io, out, err } = capture(true);
    const log = await createCommandLogger(io, 'hub');
    log.info({ method: 'GET', status: 200 }, 'GET /graphql 200 3ms');
    log.error('hub: boom');
    expect(out).toHaveLength(1);
    const line = stripVTControlCharacters(out[0]!);
    expect(line).not.toContain('\n');
    expect(line).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\] INFO: GET \/graphql 200 3ms \{"method":"GET","status":200\}$/,
    );
    expect(stripVTControlCharacters(err[0]!)).toMatch(/ERROR: hub: boom$/);
  });

  it("writes only through io (the CLI's redactor), never to the process's stdout itself", async () => {
    const secret = `0x${'ab12'.repeat(16)}`;
    const redact = createRedactor([secret]);
    const lines: string[] = [];
    const io: CommandIo = { ...capture(false).io, out: (l) => lines.push(redactUrlsIn(redact(l))) };
    const write = vi.spyOn(process.stdout, 'write');
    try {
      const log = await createCommandLogger(io, 'console');
      log.info(
        { url: `http://user:pw@host/${secret}` },
        `up at http://user:pw@host/ with ${secret.slice(2)}`,
      );
      expect(write).not.toHaveBeenCalled();
    } finally {
      write.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(secret.slice(2));
    expect(lines[0]).not.toContain(':pw@');
    expect(JSON.parse(lines[0]!).msg).toMatch(/\*\*\*/); // still one JSON object
  });
});

const record = (kind: string, data: unknown, seq = 1): AuditRecord =>
  ({ seq, id: `rec-${seq}`, at: 0, kind, data, prevHash: '0x', hash: '0x' }) as AuditRecord;
const row = (state: ProposalRow['state'], proposalId: string | null) =>
  ({ key: 'k1', state, proposalId }) as ProposalRow;
const none = { open: [], proposalIdOf: () => undefined };

describe('the outcome of a cycle, for its log line', () => {
  it('names the most consequential thing that happened, with its proposal', () => {
    const records = [
      record('vote-result', { ledgerKey: 'k0', proposalId: '0xaa', outcome: 'passed' }),
      record('executed', { ledgerKey: 'k0', proposalId: '0xaa' }),
      record('decision', { outcome: 'propose' }),
      record('proposal-posted', { ledgerKey: 'k1', proposalId: '0xbb' }),
    ];
    expect(cycleOutcome(records, { ...none, open: [row('posted', '0xbb')] })).toEqual({
      outcome: 'executed',
      proposalId: '0xaa',
    });
    expect(cycleOutcome(records.slice(2), { ...none, open: [row('posted', '0xbb')] })).toEqual({
      outcome: 'proposed',
      proposalId: '0xbb',
    });
  });

  it('finds the proposal of records that name only the ledger key', () => {
    const waiting = record('execution-waiting', { ledgerKey: 'k1', reason: 'a feed is stale' });
    expect(
      cycleOutcome([waiting], {
        open: [row('passed', '0xcc')],
        proposalIdOf: (k) => (k === 'k1' ? '0xcc' : undefined),
      }),
    ).toEqual({ outcome: 'waiting', proposalId: '0xcc', detail: 'a feed is stale' });
    const failed = record('execution-failed', { ledgerKey: 'k1', outcome: 'failed', reason: 'reverted' });
    expect(cycleOutcome([failed], { ...none, proposalIdOf: () => '0xcc' })).toEqual({
      outcome: 'refused',
      proposalId: '0xcc',
      detail: 'reverted',
    });
  });

  it('paused, nothing due, an open vote, a shadow draft', () => {
    expect(cycleOutcome([], { ...none, paused: 'circuit breaker: GOV moved 40%' })).toEqual({
      outcome: 'paused',
      detail: 'circuit breaker: GOV moved 40%',
      paused: 'circuit breaker: GOV moved 40%',
    });
    expect(cycleOutcome([], none)).toEqual({ outcome: 'nothing due' });
    expect(cycleOutcome([record('decision', { outcome: 'no-trades' })], none)).toEqual({
      outcome: 'nothing due',
      detail: 'on target',
    });
    expect(cycleOutcome([], { ...none, open: [row('posted', '0xdd')] })).toEqual({
      outcome: 'waiting',
      proposalId: '0xdd',
      detail: 'the vote is open',
    });
    expect(cycleOutcome([record('decision', { outcome: 'shadow' })], none)).toMatchObject({
      outcome: 'drafted',
    });
    // executed, then the balances diverged: the line says both
    expect(
      cycleOutcome([record('executed', { proposalId: '0xee' }), record('paused', { reason: 'diverged' })], {
        ...none,
        paused: 'diverged',
      }),
    ).toEqual({ outcome: 'executed', proposalId: '0xee', paused: 'diverged' });
  });
});
