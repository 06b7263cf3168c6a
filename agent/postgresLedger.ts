import pg from 'pg';
import {
  checkTransition,
  type FeedClose,
  type FeedCloseColumns,
  type Ledger,
  LedgerError,
  type MirroredAuditRecord,
  type PlannedInput,
  type ProposalColumns,
  type ProposalRow,
  type ProposalState,
  TERMINAL_STATES,
  type TransitionPatch,
  type TransitionRecord,
  toFeedClose,
  toProposal,
} from './ledger.ts';
import { urlCredentials } from './secrets.ts';

/**
 * The PostgreSQL adapter of the ledger port (`pg`): the same tables and the same idempotency keys as the SQLite
 * adapter, in one schema per DAO, so several `treasury run` processes (and many DAOs) share one database.
 * Transitions lock the proposal row (`SELECT … FOR UPDATE`) inside a transaction; the unique idempotency key of
 * a transition and the primary key of a proposal make a repeat a no-op, as in SQLite.
 */

const INT8_OID = 20;

/** A PostgreSQL schema name this adapter accepts: lower-case letters, digits and `_`, at most 63 characters. */
export const LEDGER_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The connection pools of one process, one per database URL (and read-only or not): many DAOs share them. The
 * composition root creates one and closes it at the end; nothing else holds a pool.
 */
export class PostgresPools {
  private readonly pools = new Map<string, pg.Pool>();

  constructor(private readonly options: { max?: number } = {}) {}

  get(url: string, options: { password?: string; readOnly?: boolean } = {}): pg.Pool {
    const id = `${options.readOnly ? 'ro' : 'rw'} ${url}`;
    let pool = this.pools.get(id);
    if (!pool) {
      pool = new pg.Pool({
        // pg lets the URL's fields override separate ones: the password goes into the URL it is given (in memory).
        connectionString: withPassword(url, options.password),
        max: this.options.max ?? 4,
        ...(options.readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
        // Unix seconds and counters are BIGINT: read them as numbers (all far below 2^53), per pool, not globally.
        types: {
          getTypeParser: ((oid: number, format?: string) =>
            oid === INT8_OID
              ? (value: string) => Number(value)
              : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
        },
      });
      // An idle connection that drops (server restart) must not crash the process: the next query reconnects.
      pool.on('error', () => {});
      this.pools.set(id, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end()));
  }
}

function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

function ddl(s: string): string {
  return `
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.proposals (
      key TEXT PRIMARY KEY,
      seq BIGSERIAL,
      state TEXT NOT NULL,
      cycle_at BIGINT NOT NULL,
      record_json TEXT NOT NULL,
      safe_tx_hash TEXT NOT NULL,
      safe_nonce TEXT NOT NULL,
      proposal_id TEXT UNIQUE,
      envelope_json TEXT,
      execution_tx_hash TEXT,
      reason TEXT,
      audit_record_id TEXT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ${s}.transitions (
      id BIGSERIAL PRIMARY KEY,
      proposal_key TEXT NOT NULL REFERENCES ${s}.proposals(key),
      from_state TEXT,
      to_state TEXT NOT NULL,
      at BIGINT NOT NULL,
      idempotency_key TEXT NOT NULL UNIQUE,
      detail TEXT
    );
    CREATE TABLE IF NOT EXISTS ${s}.audit_records (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      hash TEXT NOT NULL,
      prev_hash TEXT NOT NULL,
      json TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ${s}.agent_state (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS ${s}.feed_daily_closes (
      feed TEXT NOT NULL,
      day INTEGER NOT NULL,
      answer TEXT NOT NULL,
      updated_at BIGINT NOT NULL,
      round_id TEXT NOT NULL,
      PRIMARY KEY (feed, day)
    );`;
}

/** The URL as it may be printed: without user and password. */
function printable(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'the configured PostgreSQL URL';
  }
}

export class PostgresLedger implements Ledger {
  readonly kind = 'postgresql' as const;
  private closed = false;
  private exclusiveHeld = false;

  private constructor(
    private readonly pool: pg.Pool,
    /** The quoted schema name, safe to splice into SQL (checked against LEDGER_SCHEMA_PATTERN). */
    private readonly s: string,
    readonly schema: string,
    private readonly ownsPool: PostgresPools | undefined,
  ) {}

  /**
   * Opens the DAO's schema in the database at `url`, creating its tables when missing (under an advisory lock,
   * so runners starting together do not race). `pools`: shared pools (the caller closes them); without, the
   * ledger has its own and closes it.
   */
  static async open(
    location: { url: string; schema: string; password?: string },
    options: { readOnly?: boolean; pools?: PostgresPools } = {},
  ): Promise<PostgresLedger> {
    if (!LEDGER_SCHEMA_PATTERN.test(location.schema)) {
      throw new LedgerError(`"${location.schema}" is not a usable PostgreSQL schema name for the ledger`, {
        hint: 'state.ledgerSchema: lower-case letters, digits and _, at most 63 characters',
      });
    }
    const own = options.pools ? undefined : new PostgresPools({ max: 2 });
    const pools = options.pools ?? own!;
    const pool = pools.get(location.url, { password: location.password, readOnly: options.readOnly });
    const s = `"${location.schema}"`;
    const where = `the PostgreSQL ledger at ${printable(location.url)} (schema ${location.schema})`;
    try {
      if (options.readOnly) {
        const { rows } = await pool.query(
          'SELECT 1 FROM information_schema.schemata WHERE schema_name = $1',
          [location.schema],
        );
        if (rows.length === 0)
          throw new LedgerError(`no ledger in ${where}`, { hint: 'check state.ledgerSchema' });
      } else {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query("SELECT pg_advisory_xact_lock(hashtext('treasury-ledger-ddl'))");
          await client.query(ddl(s));
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        } finally {
          client.release();
        }
      }
    } catch (error) {
      await own?.close();
      if (error instanceof LedgerError) throw error;
      throw new LedgerError(`cannot open ${where}`, {
        cause: scrub(error, location.url),
        hint: 'is PostgreSQL up, the URL right and the password in the environment (PGPASSWORD or keys.ledgerPasswordEnv)?',
      });
    }
    return new PostgresLedger(pool, s, location.schema, own);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ownsPool?.close();
  }

  private async query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(sql, values)).rows;
  }

  private async tx<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const value = await body(client);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  private async rowOf(client: pg.PoolClient | pg.Pool, key: string, lock = false) {
    const { rows } = await client.query<ProposalColumns>(
      `SELECT * FROM ${this.s}.proposals WHERE key = $1${lock ? ' FOR UPDATE' : ''}`,
      [key],
    );
    return rows[0] ? toProposal(rows[0]) : undefined;
  }

  async insertPlanned(input: PlannedInput): Promise<ProposalRow> {
    return this.tx(async (client) => {
      const { rowCount } = await client.query(
        `INSERT INTO ${this.s}.proposals (key, state, cycle_at, record_json, safe_tx_hash, safe_nonce, created_at, updated_at)
         VALUES ($1, 'planned', $2, $3, $4, $5, $6, $6) ON CONFLICT (key) DO NOTHING`,
        [
          input.key,
          input.cycleAt,
          JSON.stringify(input.record),
          input.safeTxHash,
          input.safeNonce,
          input.now,
        ],
      );
      if (rowCount === 1) {
        await client.query(
          `INSERT INTO ${this.s}.transitions (proposal_key, from_state, to_state, at, idempotency_key)
           VALUES ($1, NULL, 'planned', $2, $3)`,
          [input.key, input.now, `${input.key}:planned`],
        );
      }
      return (await this.rowOf(client, input.key))!;
    });
  }

  get(key: string): Promise<ProposalRow | undefined> {
    return this.rowOf(this.pool, key);
  }

  async byProposalId(proposalId: string): Promise<ProposalRow | undefined> {
    const [row] = await this.query<ProposalColumns>(
      `SELECT * FROM ${this.s}.proposals WHERE proposal_id = $1`,
      [proposalId],
    );
    return row ? toProposal(row) : undefined;
  }

  async open(): Promise<ProposalRow[]> {
    const rows = await this.query<ProposalColumns>(
      `SELECT * FROM ${this.s}.proposals WHERE NOT (state = ANY($1)) ORDER BY cycle_at, created_at, seq`,
      [TERMINAL_STATES],
    );
    return rows.map(toProposal);
  }

  async all(): Promise<ProposalRow[]> {
    return (
      await this.query<ProposalColumns>(
        `SELECT * FROM ${this.s}.proposals ORDER BY cycle_at, created_at, seq`,
      )
    ).map(toProposal);
  }

  transition(
    key: string,
    from: ProposalState,
    to: ProposalState,
    patch: TransitionPatch,
    now: number,
    detail?: string,
  ): Promise<ProposalRow> {
    const idempotencyKey = `${key}:${from}->${to}`;
    return this.tx(async (client) => {
      const current = await this.rowOf(client, key, true);
      if (!current) throw new LedgerError(`no proposal ${key} in the ledger`);
      const { rows: done } = await client.query(
        `SELECT 1 FROM ${this.s}.transitions WHERE idempotency_key = $1`,
        [idempotencyKey],
      );
      if (done.length > 0) return current;
      checkTransition(key, current.state, from, to);
      await this.update(client, key, { ...patch, state: to }, now);
      await client.query(
        `INSERT INTO ${this.s}.transitions (proposal_key, from_state, to_state, at, idempotency_key, detail)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [key, from, to, now, idempotencyKey, detail ?? null],
      );
      return (await this.rowOf(client, key))!;
    });
  }

  annotate(key: string, patch: TransitionPatch, now: number): Promise<ProposalRow> {
    return this.tx(async (client) => {
      if (!(await this.rowOf(client, key, true))) throw new LedgerError(`no proposal ${key} in the ledger`);
      await this.update(client, key, patch, now);
      return (await this.rowOf(client, key))!;
    });
  }

  private async update(
    client: pg.PoolClient,
    key: string,
    patch: TransitionPatch & { state?: ProposalState },
    now: number,
  ): Promise<void> {
    const columns: [string, unknown][] = [['updated_at', now]];
    if (patch.state !== undefined) columns.push(['state', patch.state]);
    if (patch.proposalId !== undefined) columns.push(['proposal_id', patch.proposalId]);
    if (patch.envelope !== undefined) columns.push(['envelope_json', JSON.stringify(patch.envelope)]);
    if (patch.executionTxHash !== undefined) columns.push(['execution_tx_hash', patch.executionTxHash]);
    if (patch.reason !== undefined) columns.push(['reason', patch.reason]);
    if (patch.auditRecordId !== undefined) columns.push(['audit_record_id', patch.auditRecordId]);
    const sets = columns.map(([c], i) => `${c} = $${i + 1}`).join(', ');
    await client.query(`UPDATE ${this.s}.proposals SET ${sets} WHERE key = $${columns.length + 1}`, [
      ...columns.map(([, v]) => v),
      key,
    ]);
  }

  async transitions(key: string): Promise<TransitionRecord[]> {
    const rows = await this.query<{
      from_state: string | null;
      to_state: string;
      at: number;
      detail: string | null;
    }>(
      `SELECT from_state, to_state, at, detail FROM ${this.s}.transitions WHERE proposal_key = $1 ORDER BY id`,
      [key],
    );
    return rows.map((r) => ({ from: r.from_state, to: r.to_state, at: r.at, detail: r.detail }));
  }

  async getState(name: string): Promise<string | undefined> {
    const [row] = await this.query<{ v: string }>(`SELECT v FROM ${this.s}.agent_state WHERE k = $1`, [name]);
    return row?.v;
  }

  async setState(name: string, value: string): Promise<void> {
    await this.query(
      `INSERT INTO ${this.s}.agent_state (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v`,
      [name, value],
    );
  }

  async clearState(name: string): Promise<void> {
    await this.query(`DELETE FROM ${this.s}.agent_state WHERE k = $1`, [name]);
  }

  async feedCloses(feed: string, fromDay: number, toDay: number): Promise<FeedClose[]> {
    const rows = await this.query<FeedCloseColumns>(
      `SELECT feed, day, answer, updated_at, round_id FROM ${this.s}.feed_daily_closes
       WHERE feed = $1 AND day BETWEEN $2 AND $3 ORDER BY day`,
      [feed.toLowerCase(), fromDay, toDay],
    );
    return rows.map(toFeedClose);
  }

  async storeFeedCloses(rows: readonly FeedClose[]): Promise<void> {
    if (rows.length === 0) return;
    await this.tx(async (client) => {
      for (const r of rows) {
        await client.query(
          `INSERT INTO ${this.s}.feed_daily_closes (feed, day, answer, updated_at, round_id) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (feed, day) DO UPDATE SET answer = excluded.answer, updated_at = excluded.updated_at,
             round_id = excluded.round_id`,
          [r.feed.toLowerCase(), r.day, r.answer.toString(), r.updatedAt, r.roundId.toString()],
        );
      }
    });
  }

  async mirrorAudit(
    record: { seq: number; id: string; hash: string; prevHash: string },
    json: string,
  ): Promise<void> {
    await this.query(
      `INSERT INTO ${this.s}.audit_records (seq, id, hash, prev_hash, json) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING`,
      [record.seq, record.id, record.hash, record.prevHash, json],
    );
  }

  async auditRecords(): Promise<MirroredAuditRecord[]> {
    const rows = await this.query<{ seq: number; id: string; hash: string; prev_hash: string; json: string }>(
      `SELECT seq, id, hash, prev_hash, json FROM ${this.s}.audit_records ORDER BY seq`,
    );
    return rows.map((r) => ({ seq: r.seq, id: r.id, hash: r.hash, prevHash: r.prev_hash, json: r.json }));
  }

  /**
   * Runs `body` holding this DAO's lock (a session advisory lock on a connection of its own): across every
   * process sharing the database, one body at a time per DAO. Returns `{ ran: false }` at once when another
   * holds it. A process that dies releases it with its connection.
   */
  async exclusive<T>(body: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.exclusiveHeld) return { ran: false };
    this.exclusiveHeld = true;
    const lockId = `treasury-dao:${this.schema}`;
    try {
      const client = await this.pool.connect();
      try {
        const { rows } = await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
          [lockId],
        );
        if (!rows[0]?.locked) return { ran: false };
        try {
          return { ran: true, value: await body() };
        } finally {
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockId]);
        }
      } finally {
        client.release();
      }
    } finally {
      this.exclusiveHeld = false;
    }
  }
}

/** An error from pg with the URL's credentials taken out of its message (pg does not print them; be sure). */
function scrub(error: unknown, url: string): unknown {
  if (!(error instanceof Error)) return error;
  let message = error.message;
  for (const secret of urlCredentials(url)) if (secret.length >= 4) message = message.split(secret).join('…');
  if (message === error.message) return error;
  const copy = new Error(message);
  copy.name = error.name;
  return copy;
}
