import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog, parseAuditLog, verifyAuditChain } from '../agent/auditLog.ts';
import { Ledger } from '../agent/ledger.ts';
import { readSecrets, redactSecrets } from '../agent/secrets.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'ledger-'));

describe('ledger', () => {
  it('persists proposals and transitions across reopen (WAL), and repeats of a transition are no-ops', () => {
    const path = join(dir(), 'ledger.db');
    const ledger = Ledger.open(path);
    ledger.insertPlanned({
      key: 'k1',
      cycleAt: 100,
      record: { plan: [1, 2] },
      safeTxHash: '0xaa',
      safeNonce: '3',
      now: 100,
    });
    ledger.transition('k1', 'planned', 'posted', { proposalId: '0xp1' }, 110);
    ledger.close();

    const reopened = Ledger.open(path);
    const row = reopened.get('k1')!;
    expect(row.state).toBe('posted');
    expect(row.proposalId).toBe('0xp1');
    expect(row.record).toEqual({ plan: [1, 2] });
    // The same transition again (a resumed process) changes nothing.
    expect(reopened.transition('k1', 'planned', 'posted', { proposalId: '0xother' }, 120).proposalId).toBe(
      '0xp1',
    );
    expect(reopened.transitions('k1').map((t) => t.to)).toEqual(['planned', 'posted']);
    // Inserting the same key again returns the existing row.
    expect(
      reopened.insertPlanned({
        key: 'k1',
        cycleAt: 1,
        record: {},
        safeTxHash: '0xbb',
        safeNonce: '9',
        now: 1,
      }).safeTxHash,
    ).toBe('0xaa');
    reopened.close();
  });

  it('refuses illegal and stale transitions', () => {
    const ledger = Ledger.open(':memory:');
    ledger.insertPlanned({ key: 'k', cycleAt: 1, record: {}, safeTxHash: '0x', safeNonce: '0', now: 1 });
    expect(() => ledger.transition('k', 'planned', 'executed', {}, 2)).toThrow(
      /illegal transition planned → executed/,
    );
    expect(() => ledger.transition('k', 'posted', 'passed', {}, 2)).toThrow(/is planned, not posted/);
    ledger.transition('k', 'planned', 'posted', {}, 2);
    ledger.transition('k', 'posted', 'rejected', { reason: 'Against won' }, 3);
    expect(ledger.open()).toHaveLength(0);
    expect(ledger.get('k')!.reason).toBe('Against won');
    expect(() => ledger.transition('k', 'rejected', 'passed', {}, 4)).toThrow(/illegal transition/);
    ledger.close();
  });
});

describe('audit log', () => {
  it('chains records by hash, mirrors them in the ledger, and verifies after reopening', () => {
    const d = dir();
    const path = join(d, 'audit.jsonl');
    const ledger = Ledger.open(join(d, 'l.db'));
    const log = AuditLog.open(path, ledger);
    expect(log.nextId()).toBe('rec-000001');
    log.append('cycle', { amount: 10n ** 30n, nested: { b: 1, a: 2 } }, 1000);
    log.append('posted', { proposalId: '0x01' }, 1001);
    const again = AuditLog.open(path, ledger);
    const third = again.append('executed', { tx: '0x02' }, 1002);
    expect(third.id).toBe('rec-000003');
    const records = parseAuditLog(readFileSync(path, 'utf8'));
    expect(records.map((r) => r.prevHash).slice(1)).toEqual(records.map((r) => r.hash).slice(0, 2));
    expect(verifyAuditChain(records)).toMatchObject({ ok: true, count: 3 });
    expect(records[0]!.data).toEqual({ amount: '1000000000000000000000000000000', nested: { a: 2, b: 1 } });
    expect(ledger.auditRecords().map((r) => r.hash)).toEqual(records.map((r) => r.hash));
    ledger.close();
  });

  it('detects an edited, a deleted and a reordered record, and refuses to append to a broken chain', () => {
    const path = join(dir(), 'audit.jsonl');
    const log = AuditLog.open(path);
    for (let i = 0; i < 3; i++) log.append('cycle', { i }, 100 + i);
    const lines = readFileSync(path, 'utf8').trim().split('\n');

    const edited = lines.map((l, i) => (i === 1 ? l.replace('"i":1', '"i":7') : l));
    expect(verifyAuditChain(parseAuditLog(edited.join('\n'))).problems).toEqual([
      'record 2 (rec-000002): hash mismatch (content was changed)',
    ]);
    const deleted = [lines[0]!, lines[2]!];
    expect(verifyAuditChain(parseAuditLog(deleted.join('\n'))).ok).toBe(false);
    const reordered = [lines[1]!, lines[0]!, lines[2]!];
    expect(verifyAuditChain(parseAuditLog(reordered.join('\n'))).ok).toBe(false);

    writeFileSync(path, `${edited.join('\n')}\n`);
    expect(() => AuditLog.open(path)).toThrow(/does not verify: record 2 \(rec-000002\): hash mismatch/);
    writeFileSync(path, 'not json\n');
    expect(() => AuditLog.open(path)).toThrow(/line 1 is not JSON/);
  });
});

describe('secrets', () => {
  it('come from the environment only, and errors never show the value', () => {
    const key = `0x${'11'.repeat(32)}`;
    const secrets = readSecrets({
      TREASURY_AGENT_KEY: key,
      TREASURY_COSIGNER_KEYS: `${key},0x${'22'.repeat(32)}`,
    });
    expect(secrets.agentKey).toBe(key);
    expect(secrets.coSignerKeys).toHaveLength(2);
    const bad = `0x${'zz'.repeat(32)}`;
    let message = '';
    try {
      readSecrets({ TREASURY_AGENT_KEY: bad });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/TREASURY_AGENT_KEY is not a private key/);
    expect(message).not.toContain(bad);
    expect(redactSecrets(`signed with ${key} and ${key.slice(2)}`, secrets)).toBe('signed with *** and ***');
  });
});

describe('secrets stay out of config files and error output', () => {
  it('refuses a config file that holds a private key, naming the line but not the value', async () => {
    const { parseConfig } = await import('../config/loadConfig.ts');
    const key = `0x${'ab'.repeat(32)}`;
    let message = '';
    try {
      parseConfig(`chain: { id: 1, rpcUrl: "http://x" }\nagentKey: "${key}"\n`, 'treasury.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(
      /^treasury\.yaml line 2 holds what looks like a private key → secrets never go in config files/,
    );
    expect(message).not.toContain(key.slice(2));
  });

  it('redacts API keys in any URL the CLI prints', async () => {
    const { redactUrlsIn } = await import('../agent/errors.ts');
    const text =
      'request to https://eth-mainnet.example.org/v2/AbCdEfGhIjKlMnOpQrStUvWxYz012345 failed (see https://user:pw@rpc.example.org/?apikey=s3cret)';
    const redacted = redactUrlsIn(text);
    expect(redacted).not.toMatch(/AbCdEfGh|s3cret|pw@/);
    expect(redacted).toContain('https://eth-mainnet.example.org/v2/***');
  });
});
