import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'libsql';
import { TreasuryError } from './errors.ts';

/**
 * The durable ledger (SQLite, WAL): one row per proposal with the state machine of DESIGN.md
 *   planned → posted → (rejected | expired | passed) → executing → executed | failed
 * Each transition is committed before its side effect is attempted and carries an idempotency key: repeating
 * a transition that already happened is a no-op, so a process killed at any point resumes without posting
 * or executing twice (the side effects themselves are checked on resume: the hub for a posted id, the chain
 * for an executing safeTxHash).
 */

export const PROPOSAL_STATES = [
  'planned',
  'posted',
  'rejected',
  'expired',
  'passed',
  'executing',
  'executed',
  'failed',
] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

const ALLOWED: Record<ProposalState, ProposalState[]> = {
  planned: ['posted', 'expired', 'failed'],
  posted: ['rejected', 'expired', 'passed', 'failed'],
  rejected: [],
  expired: [],
  passed: ['executing', 'expired', 'failed'],
  executing: ['executed', 'failed', 'expired'],
  executed: [],
  failed: [],
};

export const TERMINAL_STATES: ProposalState[] = ['rejected', 'expired', 'executed', 'failed'];

export type ProposalRow = {
  key: string;
  state: ProposalState;
  cycleAt: number;
  /** Everything needed to rebuild the transaction and the proposal (JSON, bigints as strings). */
  record: unknown;
  safeTxHash: string;
  safeNonce: string;
  proposalId: string | null;
  /** The signed Snapshot message, kept so a crash after signing re-sends exactly the same bytes. */
  envelope: unknown | null;
  executionTxHash: string | null;
  reason: string | null;
  auditRecordId: string | null;
  createdAt: number;
  updatedAt: number;
};

/**
 * A feed's close of one UTC day (days since 1970-01-01): its last round with updatedAt ≤ the end of that day
 * (contracts/feedRounds.ts). The feed address is stored in lower case.
 */
export type FeedClose = { feed: string; day: number; answer: bigint; updatedAt: number; roundId: bigint };

export class LedgerError extends TreasuryError {
  override name = 'LedgerError';
}

type Row = {
  key: string;
  state: string;
  cycle_at: number;
  record_json: string;
  safe_tx_hash: string;
  safe_nonce: string;
  proposal_id: string | null;
  envelope_json: string | null;
  execution_tx_hash: string | null;
  reason: string | null;
  audit_record_id: string | null;
  created_at: number;
  updated_at: number;
};

function toProposal(row: Row): ProposalRow {
  return {
    key: row.key,
    state: row.state as ProposalState,
    cycleAt: row.cycle_at,
    record: JSON.parse(row.record_json),
    safeTxHash: row.safe_tx_hash,
    safeNonce: row.safe_nonce,
    proposalId: row.proposal_id,
    envelope: row.envelope_json ? JSON.parse(row.envelope_json) : null,
    executionTxHash: row.execution_tx_hash,
    reason: row.reason,
    auditRecordId: row.audit_record_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export type TransitionPatch = Partial<
  Pick<ProposalRow, 'proposalId' | 'envelope' | 'executionTxHash' | 'reason' | 'auditRecordId'>
>;

export class Ledger {
  private readonly db: Database.Database;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Opens (or creates) the ledger; `:memory:` for tests. */
  static open(path: string): Ledger {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (error) {
      throw new LedgerError(`cannot open the ledger at ${path}`, {
        cause: error,
        hint: 'check state.ledgerPath',
      });
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(`
      CREATE TABLE IF NOT EXISTS proposals (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        cycle_at INTEGER NOT NULL,
        record_json TEXT NOT NULL,
        safe_tx_hash TEXT NOT NULL,
        safe_nonce TEXT NOT NULL,
        proposal_id TEXT UNIQUE,
        envelope_json TEXT,
        execution_tx_hash TEXT,
        reason TEXT,
        audit_record_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        proposal_key TEXT NOT NULL REFERENCES proposals(key),
        from_state TEXT,
        to_state TEXT NOT NULL,
        at INTEGER NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        detail TEXT
      );
      CREATE TABLE IF NOT EXISTS audit_records (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        json TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS agent_state (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS feed_daily_closes (
        feed TEXT NOT NULL,
        day INTEGER NOT NULL,
        answer TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        round_id TEXT NOT NULL,
        PRIMARY KEY (feed, day)
      ) WITHOUT ROWID;
    `);
    return new Ledger(db);
  }

  /**
   * Opens an existing ledger to read only (`query_only`: any write is refused by SQLite): the console and
   * auditors read it while the agent may be writing (WAL).
   */
  static openReadOnly(path: string): Ledger {
    if (!existsSync(path)) throw new LedgerError(`no ledger at ${path}`, { hint: 'check state.ledgerPath' });
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (error) {
      throw new LedgerError(`cannot open the ledger at ${path}`, {
        cause: error,
        hint: 'check state.ledgerPath',
      });
    }
    db.pragma('query_only = ON');
    db.pragma('busy_timeout = 5000');
    return new Ledger(db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Records a new planned proposal; a second insert with the same key is a no-op (returns the existing row). */
  insertPlanned(input: {
    key: string;
    cycleAt: number;
    record: unknown;
    safeTxHash: string;
    safeNonce: string;
    now: number;
  }): ProposalRow {
    const insert = this.db.transaction(() => {
      const existing = this.get(input.key);
      if (existing) return existing;
      this.db
        .prepare(
          `INSERT INTO proposals (key, state, cycle_at, record_json, safe_tx_hash, safe_nonce, created_at, updated_at)
           VALUES (?, 'planned', ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          input.key,
          input.cycleAt,
          JSON.stringify(input.record),
          input.safeTxHash,
          input.safeNonce,
          input.now,
          input.now,
        );
      this.db
        .prepare(
          `INSERT INTO transitions (proposal_key, from_state, to_state, at, idempotency_key) VALUES (?, NULL, 'planned', ?, ?)`,
        )
        .run(input.key, input.now, `${input.key}:planned`);
      return this.get(input.key)!;
    });
    return insert();
  }

  get(key: string): ProposalRow | undefined {
    const row = this.db.prepare('SELECT * FROM proposals WHERE key = ?').get(key) as Row | undefined;
    return row ? toProposal(row) : undefined;
  }

  byProposalId(proposalId: string): ProposalRow | undefined {
    const row = this.db.prepare('SELECT * FROM proposals WHERE proposal_id = ?').get(proposalId) as
      | Row
      | undefined;
    return row ? toProposal(row) : undefined;
  }

  /** Proposals not yet in a terminal state, oldest first: what a resumed agent must carry on with. */
  open(): ProposalRow[] {
    const placeholders = TERMINAL_STATES.map(() => '?').join(',');
    const rows = this.db
      .prepare(`SELECT * FROM proposals WHERE state NOT IN (${placeholders}) ORDER BY cycle_at, created_at`)
      .all(...TERMINAL_STATES) as Row[];
    return rows.map(toProposal);
  }

  all(): ProposalRow[] {
    return (this.db.prepare('SELECT * FROM proposals ORDER BY cycle_at, created_at').all() as Row[]).map(
      toProposal,
    );
  }

  /**
   * Moves a proposal from `from` to `to` atomically, storing `patch`. Idempotent: if this exact transition
   * (same idempotency key) was already made, nothing changes and the current row is returned. Any other
   * state mismatch is an error (the caller's view is stale).
   */
  transition(
    key: string,
    from: ProposalState,
    to: ProposalState,
    patch: TransitionPatch,
    now: number,
    detail?: string,
  ): ProposalRow {
    const idempotencyKey = `${key}:${from}->${to}`;
    const apply = this.db.transaction(() => {
      const done = this.db.prepare('SELECT 1 FROM transitions WHERE idempotency_key = ?').get(idempotencyKey);
      const current = this.get(key);
      if (!current) throw new LedgerError(`no proposal ${key} in the ledger`);
      if (done) return current;
      if (current.state !== from) {
        throw new LedgerError(`proposal ${key} is ${current.state}, not ${from}: cannot move it to ${to}`);
      }
      if (!ALLOWED[from].includes(to))
        throw new LedgerError(`illegal transition ${from} → ${to} for proposal ${key}`);
      this.update(key, { ...patch, state: to }, now);
      this.db
        .prepare(
          'INSERT INTO transitions (proposal_key, from_state, to_state, at, idempotency_key, detail) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(key, from, to, now, idempotencyKey, detail ?? null);
      return this.get(key)!;
    });
    return apply();
  }

  /** Stores fields without changing state (e.g. the signed envelope before it is sent). */
  annotate(key: string, patch: TransitionPatch, now: number): ProposalRow {
    if (!this.get(key)) throw new LedgerError(`no proposal ${key} in the ledger`);
    this.update(key, patch, now);
    return this.get(key)!;
  }

  private update(key: string, patch: TransitionPatch & { state?: ProposalState }, now: number): void {
    const columns: [string, unknown][] = [['updated_at', now]];
    if (patch.state !== undefined) columns.push(['state', patch.state]);
    if (patch.proposalId !== undefined) columns.push(['proposal_id', patch.proposalId]);
    if (patch.envelope !== undefined) columns.push(['envelope_json', JSON.stringify(patch.envelope)]);
    if (patch.executionTxHash !== undefined) columns.push(['execution_tx_hash', patch.executionTxHash]);
    if (patch.reason !== undefined) columns.push(['reason', patch.reason]);
    if (patch.auditRecordId !== undefined) columns.push(['audit_record_id', patch.auditRecordId]);
    const sql = `UPDATE proposals SET ${columns.map(([c]) => `${c} = ?`).join(', ')} WHERE key = ?`;
    this.db.prepare(sql).run(...columns.map(([, v]) => v), key);
  }

  transitions(key: string): { from: string | null; to: string; at: number; detail: string | null }[] {
    return (
      this.db
        .prepare(
          'SELECT from_state, to_state, at, detail FROM transitions WHERE proposal_key = ? ORDER BY id',
        )
        .all(key) as { from_state: string | null; to_state: string; at: number; detail: string | null }[]
    ).map((r) => ({ from: r.from_state, to: r.to_state, at: r.at, detail: r.detail }));
  }

  getState(name: string): string | undefined {
    return (this.db.prepare('SELECT v FROM agent_state WHERE k = ?').get(name) as { v: string } | undefined)
      ?.v;
  }

  setState(name: string, value: string): void {
    this.db
      .prepare('INSERT INTO agent_state (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v')
      .run(name, value);
  }

  clearState(name: string): void {
    this.db.prepare('DELETE FROM agent_state WHERE k = ?').run(name);
  }

  /** The stored daily closes of a feed for days fromDay…toDay (inclusive), by day. */
  feedCloses(feed: string, fromDay: number, toDay: number): FeedClose[] {
    return (
      this.db
        .prepare(
          'SELECT feed, day, answer, updated_at, round_id FROM feed_daily_closes WHERE feed = ? AND day BETWEEN ? AND ? ORDER BY day',
        )
        .all(feed.toLowerCase(), fromDay, toDay) as {
        feed: string;
        day: number;
        answer: string;
        updated_at: number;
        round_id: string;
      }[]
    ).map((r) => ({
      feed: r.feed,
      day: r.day,
      answer: BigInt(r.answer),
      updatedAt: r.updated_at,
      roundId: BigInt(r.round_id),
    }));
  }

  /** Stores daily closes (days that are over, so their close cannot change), in one transaction. */
  storeFeedCloses(rows: readonly FeedClose[]): void {
    if (rows.length === 0) return;
    const insert = this.db.prepare(
      `INSERT INTO feed_daily_closes (feed, day, answer, updated_at, round_id) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(feed, day) DO UPDATE SET answer = excluded.answer, updated_at = excluded.updated_at,
         round_id = excluded.round_id`,
    );
    this.db.transaction(() => {
      for (const r of rows)
        insert.run(r.feed.toLowerCase(), r.day, r.answer.toString(), r.updatedAt, r.roundId.toString());
    })();
  }

  /** Mirrors one audit record (the JSONL file is the primary copy; both must agree). */
  mirrorAudit(record: { seq: number; id: string; hash: string; prevHash: string }, json: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO audit_records (seq, id, hash, prev_hash, json) VALUES (?, ?, ?, ?, ?)')
      .run(record.seq, record.id, record.hash, record.prevHash, json);
  }

  auditRecords(): { seq: number; id: string; hash: string; prevHash: string; json: string }[] {
    return (
      this.db.prepare('SELECT seq, id, hash, prev_hash, json FROM audit_records ORDER BY seq').all() as {
        seq: number;
        id: string;
        hash: string;
        prev_hash: string;
        json: string;
      }[]
    ).map((r) => ({ seq: r.seq, id: r.id, hash: r.hash, prevHash: r.prev_hash, json: r.json }));
  }
}
