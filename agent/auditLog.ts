import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { TreasuryError } from '../shared/errors.ts';
import type { Ledger } from './ledger.ts';

/**
 * The append-only audit log: one JSON record per line, each holding the hash of the one before, so any edit,
 * deletion or reordering breaks the chain. `hash` = sha256 of the canonical JSON of the record without `hash`.
 * The JSONL file is the primary copy (fsync'd per record); the ledger keeps a mirror.
 */

export const GENESIS_HASH = `0x${'0'.repeat(64)}`;

export type AuditRecord = {
  seq: number;
  id: string;
  /** Unix seconds, from the agent's clock (the chain's time locally). */
  at: number;
  kind: string;
  data: unknown;
  prevHash: string;
  hash: string;
};

const AuditRecordSchema = z.strictObject({
  seq: z.number().int().positive(),
  id: z.string().regex(/^rec-\d{6,}$/),
  at: z.number().int().nonnegative(),
  kind: z.string().min(1),
  data: z.unknown(),
  prevHash: z.string().regex(/^0x[0-9a-f]{64}$/),
  hash: z.string().regex(/^0x[0-9a-f]{64}$/),
});

export class AuditError extends TreasuryError {
  override name = 'AuditError';
}

/** JSON with object keys sorted at every level and bigints as decimal strings: one byte string per value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}

export function sha256Hex(text: string): string {
  return `0x${createHash('sha256').update(text).digest('hex')}`;
}

export function recordHash(record: Omit<AuditRecord, 'hash'>): string {
  const { seq, id, at, kind, data, prevHash } = record;
  return sha256Hex(canonicalJson({ seq, id, at, kind, data, prevHash }));
}

export function auditRecordId(seq: number): string {
  return `rec-${String(seq).padStart(6, '0')}`;
}

/** Parses a JSONL audit file; a malformed line is an error naming the line. */
export function parseAuditLog(text: string, source = 'audit log'): AuditRecord[] {
  const records: AuditRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new AuditError(`${source}: line ${i + 1} is not JSON`);
    }
    const parsed = AuditRecordSchema.safeParse(raw);
    if (!parsed.success)
      throw new AuditError(`${source}: line ${i + 1}: ${z.prettifyError(parsed.error).replace(/\n/g, ' ')}`);
    records.push(parsed.data as AuditRecord);
  });
  return records;
}

export type ChainVerification = { ok: boolean; count: number; problems: string[]; lastHash: string };

/** Checks sequence numbers, ids, each record's hash and each link to the previous hash. */
export function verifyAuditChain(records: AuditRecord[]): ChainVerification {
  const problems: string[] = [];
  let prev = GENESIS_HASH;
  records.forEach((record, i) => {
    const where = `record ${i + 1} (${record.id})`;
    if (record.seq !== i + 1) problems.push(`${where}: seq is ${record.seq}, expected ${i + 1}`);
    if (record.id !== auditRecordId(record.seq))
      problems.push(`${where}: id does not match seq ${record.seq}`);
    if (record.prevHash !== prev) problems.push(`${where}: prevHash does not link to the record before`);
    const expected = recordHash(record);
    if (record.hash !== expected) problems.push(`${where}: hash mismatch (content was changed)`);
    prev = record.hash;
  });
  return { ok: problems.length === 0, count: records.length, problems, lastHash: prev };
}

/**
 * How an audit file disagrees with the ledger's mirror of it (the ledger keeps every record's hash as it was
 * appended): records the file lost (truncation), records that differ (a replaced or edited file), and records
 * the ledger never saw.
 */
export function mirrorProblems(
  records: readonly AuditRecord[],
  mirror: readonly { seq: number; hash: string }[],
): string[] {
  const problems: string[] = [];
  if (mirror.length > records.length) {
    problems.push(
      `the file has ${records.length} records but the ledger mirrors ${mirror.length}: records ${records.length + 1}–${mirror.length} are missing (truncated?)`,
    );
  }
  const differing = mirror.filter((m) => {
    const r = records[m.seq - 1];
    return r !== undefined && (r.seq !== m.seq || r.hash !== m.hash);
  });
  if (differing.length > 0) {
    problems.push(
      `${differing.length} record(s) differ from the ledger's copy, first ${auditRecordId(differing[0]!.seq)} (replaced or edited)`,
    );
  }
  if (records.length > mirror.length) {
    problems.push(
      `the ledger does not mirror records ${mirror.length + 1}–${records.length} of the file (written by something other than this agent, or the ledger was replaced)`,
    );
  }
  return problems;
}

export class AuditLog {
  private seq: number;
  private lastHash: string;

  private constructor(
    readonly path: string,
    private readonly ledger: Ledger | undefined,
    existing: AuditRecord[],
  ) {
    this.seq = existing.length;
    this.lastHash = existing.at(-1)?.hash ?? GENESIS_HASH;
  }

  /** Opens the log, verifying the existing chain first: an agent never appends to a broken chain. */
  static async open(path: string, ledger?: Ledger): Promise<AuditLog> {
    mkdirSync(dirname(path), { recursive: true });
    const existing = existsSync(path) ? parseAuditLog(readFileSync(path, 'utf8'), path) : [];
    const check = verifyAuditChain(existing);
    if (!check.ok) {
      throw new AuditError(`the audit log ${path} does not verify: ${check.problems[0]}`, {
        hint: 'investigate before running the agent again: run treasury audit verify',
        details: check.problems.slice(1, 5),
      });
    }
    if (ledger) {
      const mirror = await ledger.auditRecords();
      const problems = mirrorProblems(existing, mirror);
      // A crash between writing the file and mirroring leaves the file one record ahead: that one is mirrored.
      const behind = existing.length - mirror.length;
      const onlyTail =
        problems.length === 1 && behind === 1 && problems[0]!.startsWith('the ledger does not mirror');
      if (problems.length > 0 && !onlyTail) {
        throw new AuditError(`the audit log ${path} disagrees with the ledger's mirror: ${problems[0]}`, {
          hint: 'the file was truncated, replaced or edited: investigate (treasury audit verify --config FILE) before running the agent again',
          details: problems.slice(1, 5),
        });
      }
      for (const r of existing.slice(mirror.length)) await ledger.mirrorAudit(r, canonicalJson(r));
    }
    return new AuditLog(path, ledger, existing);
  }

  /** The chain's head: the last record's seq and hash (seq 0 and the genesis hash when empty). */
  head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.lastHash };
  }

  /** The id the next record will get (so a proposal body can cite the record that explains it). */
  nextId(): string {
    return auditRecordId(this.seq + 1);
  }

  async append(kind: string, data: unknown, at: number): Promise<AuditRecord> {
    const seq = this.seq + 1;
    // Round-trip through canonical JSON so what is hashed is exactly what is stored and later re-read.
    const body = {
      seq,
      id: auditRecordId(seq),
      at,
      kind,
      data: JSON.parse(canonicalJson(data)) as unknown,
      prevHash: this.lastHash,
    };
    const record: AuditRecord = { ...body, hash: recordHash(body) };
    const line = `${canonicalJson(record)}\n`;
    const fd = openSync(this.path, 'a');
    try {
      writeSync(fd, line);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The head moves before the mirror is awaited: a second append never reuses this seq.
    this.seq = seq;
    this.lastHash = record.hash;
    await this.ledger?.mirrorAudit(record, line.trimEnd());
    return record;
  }

  records(): AuditRecord[] {
    return existsSync(this.path) ? parseAuditLog(readFileSync(this.path, 'utf8'), this.path) : [];
  }
}
