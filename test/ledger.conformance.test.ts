import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Ledger, type LedgerLocation, openLedger } from '../agent/ledger.ts';
import { PostgresPools } from '../agent/postgresLedger.ts';
import { type PostgresServer, schemaName, startPostgres } from './support/postgres.ts';

/**
 * One suite, both adapters of the ledger port: SQLite (a file in a temp dir) and PostgreSQL (a real server the
 * harness starts, one schema per test). Every adapter must pass all of it.
 */
type Adapter = {
  name: string;
  /** A new, empty location. */
  fresh: () => LedgerLocation;
  /** Pools to share between opens (PostgreSQL), closed after the suite. */
  pools?: () => PostgresPools;
};

let server: PostgresServer | undefined;
let pools: PostgresPools | undefined;

beforeAll(async () => {
  server = await startPostgres();
  pools = new PostgresPools();
});
afterAll(async () => {
  await pools?.close();
  await server?.stop();
});

const adapters: Adapter[] = [
  {
    name: 'sqlite',
    fresh: () => ({ kind: 'sqlite', path: join(mkdtempSync(join(tmpdir(), 'ledger-')), 'ledger.db') }),
  },
  {
    name: 'postgresql',
    fresh: () => ({ kind: 'postgresql', url: server!.url, password: server!.password, schema: schemaName() }),
    pools: () => pools!,
  },
];

const planned = (key: string, now = 100) => ({
  key,
  cycleAt: now,
  record: { plan: [1, 2], amount: (10n ** 30n).toString() },
  safeTxHash: `0x${key}aa`,
  safeNonce: '3',
  now,
});

describe.each(adapters)('ledger port: $name', (adapter) => {
  const open = (location: LedgerLocation, readOnly = false): Promise<Ledger> =>
    openLedger(location, { readOnly, pools: adapter.pools?.() });

  it('persists proposals and transitions across reopen, and repeats of a transition are no-ops', async () => {
    const location = adapter.fresh();
    const ledger = await open(location);
    expect(ledger.kind).toBe(adapter.name);
    await ledger.insertPlanned(planned('k1'));
    await ledger.transition('k1', 'planned', 'posted', { proposalId: '0xp1' }, 110);
    await ledger.close();

    const reopened = await open(location);
    const row = (await reopened.get('k1'))!;
    expect(row).toMatchObject({
      state: 'posted',
      proposalId: '0xp1',
      cycleAt: 100,
      createdAt: 100,
      updatedAt: 110,
    });
    expect(row.record).toEqual({ plan: [1, 2], amount: (10n ** 30n).toString() });
    // The same transition again (a resumed process) changes nothing.
    const again = await reopened.transition('k1', 'planned', 'posted', { proposalId: '0xother' }, 120);
    expect(again.proposalId).toBe('0xp1');
    expect(again.updatedAt).toBe(110);
    expect((await reopened.transitions('k1')).map((t) => [t.from, t.to, t.at])).toEqual([
      [null, 'planned', 100],
      ['planned', 'posted', 110],
    ]);
    // Inserting the same key again returns the existing row.
    expect((await reopened.insertPlanned({ ...planned('k1', 1), safeTxHash: '0xbb' })).safeTxHash).toBe(
      '0xk1aa',
    );
    expect(await reopened.all()).toHaveLength(1);
    await reopened.close();
  });

  it('refuses illegal and stale transitions, and a transition of an unknown proposal', async () => {
    const ledger = await open(adapter.fresh());
    await ledger.insertPlanned(planned('k'));
    await expect(ledger.transition('k', 'planned', 'executed', {}, 2)).rejects.toThrow(
      /illegal transition planned → executed/,
    );
    await expect(ledger.transition('k', 'posted', 'passed', {}, 2)).rejects.toThrow(/is planned, not posted/);
    await expect(ledger.transition('nope', 'planned', 'posted', {}, 2)).rejects.toThrow(/no proposal nope/);
    await expect(ledger.annotate('nope', { reason: 'x' }, 2)).rejects.toThrow(/no proposal nope/);
    await ledger.transition('k', 'planned', 'posted', {}, 2);
    await ledger.transition('k', 'posted', 'rejected', { reason: 'Against won' }, 3, 'tally');
    expect(await ledger.open()).toHaveLength(0);
    expect((await ledger.get('k'))!.reason).toBe('Against won');
    expect((await ledger.transitions('k')).at(-1)).toEqual({
      from: 'posted',
      to: 'rejected',
      at: 3,
      detail: 'tally',
    });
    await expect(ledger.transition('k', 'rejected', 'passed', {}, 4)).rejects.toThrow(/illegal transition/);
    await ledger.close();
  });

  it('lists open proposals oldest first, finds one by proposal id, and keeps proposal ids unique', async () => {
    const ledger = await open(adapter.fresh());
    await ledger.insertPlanned(planned('b', 200));
    await ledger.insertPlanned(planned('a', 100));
    await ledger.insertPlanned(planned('c', 300));
    await ledger.transition('a', 'planned', 'posted', { proposalId: '0xpa' }, 101);
    await ledger.transition('c', 'planned', 'failed', { reason: 'x' }, 301);
    expect((await ledger.open()).map((r) => r.key)).toEqual(['a', 'b']);
    expect((await ledger.all()).map((r) => r.key)).toEqual(['a', 'b', 'c']);
    expect((await ledger.byProposalId('0xpa'))?.key).toBe('a');
    expect(await ledger.byProposalId('0xnone')).toBeUndefined();
    expect(await ledger.get('zzz')).toBeUndefined();
    await expect(ledger.transition('b', 'planned', 'posted', { proposalId: '0xpa' }, 201)).rejects.toThrow();
    expect((await ledger.get('b'))!.state).toBe('planned');
    await ledger.close();
  });

  it('annotates without a state change (the signed envelope kept byte for byte)', async () => {
    const ledger = await open(adapter.fresh());
    await ledger.insertPlanned(planned('k'));
    const envelope = { address: '0xabc', sig: '0x01', data: { message: { body: 'é ✔ "quoted"\n' } } };
    const row = await ledger.annotate('k', { envelope, auditRecordId: 'rec-000001' }, 105);
    expect(row).toMatchObject({ state: 'planned', envelope, auditRecordId: 'rec-000001', updatedAt: 105 });
    await ledger.transition('k', 'planned', 'posted', {}, 106);
    await ledger.transition('k', 'posted', 'passed', {}, 107);
    await ledger.transition('k', 'passed', 'executing', {}, 108);
    const done = await ledger.transition('k', 'executing', 'executed', { executionTxHash: '0xtx' }, 109);
    expect(done).toMatchObject({ state: 'executed', executionTxHash: '0xtx', envelope });
    await ledger.close();
  });

  it('keeps agent state', async () => {
    const ledger = await open(adapter.fresh());
    expect(await ledger.getState('paused')).toBeUndefined();
    await ledger.setState('paused', 'first');
    await ledger.setState('paused', 'second');
    expect(await ledger.getState('paused')).toBe('second');
    await ledger.clearState('paused');
    expect(await ledger.getState('paused')).toBeUndefined();
    await ledger.close();
  });

  it("stores feeds' daily closes with bigint answers, by lower-case feed, in a day range", async () => {
    const ledger = await open(adapter.fresh());
    const feed = '0xAbCdEf0000000000000000000000000000000001';
    const big = 2n ** 80n + 7n;
    await ledger.storeFeedCloses([
      { feed, day: 19000, answer: big, updatedAt: 1_641_600_000, roundId: 2n ** 70n },
      { feed, day: 19001, answer: 5n, updatedAt: 1_641_686_400, roundId: 3n },
      { feed, day: 19003, answer: -1n, updatedAt: 1_641_859_200, roundId: 4n },
    ]);
    await ledger.storeFeedCloses([{ feed, day: 19001, answer: 6n, updatedAt: 1_641_686_401, roundId: 5n }]);
    await ledger.storeFeedCloses([]);
    const rows = await ledger.feedCloses(feed.toUpperCase().replace('0X', '0x'), 19000, 19002);
    expect(rows).toEqual([
      { feed: feed.toLowerCase(), day: 19000, answer: big, updatedAt: 1_641_600_000, roundId: 2n ** 70n },
      { feed: feed.toLowerCase(), day: 19001, answer: 6n, updatedAt: 1_641_686_401, roundId: 5n },
    ]);
    await ledger.close();
  });

  it('mirrors audit records once each, in order', async () => {
    const ledger = await open(adapter.fresh());
    const r = (seq: number) => ({ seq, id: `rec-00000${seq}`, hash: `0xh${seq}`, prevHash: `0xh${seq - 1}` });
    await ledger.mirrorAudit(r(2), '{"seq":2}');
    await ledger.mirrorAudit(r(1), '{"seq":1}');
    await ledger.mirrorAudit(r(1), '{"seq":1,"again":true}');
    expect(await ledger.auditRecords()).toEqual([
      { ...r(1), json: '{"seq":1}' },
      { ...r(2), json: '{"seq":2}' },
    ]);
    await ledger.close();
  });

  it('makes a transition once when two connections race to make it', async () => {
    const location = adapter.fresh();
    const a = await open(location);
    const b = await open(location);
    await a.insertPlanned(planned('k'));
    const [ra, rb] = await Promise.all([
      a.transition('k', 'planned', 'posted', { proposalId: '0xa' }, 10),
      b.transition('k', 'planned', 'posted', { proposalId: '0xb' }, 11),
    ]);
    expect(ra.proposalId).toBe(rb.proposalId);
    expect((await a.transitions('k')).filter((t) => t.to === 'posted')).toHaveLength(1);
    const inserted = await Promise.all([a.insertPlanned(planned('n')), b.insertPlanned(planned('n'))]);
    expect(inserted[0].key).toBe('n');
    expect((await a.transitions('n')).map((t) => t.to)).toEqual(['planned']);
    await a.close();
    await b.close();
  });

  it('runs one exclusive body at a time, and the next once the first is done', async () => {
    const ledger = await open(adapter.fresh());
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const first = ledger.exclusive(async () => {
      entered();
      await held;
      return 'first';
    });
    await inside;
    // The first body holds the DAO until released: a second is refused at once.
    expect(await ledger.exclusive(async () => 'second')).toEqual({ ran: false });
    release();
    expect(await first).toEqual({ ran: true, value: 'first' });
    expect(await ledger.exclusive(async () => 'third')).toEqual({ ran: true, value: 'third' });
    await ledger.close();
  });

  it('opened read-only, reads and refuses writes', async () => {
    const location = adapter.fresh();
    const writer = await open(location);
    await writer.insertPlanned(planned('k'));
    const reader = await open(location, true);
    expect((await reader.get('k'))?.state).toBe('planned');
    await expect(reader.setState('paused', 'x')).rejects.toThrow();
    await expect(reader.transition('k', 'planned', 'posted', {}, 2)).rejects.toThrow();
    expect((await writer.get('k'))?.state).toBe('planned');
    await reader.close();
    await writer.close();
  });
});

describe('PostgreSQL ledger', () => {
  it('one DAO at a time across separate pools (as across processes), and a schema per DAO', async () => {
    const schema = schemaName();
    const location = { kind: 'postgresql', url: server!.url, password: server!.password, schema } as const;
    const a = await openLedger(location); // its own pool
    const b = await openLedger(location); // another
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const first = a.exclusive(async () => {
      entered();
      await held;
    });
    await inside;
    expect(await b.exclusive(async () => 'b')).toEqual({ ran: false });
    release();
    await first;
    expect(await b.exclusive(async () => 'b')).toEqual({ ran: true, value: 'b' });
    // Another DAO's schema is another ledger.
    const other = await openLedger({ ...location, schema: schemaName() });
    await a.insertPlanned(planned('k'));
    expect(await other.all()).toEqual([]);
    expect(await other.exclusive(async () => 'other')).toEqual({ ran: true, value: 'other' });
    await Promise.all([a.close(), b.close(), other.close()]);
  });

  it('says where and what to do when it cannot connect, without the password', async () => {
    const location = {
      kind: 'postgresql',
      url: server!.url,
      password: 'wrong-password-123',
      schema: schemaName(),
    } as const;
    const error = (await openLedger(location).catch((e: unknown) => e)) as Error & { hint?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(
      /cannot open the PostgreSQL ledger at postgres:\/\/127\.0\.0\.1:\d+\/postgres \(schema t_/,
    );
    expect(String(error!.hint)).toMatch(/PGPASSWORD/);
    expect(
      JSON.stringify({ m: error!.message, c: String((error as { cause?: unknown }).cause) }),
    ).not.toContain('wrong-password-123');
    await expect(openLedger({ ...location, password: server!.password, schema: 'Bad-Name' })).rejects.toThrow(
      /not a usable PostgreSQL schema name/,
    );
  });
});
