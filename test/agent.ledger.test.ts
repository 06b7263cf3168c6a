import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog, parseAuditLog, verifyAuditChain } from '../agent/auditLog.ts';
import { SqliteLedger } from '../agent/ledger.ts';
import { readSecrets, redactSecrets } from '../agent/secrets.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'ledger-'));

describe('audit log', () => {
  it('chains records by hash, mirrors them in the ledger, and verifies after reopening', async () => {
    const d = dir();
    const path = join(d, 'audit.jsonl');
    const ledger = SqliteLedger.open(join(d, 'l.db'));
    const log = await AuditLog.open(path, ledger);
    expect(log.nextId()).toBe('rec-000001');
    await log.append('cycle', { amount: 10n ** 30n, nested: { b: 1, a: 2 } }, 1000);
    await log.append('posted', { proposalId: '0x01' }, 1001);
    const again = await AuditLog.open(path, ledger);
    const third = await again.append('executed', { tx: '0x02' }, 1002);
    expect(third.id).toBe('rec-000003');
    const records = parseAuditLog(readFileSync(path, 'utf8'));
    expect(records.map((r) => r.prevHash).slice(1)).toEqual(records.map((r) => r.hash).slice(0, 2));
    expect(verifyAuditChain(records)).toMatchObject({ ok: true, count: 3 });
    expect(records[0]!.data).toEqual({ amount: '1000000000000000000000000000000', nested: { a: 2, b: 1 } });
    expect((await ledger.auditRecords()).map((r) => r.hash)).toEqual(records.map((r) => r.hash));
    await ledger.close();
  });

  it('detects an edited, a deleted and a reordered record, and refuses to append to a broken chain', async () => {
    const path = join(dir(), 'audit.jsonl');
    const log = await AuditLog.open(path);
    for (let i = 0; i < 3; i++) await log.append('cycle', { i }, 100 + i);
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
    await expect(AuditLog.open(path)).rejects.toThrow(
      /does not verify: record 2 \(rec-000002\): hash mismatch/,
    );
    writeFileSync(path, 'not json\n');
    await expect(AuditLog.open(path)).rejects.toThrow(/line 1 is not JSON/);
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
    const { redactUrlsIn } = await import('../shared/errors.ts');
    const text =
      'request to https://eth-mainnet.example.org/v2/AbCdEfGhIjKlMnOpQrStUvWxYz012345 failed (see https://user:pw@rpc.example.org/?apikey=s3cret)';
    const redacted = redactUrlsIn(text);
    expect(redacted).not.toMatch(/AbCdEfGh|s3cret|pw@/);
    expect(redacted).toContain('https://eth-mainnet.example.org/v2/***');
  });
});
