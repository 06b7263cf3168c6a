import Database from 'libsql';
import { HubError } from '../errors.ts';

/** A proposal as stored (columns named as on hub.snapshot.org). JSON columns are kept as text. */
export type ProposalRow = {
  id: string;
  ipfs: string;
  author: string;
  created: number;
  updated: number;
  space: string;
  network: string;
  symbol: string;
  type: string;
  strategies: string;
  plugins: string;
  title: string;
  body: string;
  discussion: string;
  choices: string;
  labels: string;
  start: number;
  end: number;
  quorum: number;
  quorum_type: string;
  privacy: string;
  snapshot: number;
  app: string;
  scores: string;
  scores_by_strategy: string;
  scores_state: string;
  scores_total: number;
  scores_updated: number;
  votes: number;
};

export type VoteRow = {
  id: string;
  ipfs: string;
  voter: string;
  created: number;
  space: string;
  proposal: string;
  choice: string;
  metadata: string;
  reason: string;
  app: string;
  vp: number;
  vp_by_strategy: string;
  vp_state: string;
};

export type MessageRow = {
  id: string;
  ipfs: string;
  address: string;
  version: string;
  timestamp: number;
  space: string;
  type: string;
  sig: string;
  receipt: string;
};

/** A filter on one column: equality, membership, comparison or substring. */
export type Condition =
  | { column: string; op: '=' | '>' | '>=' | '<' | '<=' | '!='; value: string | number }
  | { column: string; op: 'in' | 'not in'; value: (string | number)[] }
  | { column: string; op: 'contains'; value: string };

export type ListQuery = {
  where: Condition[];
  first: number;
  skip: number;
  orderBy: string;
  orderDirection: 'asc' | 'desc';
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, ipfs TEXT NOT NULL, address TEXT NOT NULL, version TEXT NOT NULL, timestamp INTEGER NOT NULL,
  space TEXT NOT NULL, type TEXT NOT NULL, sig TEXT NOT NULL, receipt TEXT NOT NULL, mci INTEGER
);
CREATE TABLE IF NOT EXISTS proposals (
  id TEXT PRIMARY KEY, ipfs TEXT NOT NULL, author TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
  space TEXT NOT NULL, network TEXT NOT NULL, symbol TEXT NOT NULL, type TEXT NOT NULL, strategies TEXT NOT NULL,
  plugins TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, discussion TEXT NOT NULL, choices TEXT NOT NULL,
  labels TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, quorum REAL NOT NULL, quorum_type TEXT NOT NULL,
  privacy TEXT NOT NULL, snapshot INTEGER NOT NULL, app TEXT NOT NULL, scores TEXT NOT NULL,
  scores_by_strategy TEXT NOT NULL, scores_state TEXT NOT NULL, scores_total REAL NOT NULL,
  scores_updated INTEGER NOT NULL, votes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS proposals_space_created ON proposals (space, created, id);
CREATE INDEX IF NOT EXISTS proposals_author_end ON proposals (author, "end");
CREATE TABLE IF NOT EXISTS votes (
  id TEXT PRIMARY KEY, ipfs TEXT NOT NULL, voter TEXT NOT NULL, created INTEGER NOT NULL, space TEXT NOT NULL,
  proposal TEXT NOT NULL, choice TEXT NOT NULL, metadata TEXT NOT NULL, reason TEXT NOT NULL, app TEXT NOT NULL,
  vp REAL NOT NULL, vp_by_strategy TEXT NOT NULL, vp_state TEXT NOT NULL,
  UNIQUE (proposal, voter)
);
CREATE INDEX IF NOT EXISTS votes_proposal_created ON votes (proposal, created, id);
CREATE INDEX IF NOT EXISTS votes_space ON votes (space);
`;

const PROPOSAL_COLUMNS = [
  'id',
  'ipfs',
  'author',
  'created',
  'updated',
  'space',
  'network',
  'symbol',
  'type',
  'strategies',
  'plugins',
  'title',
  'body',
  'discussion',
  'choices',
  'labels',
  'start',
  'end',
  'quorum',
  'quorum_type',
  'privacy',
  'snapshot',
  'app',
  'scores',
  'scores_by_strategy',
  'scores_state',
  'scores_total',
  'scores_updated',
  'votes',
] as const;
const VOTE_COLUMNS = [
  'id',
  'ipfs',
  'voter',
  'created',
  'space',
  'proposal',
  'choice',
  'metadata',
  'reason',
  'app',
  'vp',
  'vp_by_strategy',
  'vp_state',
] as const;
const MESSAGE_COLUMNS = [
  'id',
  'ipfs',
  'address',
  'version',
  'timestamp',
  'space',
  'type',
  'sig',
  'receipt',
] as const;

const quote = (column: string) => `"${column}"`;

function insertSql(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.map(quote).join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`;
}

function stripMeta<T>(row: unknown): T {
  if (row && typeof row === 'object' && '_metadata' in row) {
    const { _metadata: _m, ...rest } = row as Record<string, unknown>;
    return rest as T;
  }
  return row as T;
}

const PROPOSAL_CACHE_LIMIT = 1000;
const LIST_CACHE_LIMIT = 64;
const VOTE_ROW_CACHE_LIMIT = 50_000;

/**
 * The hub's SQLite store (WAL). Each accepted message is written with its effect in one transaction, so a crash
 * never leaves a message recorded without its proposal or vote (or the reverse). Proposal rows are also kept in
 * memory (read on every vote), and so are the pages of the last list queries: this store is the file's only
 * writer, and every write replaces or drops the cached proposal once its transaction has committed and empties
 * the list cache. Vote rows are never updated (a new vote replaces a row under another id), so rows read once
 * are kept by id: a page of votes reads its ids from the index and only the rows it has not seen yet.
 */
export class HubStore {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #proposals = new Map<string, Readonly<ProposalRow>>();
  readonly #lists = new Map<string, readonly unknown[]>();
  readonly #voteRows = new Map<string, Readonly<VoteRow>>();
  readonly #queue: {
    work: () => unknown;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }[] = [];
  #grouped = false;

  constructor(path: string) {
    try {
      this.#db = new Database(path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
      this.#db.pragma('busy_timeout = 5000');
      this.#db.exec(SCHEMA);
    } catch (error) {
      throw new HubError(`cannot open the hub database ${path}`, {
        cause: error,
        hint: 'check the --db path (directory exists, writable, not used by another hub)',
      });
    }
  }

  /** `fn` all or nothing: its own transaction, or inside a group commit the savepoint of its message. */
  #atomic<T>(fn: () => T): () => T {
    return this.#grouped ? fn : this.#db.transaction(fn);
  }

  /**
   * Runs `work` (one message's writes) in the next group commit: the messages that arrive in the same turn of
   * the event loop share one SQLite transaction, each inside its own savepoint, so one message's failure
   * rolls back only its own writes. Resolves with `work`'s result once the group is committed (or rejects
   * with its error); if the commit itself fails, every message of the group is rejected.
   */
  commit<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.#queue.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const group = this.#queue.splice(0);
    if (group.length === 0) return;
    const results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.#db.exec('BEGIN');
      this.#grouped = true;
      for (const item of group) {
        this.#db.exec('SAVEPOINT message');
        try {
          results.push({ ok: true, value: item.work() });
          this.#db.exec('RELEASE message');
        } catch (error) {
          this.#db.exec('ROLLBACK TO message');
          this.#db.exec('RELEASE message');
          this.#proposals.clear(); // it may have cached rows its savepoint no longer holds
          this.#lists.clear();
          results.push({ ok: false, error });
        }
      }
      this.#grouped = false;
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#grouped = false;
      try {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      } catch {}
      this.#proposals.clear();
      this.#lists.clear();
      for (const item of group) item.reject(error);
      return;
    }
    group.forEach((item, i) => {
      const result = results[i]!;
      if (result.ok) item.resolve(result.value);
      else item.reject(result.error);
    });
  }

  #prepare(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  getMeta(key: string): string | undefined {
    const row = stripMeta<{ value: string } | undefined>(
      this.#prepare('SELECT value FROM meta WHERE key = ?').get(key),
    );
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.#prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value);
  }

  messageExists(id: string): boolean {
    return this.#prepare('SELECT 1 AS found FROM messages WHERE id = ?').get(id) !== undefined;
  }

  /** Stores a new proposal and its message. */
  addProposal(proposal: ProposalRow, message: MessageRow): void {
    this.#lists.clear();
    this.#atomic(() => {
      this.#prepare(insertSql('messages', MESSAGE_COLUMNS)).run(message);
      this.#prepare(insertSql('proposals', PROPOSAL_COLUMNS)).run(proposal);
    })();
    this.#proposals.delete(proposal.id);
  }

  /** Applies an update-proposal message (author edit before start): same id, new content. */
  updateProposal(
    id: string,
    changes: Pick<
      ProposalRow,
      | 'ipfs'
      | 'updated'
      | 'type'
      | 'plugins'
      | 'title'
      | 'body'
      | 'discussion'
      | 'choices'
      | 'labels'
      | 'privacy'
    >,
    message: MessageRow,
  ): void {
    this.#lists.clear();
    this.#atomic(() => {
      this.#prepare(insertSql('messages', MESSAGE_COLUMNS)).run(message);
      this.#prepare(
        `UPDATE proposals SET ipfs = @ipfs, updated = @updated, type = @type, plugins = @plugins, title = @title,
         body = @body, discussion = @discussion, choices = @choices, labels = @labels, privacy = @privacy, scores = '[]',
         scores_by_strategy = '[]' WHERE id = @id`,
      ).run({ ...changes, id });
    })();
    this.#proposals.delete(id);
  }

  /** Deletes a proposal and its votes (cancel), recording the message. */
  deleteProposal(id: string, message: MessageRow): void {
    this.#lists.clear();
    this.#atomic(() => {
      this.#prepare(insertSql('messages', MESSAGE_COLUMNS)).run(message);
      this.#prepare('DELETE FROM proposals WHERE id = ?').run(id);
      this.#prepare('DELETE FROM votes WHERE proposal = ?').run(id);
    })();
    this.#proposals.delete(id);
  }

  /** Proposals of `space` created in the last day and month, and the author's proposals still open at `now`. */
  proposalCounts(
    space: string,
    author: string,
    now: number,
  ): { day: number; month: number; activeByAuthor: number } {
    const counts = stripMeta<{ day: number; month: number }>(
      this.#prepare(
        'SELECT COUNT(CASE WHEN created > ? THEN 1 END) AS day, COUNT(*) AS month FROM proposals WHERE space = ? AND created > ?',
      ).get(now - 86_400, space, now - 2_592_000),
    );
    const active = stripMeta<{ n: number }>(
      this.#prepare('SELECT COUNT(*) AS n FROM proposals WHERE author = ? AND "end" > ?').get(author, now),
    );
    return { day: counts.day, month: counts.month, activeByAuthor: active.n };
  }

  countProposals(space: string): number {
    return stripMeta<{ n: number }>(
      this.#prepare('SELECT COUNT(*) AS n FROM proposals WHERE space = ?').get(space),
    ).n;
  }

  countVotes(space: string): number {
    return stripMeta<{ n: number }>(
      this.#prepare('SELECT COUNT(*) AS n FROM votes WHERE space = ?').get(space),
    ).n;
  }

  /** The stored proposal (a shared, frozen row: copy it to change it). */
  getProposal(id: string): Readonly<ProposalRow> | undefined {
    const cached = this.#proposals.get(id);
    if (cached) return cached;
    const row = stripMeta<ProposalRow | undefined>(
      this.#prepare('SELECT * FROM proposals WHERE id = ?').get(id),
    );
    if (!row) return undefined;
    if (this.#proposals.size >= PROPOSAL_CACHE_LIMIT) this.#proposals.clear();
    this.#proposals.set(id, Object.freeze(row));
    return row;
  }

  getVote(proposal: string, voter: string): VoteRow | undefined {
    return stripMeta(
      this.#prepare('SELECT * FROM votes WHERE proposal = ? AND voter = ?').get(proposal, voter),
    );
  }

  /**
   * Stores a vote, replacing the voter's earlier one, and updates the proposal's running scores.
   * Returns a refusal reason instead when a later vote of the voter is already stored (sequencer semantics).
   */
  addVote(
    vote: VoteRow,
    message: MessageRow,
    choiceIndex: number,
    vpByStrategy: number[],
  ): string | undefined {
    this.#lists.clear();
    let updated: Readonly<ProposalRow> | undefined;
    const refused = this.#atomic((): string | undefined => {
      const previous = this.getVote(vote.proposal, vote.voter);
      if (previous) {
        if (previous.created > vote.created) return 'already voted at later time';
        if (previous.created === vote.created && vote.id.localeCompare(previous.id) <= 0) {
          return 'already voted same time with lower index';
        }
      }
      const proposal = this.getProposal(vote.proposal);
      if (!proposal) return 'unknown proposal';
      const scores = JSON.parse(proposal.scores) as number[];
      const byStrategy = JSON.parse(proposal.scores_by_strategy) as number[][];
      const choices = JSON.parse(proposal.choices) as string[];
      while (scores.length < choices.length) scores.push(0);
      while (byStrategy.length < choices.length) byStrategy.push(vpByStrategy.map(() => 0));
      let total = proposal.scores_total;
      let count = proposal.votes;
      const apply = (index: number, vp: number, perStrategy: number[], sign: 1 | -1) => {
        if (index >= 1 && index <= choices.length) {
          scores[index - 1] = (scores[index - 1] ?? 0) + sign * vp;
          const row = byStrategy[index - 1] ?? [];
          perStrategy.forEach((v, s) => {
            row[s] = (row[s] ?? 0) + sign * v;
          });
          byStrategy[index - 1] = row;
        }
        total += sign * vp;
      };
      this.#prepare(insertSql('messages', MESSAGE_COLUMNS)).run(message);
      if (previous) {
        apply(JSON.parse(previous.choice) as number, previous.vp, JSON.parse(previous.vp_by_strategy), -1);
        this.#prepare('DELETE FROM votes WHERE id = ?').run(previous.id);
      } else {
        count += 1;
      }
      this.#prepare(insertSql('votes', VOTE_COLUMNS)).run(vote);
      apply(choiceIndex, vote.vp, vpByStrategy, 1);
      const changes = {
        scores: JSON.stringify(scores),
        scores_by_strategy: JSON.stringify(byStrategy),
        scores_total: total,
        votes: count,
        scores_updated: vote.created,
      };
      this.#prepare(
        'UPDATE proposals SET scores = ?, scores_by_strategy = ?, scores_total = ?, votes = ?, scores_updated = ? WHERE id = ?',
      ).run(
        changes.scores,
        changes.scores_by_strategy,
        changes.scores_total,
        changes.votes,
        changes.scores_updated,
        vote.proposal,
      );
      updated = Object.freeze({ ...proposal, ...changes });
      return undefined;
    })();
    if (updated) this.#proposals.set(updated.id, updated);
    return refused;
  }

  /**
   * Replaces the running scores with ones computed by snapshot.js' voting class (`scoresState` final once the
   * proposal has closed, else pending). Final scores are never replaced.
   */
  storeScores(
    id: string,
    computed: {
      scoresState: 'pending' | 'final';
      scores: number[];
      scoresByStrategy: number[][];
      scoresTotal: number;
      updated: number;
      votes: number;
    },
  ): void {
    this.#lists.clear();
    this.#prepare(
      `UPDATE proposals SET scores_state = ?, scores = ?, scores_by_strategy = ?, scores_total = ?, scores_updated = ?,
       votes = ? WHERE id = ? AND scores_state != 'final'`,
    ).run(
      computed.scoresState,
      JSON.stringify(computed.scores),
      JSON.stringify(computed.scoresByStrategy),
      computed.scoresTotal,
      computed.updated,
      computed.votes,
      id,
    );
    this.#proposals.delete(id);
  }

  allVotes(proposal: string): VoteRow[] {
    return this.#prepare('SELECT * FROM votes WHERE proposal = ?')
      .all(proposal)
      .map((row) => stripMeta<VoteRow>(row));
  }

  /** A page of proposals (shared, frozen rows: copy them to change them). */
  listProposals(query: ListQuery): readonly Readonly<ProposalRow>[] {
    return this.#list('proposals', PROPOSAL_COLUMNS, query);
  }

  /** A page of votes (shared, frozen rows: copy them to change them). */
  listVotes(query: ListQuery): readonly Readonly<VoteRow>[] {
    return this.#list('votes', VOTE_COLUMNS, query, true);
  }

  /** Rows by id, in `ids` order: from the row cache, the rest in one query. */
  #voteRowsById(ids: string[]): Readonly<VoteRow>[] {
    let missing = ids.filter((id) => !this.#voteRows.has(id));
    if (missing.length > 0) {
      if (this.#voteRows.size + missing.length > VOTE_ROW_CACHE_LIMIT) {
        this.#voteRows.clear();
        missing = ids;
      }
      const rows = this.#prepare('SELECT * FROM votes WHERE id IN (SELECT value FROM json_each(?))').all(
        JSON.stringify(missing),
      );
      for (const row of rows) {
        const vote = Object.freeze(stripMeta<VoteRow>(row));
        this.#voteRows.set(vote.id, vote);
      }
    }
    return ids.map((id) => {
      const row = this.#voteRows.get(id);
      if (!row) throw new HubError(`vote ${id} vanished while being read`);
      return row;
    });
  }

  #list<T>(
    table: string,
    columns: readonly string[],
    query: ListQuery,
    byId = false,
  ): readonly Readonly<T>[] {
    const clauses: string[] = [];
    const params: (string | number)[] = [];
    for (const condition of query.where) {
      if (!columns.includes(condition.column)) throw new HubError(`unknown column ${condition.column}`);
      const column = quote(condition.column);
      if (condition.op === 'in' || condition.op === 'not in') {
        if (condition.value.length === 0) {
          clauses.push(condition.op === 'in' ? '0' : '1');
          continue;
        }
        clauses.push(
          `${column} ${condition.op.toUpperCase()} (${condition.value.map(() => '?').join(', ')})`,
        );
        params.push(...condition.value);
      } else if (condition.op === 'contains') {
        clauses.push(`instr(lower(${column}), lower(?)) > 0`);
        params.push(condition.value);
      } else {
        clauses.push(`${column} ${condition.op} ?`);
        params.push(condition.value as string | number);
      }
    }
    if (!columns.includes(query.orderBy)) throw new HubError(`cannot order by ${query.orderBy}`);
    const direction = query.orderDirection === 'asc' ? 'ASC' : 'DESC';
    const sql = `SELECT ${byId ? 'id' : '*'} FROM ${table}${clauses.length ? ` WHERE ${clauses.join(' AND ')}` : ''} ORDER BY ${quote(
      query.orderBy,
    )} ${direction}, id ${direction} LIMIT ? OFFSET ?`;
    params.push(query.first, query.skip);
    const key = `${sql}\0${JSON.stringify(params)}`;
    const cached = this.#lists.get(key);
    if (cached) return cached as readonly Readonly<T>[];
    const rows = Object.freeze(
      byId
        ? (this.#voteRowsById(
            this.#prepare(sql)
              .pluck(true)
              .all(...params) as string[],
          ) as Readonly<T>[])
        : this.#prepare(sql)
            .all(...params)
            .map((row) => Object.freeze(stripMeta<T>(row))),
    );
    if (this.#lists.size >= LIST_CACHE_LIMIT) this.#lists.clear();
    this.#lists.set(key, rows);
    return rows;
  }

  close(): void {
    this.#flush();
    this.#db.close();
  }
}
