/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */

import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { canonicalJson, verifyAuditChain } from '../agent/auditLog.ts';
import { type AuditVerification, verifyAudit } from '../agent/auditTools.ts';
import { TreasuryError } from '../shared/errors.ts';
import { loadPriceHistory, type PriceHistory } from '../strategies/priceHistory.ts';
import { type BacktestRun, backtestOfConfig, backtestOfLog } from './backtestView.ts';
import {
  createDaoReader,
  type DaoEntry,
  type LiveDao,
  type OfflineDao,
  safeText,
  sensitiveParts,
} from './daoSources.ts';
import {
  decisionData,
  draftOf,
  recordSummary,
  simulationView,
  swapEventsView,
  transactionView,
} from './daoView.ts';
import { type LiveLinks, liveLinks, liveReceipt, liveVerification, liveVote } from './liveReads.ts';
import {
  AuditPage,
  BacktestPage,
  type DaoHeader,
  DaoPage,
  IndexPage,
  type IndexRow,
  MessagePage,
  ProposalPage,
  RecordPage,
} from './pages.tsx';

/**
 * The console's web app: GET routes only, each page rendered on the server from the DAO's files (and, live,
 * its hub and chain). Routes: `/` (every DAO), `/dao/:dao` (proposals, pause), `/dao/:dao/proposals/:key`,
 * `/dao/:dao/audit` (verification, anchors, records), `/dao/:dao/audit/:record`, `/dao/:dao/backtest`.
 */

export type ConsoleOptions = {
  daos: DaoEntry[];
  /** The daily price history the backtests replay. */
  pricesPath: string;
  /** Told of every request: method, path (no query), status, milliseconds; `treasury console` logs a line each. */
  onRequest?: (request: { method: string; path: string; status: number; ms: number }) => void;
};

type Readable = LiveDao | OfflineDao;

export function consoleApp(options: ConsoleOptions): Hono {
  const app = new Hono();
  const read = createDaoReader();
  const links = new Map<string, LiveLinks>();
  const backtests = new Map<string, BacktestRun | { error: string; notes: string[] }>();
  let history: Promise<PriceHistory> | undefined;
  const scrub = [...new Set(options.daos.flatMap((d) => (d.mode === 'live' ? sensitiveParts(d.config) : [])))]
    // longest first, so a part inside another is not left half-hidden
    .sort((a, b) => b.length - a.length);

  const linksOf = (dao: LiveDao) => {
    let l = links.get(dao.id);
    if (!l) {
      l = liveLinks(dao.config);
      links.set(dao.id, l);
    }
    return l;
  };
  const findDao = (id: string): Readable | undefined => {
    const dao = options.daos.find((d) => d.id === id);
    return dao && dao.mode !== 'broken' ? dao : undefined;
  };
  const header = (dao: Readable): DaoHeader => ({
    dao,
    facts:
      dao.mode === 'live'
        ? [
            ['config', dao.origin],
            ['mode', dao.config.mode],
            ['chain', String(dao.config.chain.id)],
            ['Safe', dao.config.safe.address ?? 'not set'],
            ['space', dao.config.governance.space],
          ]
        : [['audit log', dao.origin]],
  });

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    c.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    if (scrub.length && (c.res.headers.get('content-type') ?? '').startsWith('text/')) {
      let text = await c.res.text();
      for (const part of scrub) text = text.split(part).join('***');
      const headers = new Headers(c.res.headers);
      headers.delete('content-length');
      c.res = new Response(text, { status: c.res.status, headers });
    }
    options.onRequest?.({
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });

  app.get('/', async (c) => {
    const rows: IndexRow[] = [];
    for (const dao of options.daos) {
      if (dao.mode === 'broken') {
        rows.push({ broken: dao });
        continue;
      }
      const data = await read(dao);
      rows.push({
        dao,
        records: data.records.length,
        chainOk: verifyAuditChain(data.records).ok,
        ...(data.logError ? { logError: data.logError } : {}),
        proposals: data.model.proposals,
        ...(data.model.pause?.source === 'ledger' ? { paused: data.model.pause.reason } : {}),
        pauseInLog: data.model.pause?.source === 'audit log',
      });
    }
    return c.html(<IndexPage rows={rows} />);
  });

  app.get('/dao/:dao', async (c) => {
    const dao = findDao(c.req.param('dao'));
    if (!dao) return notFound(c, 'No such DAO.');
    const data = await read(dao);
    const notes = [data.logError, data.ledgerError].filter((n): n is string => !!n);
    return c.html(<DaoPage {...header(dao)} model={data.model} notes={notes} />);
  });

  app.get('/dao/:dao/proposals/:key', async (c) => {
    const dao = findDao(c.req.param('dao'));
    if (!dao) return notFound(c, 'No such DAO.');
    const data = await read(dao);
    const proposal = data.model.proposals.find((p) => p.key === c.req.param('key'));
    if (!proposal) return notFound(c, `No proposal ${c.req.param('key')} in this DAO.`);
    const tokens = decisionData(proposal.decision).inputs?.tokens ?? [];
    let vote = proposal.vote;
    let voteError: string | undefined;
    let receipt: Awaited<ReturnType<typeof liveReceipt>> | undefined;
    if (dao.mode === 'live') {
      const l = linksOf(dao);
      if (!vote && proposal.proposalId && proposal.state === 'posted') {
        const live = await liveVote(l, proposal.proposalId, dao.config.governance.quorum);
        if ('error' in live) voteError = live.error;
        else vote = live;
      }
      if (proposal.executed) receipt = await liveReceipt(l, proposal.executed.data);
    }
    return c.html(
      <ProposalPage
        {...header(dao)}
        proposal={proposal}
        draft={draftOf(proposal.decision)}
        tx={transactionView(proposal.decision)}
        simulation={simulationView(proposal.decision)}
        vote={vote}
        voteError={voteError}
        loggedSwaps={swapEventsView(proposal.executed?.data.policySwaps ?? [], tokens)}
        receipt={receipt}
        receiptSwaps={receipt && !('error' in receipt) ? swapEventsView(receipt.swaps, tokens) : undefined}
      />,
    );
  });

  app.get('/dao/:dao/audit', async (c) => {
    const dao = findDao(c.req.param('dao'));
    if (!dao) return notFound(c, 'No such DAO.');
    const data = await read(dao);
    let verification: AuditVerification | undefined;
    let unreachable: string[] = [];
    if (!data.logError) {
      if (dao.mode === 'live') {
        ({ result: verification, unreachable } = await liveVerification(
          dao.config,
          linksOf(dao),
          data.records,
          data.mirror,
        ));
      } else {
        verification = await verifyAudit(data.records);
      }
    }
    const anchors = data.model.proposals.flatMap((p) => {
      const head = decisionData(p.decision).proposal?.plugins?.auditHead;
      if (!head) return [];
      const at = data.records[head.seq - 1];
      return [
        {
          proposal: p.proposalId ?? '',
          key: p.key,
          seq: head.seq,
          hash: head.hash,
          matches: head.seq === 0 || at?.hash === head.hash,
        },
      ];
    });
    return c.html(
      <AuditPage
        {...header(dao)}
        records={data.records}
        logError={data.logError}
        verification={verification}
        unreachable={unreachable}
        anchors={anchors}
        summaries={new Map(data.records.map((r) => [r.id, recordSummary(r)]))}
      />,
    );
  });

  app.get('/dao/:dao/audit/:record', async (c) => {
    const dao = findDao(c.req.param('dao'));
    if (!dao) return notFound(c, 'No such DAO.');
    const record = (await read(dao)).records.find((r) => r.id === c.req.param('record'));
    if (!record) return notFound(c, `No record ${c.req.param('record')} in this audit log.`);
    const json = JSON.stringify(JSON.parse(canonicalJson(record.data)), null, 2);
    return c.html(<RecordPage {...header(dao)} record={record} json={json} />);
  });

  app.get('/dao/:dao/backtest', async (c) => {
    const dao = findDao(c.req.param('dao'));
    if (!dao) return notFound(c, 'No such DAO.');
    const data = await read(dao);
    const cacheKey = `${dao.id}:${dao.mode === 'live' ? 'config' : (data.records.at(-1)?.hash ?? 'empty')}`;
    let run = backtests.get(cacheKey);
    if (!run) {
      try {
        history ??= loadPriceHistory(options.pricesPath);
        const prices = await history;
        run =
          dao.mode === 'live' ? backtestOfConfig(dao.config, prices) : backtestOfLog(data.records, prices);
      } catch (error) {
        history = undefined;
        run = { error: safeText(error), notes: [] };
      }
      backtests.set(cacheKey, run);
    }
    return c.html(
      'error' in run ? (
        <BacktestPage {...header(dao)} notes={run.notes} error={run.error} />
      ) : (
        <BacktestPage {...header(dao)} notes={run.notes} results={run.results} />
      ),
    );
  });

  app.all('*', (c) =>
    c.req.method === 'GET' || c.req.method === 'HEAD'
      ? notFound(c, 'No such page.')
      : c.html(
          <MessagePage
            status={405}
            title="Read-only"
            message="The console only reads: no route changes anything."
          />,
          405,
          { allow: 'GET, HEAD' },
        ),
  );

  app.onError((error, c) =>
    c.html(<MessagePage status={500} title="Something went wrong" message={safeText(error)} />, 500),
  );
  return app;
}

function notFound(c: Context, message: string) {
  return c.html(<MessagePage status={404} title="Not found" message={message} />, 404);
}

export type RunningConsole = { url: string; port: number; stop: () => Promise<void> };

export class ConsoleError extends TreasuryError {
  override name = 'ConsoleError';
}

/** Serves the console on `host:port` (0: any free port); resolves once it listens. */
export async function startConsole(
  options: ConsoleOptions & { port: number; host?: string },
): Promise<RunningConsole> {
  const app = consoleApp(options);
  const host = options.host ?? '127.0.0.1';
  const server = createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new ConsoleError(
          error.code === 'EADDRINUSE'
            ? `port ${options.port} is already in use`
            : `cannot listen on ${host}:${options.port}: ${error.message}`,
          { cause: error, hint: 'pass another --port, or stop what listens there' },
        ),
      ),
    );
    server.listen(options.port, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
