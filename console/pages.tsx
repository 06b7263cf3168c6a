/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import type { AuditRecord } from '../agent/auditLog.ts';
import type { AuditVerification } from '../agent/auditTools.ts';
import type { BacktestResult } from '../strategies/backtest/engine.ts';
import { drawdowns, timeWeightedIndex } from '../strategies/backtest/metrics.ts';
import { allocationChart, lineChart, METRIC_COLUMNS, PALETTE } from '../strategies/backtest/report.ts';
import { dayOf, isoDateOf } from '../strategies/priceHistory.ts';
import type { DaoEntry } from './daoSources.ts';
import {
  type DaoModel,
  type ProposalView,
  type SimulationView,
  type SwapEventView,
  type TransactionView,
  UTC,
  type VoteView,
  votesText,
} from './daoView.ts';
import type { ReceiptView } from './liveReads.ts';

/**
 * The console's pages: server-rendered with hono's JSX (every value escaped by construction; the only raw HTML
 * is the project's own SVG charts, whose text is escaped where they are built). No scripts.
 */

const CSS = `
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;color:#111827;margin:0;background:#f7f7f8}
header{background:#111827;color:#f9fafb;padding:.6rem 1.2rem}header a{color:#f9fafb;text-decoration:none;font-weight:600}
header .crumbs a{font-weight:400;color:#d1d5db}
main{max-width:1100px;margin:1.2rem auto;padding:0 1rem}
footer{max-width:1100px;margin:2rem auto;padding:0 1rem;color:#6b7280;font-size:12px}
h1{font-size:1.45rem;margin:.2rem 0}h2{font-size:1.12rem;margin:1.6rem 0 .5rem}
.sub,.meta{color:#4b5563}.meta{font-size:13px}
section,.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:.6rem 1rem;margin:1rem 0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:.35rem .5rem;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
thead th{background:#f3f4f6}
#records td:first-child,#records td:nth-child(2),#proposals td:first-child{white-space:nowrap}
code,.hex{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.hex{display:block;background:#f3f4f6;border-radius:4px;padding:.3rem .4rem;max-height:9rem;overflow:auto}
.state{font-size:11px;text-transform:uppercase;letter-spacing:.05em;border-radius:4px;padding:.1rem .45rem;background:#e5e7eb;color:#374151;white-space:nowrap}
.state.executed,.state.passed{background:#d1fae5;color:#065f46}.state.rejected,.state.failed{background:#fee2e2;color:#991b1b}
.state.expired{background:#fef3c7;color:#92400e}.state.posted,.state.executing,.state.planned{background:#dbeafe;color:#1e40af}
.ok{color:#047857}.bad{color:#b91c1c}.skip{color:#6b7280}
.banner{border-radius:8px;padding:.7rem 1rem;margin:1rem 0;font-weight:500}
.banner.paused{background:#fef3c7;border:1px solid #f59e0b}.banner.running{background:#ecfdf5;border:1px solid #10b981}
.banner.error{background:#fee2e2;border:1px solid #ef4444}.banner.note{background:#f3f4f6;border:1px solid #d1d5db}
.bars{max-width:720px}.bar{display:grid;grid-template-columns:5.5rem 1fr 15rem;gap:.6rem;align-items:center;margin:.25rem 0}
.track{position:relative;display:block;height:14px;background:#f3f4f6;border-radius:7px;overflow:hidden}
.fill{display:block;height:100%}.fill.for{background:#10b981}.fill.against{background:#ef4444}.fill.abstain{background:#9ca3af}.fill.total{background:#3b82f6}
.mark{position:absolute;top:0;bottom:0;width:2px;background:#111827}
ol.timeline{padding-left:1.2rem}ol.timeline li{margin:.3rem 0}
ol.calls>li{margin:.6rem 0}
nav.tabs a{margin-right:1rem}
figure{margin:1rem 0}figcaption{font-weight:600}svg{width:100%;height:auto}svg text{font-size:11px;fill:#6b7280}.grid{stroke:#e5e7eb}
.legend{font-size:12px;color:#374151}.key{margin-right:1rem}.key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
pre{white-space:pre-wrap;word-break:break-all;font-size:12px}
`;

type Crumb = { href: string; label: string };

function Layout(props: { title: string; crumbs?: Crumb[]; children?: Child }) {
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width,initial-scale=1" />
          <title>{`${props.title} — treasury console`}</title>
          <style>{raw(CSS)}</style>
        </head>
        <body>
          <header>
            <a href="/">treasury console</a>
            <span class="crumbs">
              {(props.crumbs ?? []).map((c) => (
                <>
                  {' › '}
                  <a href={c.href}>{c.label}</a>
                </>
              ))}
            </span>
          </header>
          <main>{props.children}</main>
          <footer>
            Read-only: nothing on these pages changes the agent, its ledger, the hub or the chain.
          </footer>
        </body>
      </html>
    </>
  );
}

export const StateBadge = (props: { state: string }) => (
  <span class={`state ${props.state}`}>{props.state}</span>
);

const short = (hash: string | null | undefined) => (hash ? `${hash.slice(0, 10)}…${hash.slice(-4)}` : '—');
const mark = (ok: boolean) => (ok ? <span class="ok">✔</span> : <span class="bad">✖</span>);

// ---------------------------------------------------------------------------------------------- index

export type DaoRow = {
  dao: DaoEntry & { mode: 'live' | 'offline' };
  records: number;
  chainOk: boolean;
  logError?: string;
  proposals: ProposalView[];
  /** The ledger's pause (live). */
  paused?: string;
  pauseInLog?: boolean;
};
export type IndexRow = { broken: DaoEntry & { mode: 'broken' } } | DaoRow;

export function IndexPage(props: { rows: IndexRow[] }) {
  return (
    <Layout title="DAOs">
      <h1>DAOs</h1>
      <p class="sub">
        {props.rows.length} DAO(s). Live DAOs read their ledger, audit log, hub and chain; offline ones their
        audit log alone.
      </p>
      <table id="daos">
        <thead>
          <tr>
            <th>DAO</th>
            <th>mode</th>
            <th>status</th>
            <th>proposals</th>
            <th>audit log</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) =>
            'broken' in row ? <BrokenRow dao={row.broken} /> : <ReadableRow row={row} />,
          )}
        </tbody>
      </table>
    </Layout>
  );
}

function BrokenRow(props: { dao: DaoEntry & { mode: 'broken' } }) {
  return (
    <tr class="broken" data-dao={props.dao.id}>
      <td>
        <b>{props.dao.name}</b>
        <div class="meta">{props.dao.origin}</div>
      </td>
      <td>config error</td>
      <td colspan={3}>
        <pre class="bad">{props.dao.error}</pre>
      </td>
    </tr>
  );
}

function ReadableRow(props: { row: DaoRow }) {
  const { row } = props;
  return (
    <tr data-dao={row.dao.id}>
      <td>
        <a href={`/dao/${row.dao.id}`}>{row.dao.name}</a>
        <div class="meta">{row.dao.origin}</div>
      </td>
      <td>{row.dao.mode}</td>
      <td>
        {row.paused ? (
          <b class="bad">paused: {row.paused}</b>
        ) : row.dao.mode === 'live' ? (
          'not paused'
        ) : row.pauseInLog ? (
          'a pause is recorded in the log'
        ) : (
          'no pause in the log'
        )}
      </td>
      <td>{`${row.proposals.length} — ${stateCounts(row.proposals)}`}</td>
      <td>
        {row.logError ? (
          <span class="bad">{row.logError}</span>
        ) : (
          <>
            {row.records} records, hash chain {mark(row.chainOk)}
          </>
        )}
      </td>
    </tr>
  );
}

function stateCounts(proposals: ProposalView[]): string {
  const counts = new Map<string, number>();
  for (const p of proposals) counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'none';
}

// ---------------------------------------------------------------------------------------------- DAO

export type DaoHeader = {
  dao: DaoEntry & { mode: 'live' | 'offline' };
  facts: [string, string][];
};

function DaoTabs(props: { id: string }) {
  return (
    <nav class="tabs">
      <a href={`/dao/${props.id}`}>Proposals</a>
      <a href={`/dao/${props.id}/audit`}>Audit log</a>
      <a href={`/dao/${props.id}/backtest`}>Backtest</a>
    </nav>
  );
}

function PauseBanner(props: { model: DaoModel; mode: 'live' | 'offline' }) {
  const pause = props.model.pause;
  if (pause && pause.source === 'ledger') {
    return (
      <div class="banner paused" id="pause">
        ⏸ Paused: {pause.reason}
        <div class="meta">
          The agent runs no cycle until a steward investigates and runs{' '}
          <code>treasury resume --config FILE</code>.
        </div>
      </div>
    );
  }
  if (pause) {
    return (
      <div class="banner paused" id="pause">
        ⏸ The log records a pause{pause.since ? ` at ${UTC(pause.since)}` : ''} ({pause.record}):{' '}
        {pause.reason}
        <div class="meta">
          Resumes are kept in the ledger, not the log: whether it is still paused needs the ledger.
        </div>
      </div>
    );
  }
  return (
    <div class="banner running" id="pause">
      {props.mode === 'live'
        ? '▶ Not paused (the ledger holds no pause).'
        : '▶ No pause recorded in the log.'}
    </div>
  );
}

export function DaoPage(props: DaoHeader & { model: DaoModel; notes: string[] }) {
  const { dao, model } = props;
  return (
    <Layout title={dao.name} crumbs={[{ href: `/dao/${dao.id}`, label: dao.name }]}>
      <h1>{dao.name}</h1>
      <Facts facts={props.facts} />
      <DaoTabs id={dao.id} />
      {props.notes.map((n) => (
        <div class="banner error">{n}</div>
      ))}
      <PauseBanner model={model} mode={dao.mode} />
      <h2>Proposals ({model.proposals.length})</h2>
      <table id="proposals">
        <thead>
          <tr>
            <th>decided</th>
            <th>proposal</th>
            <th>state</th>
            <th>why</th>
            <th>executed in</th>
          </tr>
        </thead>
        <tbody>
          {model.proposals.length === 0 ? (
            <tr>
              <td colspan={5}>No proposal yet.</td>
            </tr>
          ) : (
            [...model.proposals].reverse().map((p) => (
              <tr data-key={p.key}>
                <td>{UTC(p.at)}</td>
                <td>
                  <a href={`/dao/${dao.id}/proposals/${p.key}`}>{p.title}</a>
                  <div class="meta">
                    {p.key}
                    {p.proposalId ? ` · Snapshot ${short(p.proposalId)}` : ''}
                  </div>
                </td>
                <td>
                  <StateBadge state={p.state} />
                </td>
                <td>{p.reason ?? ''}</td>
                <td>{p.executed ? <code>{short(p.executed.data.transactionHash)}</code> : '—'}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
      {model.lastDecision ? (
        <p class="meta">
          Last decision: {model.lastDecision.record.id} at {UTC(model.lastDecision.record.at)} —{' '}
          {model.lastDecision.outcome}
          {model.lastDecision.reason ? `: ${model.lastDecision.reason.split('\n')[0]}` : ''}
        </p>
      ) : null}
      {model.foreign.length ? (
        <>
          <h2>Refused proposals by other authors ({model.foreign.length})</h2>
          <ul>
            {model.foreign.map((f) => (
              <li>
                {UTC(f.at)} <code>{f.proposalId}</code>: {f.reason} ({f.record})
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {model.stopped.length ? (
        <>
          <h2>Cycles stopped by market data ({model.stopped.length})</h2>
          <ul>
            {model.stopped.slice(0, 10).map((s) => (
              <li>
                {UTC(s.at)}: {s.reason} ({s.record})
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </Layout>
  );
}

function Facts(props: { facts: [string, string][] }) {
  return (
    <p class="meta">
      {props.facts.map(([k, v], i) => (
        <>
          {i > 0 ? ' · ' : ''}
          {k} <code>{v}</code>
        </>
      ))}
    </p>
  );
}

// ---------------------------------------------------------------------------------------------- proposal

export type ProposalPageProps = DaoHeader & {
  proposal: ProposalView;
  draft: { summary: string; rationale: string; risks: string[]; writer?: string };
  tx: TransactionView;
  simulation?: SimulationView;
  vote?: VoteView;
  voteError?: string;
  loggedSwaps: SwapEventView[];
  receipt?: ReceiptView | { error: string };
  receiptSwaps?: SwapEventView[];
};

export function ProposalPage(props: ProposalPageProps) {
  const { dao, proposal: p } = props;
  return (
    <Layout
      title={p.title}
      crumbs={[
        { href: `/dao/${dao.id}`, label: dao.name },
        { href: `/dao/${dao.id}/proposals/${p.key}`, label: p.key },
      ]}
    >
      <h1 id="title">{p.title}</h1>
      <p id="state">
        <StateBadge state={p.state} /> {p.reason ?? ''}
      </p>
      <Facts
        facts={[
          ['decision', p.key],
          ...(p.proposalId ? ([['Snapshot proposal', p.proposalId]] as [string, string][]) : []),
          ...(p.ledgerKey ? ([['ledger', p.ledgerKey]] as [string, string][]) : []),
        ]}
      />
      {props.draft.summary ? (
        <section id="rationale">
          <p>
            <b>{props.draft.summary}</b>
          </p>
          <p>{props.draft.rationale}</p>
          {props.draft.risks.length ? (
            <ul>
              {props.draft.risks.map((r) => (
                <li>{r}</li>
              ))}
            </ul>
          ) : null}
          <p class="meta">rationale by {props.draft.writer ?? '?'}</p>
        </section>
      ) : null}

      <h2>Timeline</h2>
      <section id="timeline">
        <ol class="timeline">
          {p.timeline.map((e) => (
            <li>
              <b>{UTC(e.at)}</b> {e.what}
              {e.detail ? <span class="meta"> — {e.detail}</span> : null}
              {e.record ? (
                <>
                  {' '}
                  <a href={`/dao/${dao.id}/audit/${e.record}`}>{e.record}</a>
                </>
              ) : null}
            </li>
          ))}
        </ol>
        {p.transitions?.length ? (
          <p class="meta">
            Ledger:{' '}
            {p.transitions.map((t, i) => (
              <>
                {i > 0 ? ' → ' : ''}
                {t.to} ({UTC(t.at)})
              </>
            ))}
          </p>
        ) : null}
      </section>

      <h2>Votes</h2>
      <section id="votes">
        {props.vote ? (
          <VoteBars vote={props.vote} />
        ) : (
          <p class="meta">{props.voteError ?? 'No vote yet (not posted, or the vote is still open).'}</p>
        )}
      </section>

      <h2>The Safe transaction voters approve</h2>
      <TransactionSection tx={props.tx} />

      <h2>Simulation when drafted</h2>
      <section id="simulation">
        {props.simulation ? (
          <SimulationTable sim={props.simulation} />
        ) : (
          <p class="meta">No simulation in this record (logged before simulations were recorded).</p>
        )}
      </section>

      <h2>Execution</h2>
      <ExecutionSection {...props} />
    </Layout>
  );
}

function VoteBars(props: { vote: VoteView }) {
  const { tally } = props.vote;
  const total = tally.total || 0;
  const share = (v: number) => (total > 0 ? (v / total) * 100 : 0);
  const rows: [string, string, number][] = [
    ['For', 'for', tally.for],
    ['Against', 'against', tally.against],
    ['Abstain', 'abstain', tally.abstain],
  ];
  const scale = Math.max(total, tally.quorum, 1);
  const reached = total >= tally.quorum;
  return (
    <>
      <p class="meta">
        {props.vote.source === 'hub (live)'
          ? `From the hub now (${props.vote.hubState ?? 'state unknown'}): the agent counts the final tally itself when the vote closes.`
          : 'As the agent counted it when the vote closed (each voter’s balance read on chain at the snapshot block).'}
        {props.vote.outcome ? (
          <>
            {' '}
            Outcome: <StateBadge state={props.vote.outcome} />
          </>
        ) : null}
      </p>
      <div class="bars">
        {rows.map(([label, cls, v]) => (
          <div class={`bar ${cls}`}>
            <span>{label}</span>
            <span class="track">
              <span class={`fill ${cls}`} style={`width:${share(v).toFixed(1)}%`} />
            </span>
            <span>
              {votesText(v)} GOV ({share(v).toFixed(1)}%)
            </span>
          </div>
        ))}
        <div class="bar quorum">
          <span>Quorum</span>
          <span class="track">
            <span class="fill total" style={`width:${((total / scale) * 100).toFixed(1)}%`} />
            <span class="mark" style={`left:${((tally.quorum / scale) * 100).toFixed(1)}%`} />
          </span>
          <span>
            {votesText(total)} of {votesText(tally.quorum)} GOV {reached ? mark(true) : mark(false)}{' '}
            {reached ? 'reached' : 'not reached'}
          </span>
        </div>
      </div>
      {props.vote.ballots.length ? (
        <table class="ballots">
          <thead>
            <tr>
              <th>voter</th>
              <th>choice</th>
              <th>voting power</th>
            </tr>
          </thead>
          <tbody>
            {props.vote.ballots.map((b) => (
              <tr>
                <td>
                  <code>{b.voter}</code>
                </td>
                <td>{b.choice}</td>
                <td>{votesText(b.vp)} GOV</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

function TransactionSection(props: { tx: TransactionView }) {
  const { tx } = props;
  const fields: [string, string][] = [
    ['Safe', tx.safe ?? '—'],
    ['chain id', String(tx.chainId ?? '—')],
    ['nonce when drafted', String(tx.nonce ?? '—')],
    ...Object.entries(tx.safeTx ?? {})
      .filter(([k]) => k !== 'data')
      .map(([k, v]) => [k, String(v)] as [string, string]),
    ['keccak256(data)', tx.dataHash ?? '—'],
    ['safeTxHash', tx.safeTxHash ?? '—'],
    ['decision hash', tx.decisionHash ?? '—'],
    ['PolicySwapper', tx.policySwapper ?? '—'],
    ['valid until', tx.validUntil ? UTC(tx.validUntil) : '—'],
    ...(tx.auditHead
      ? ([['audit head when drafted', `#${tx.auditHead.seq} ${tx.auditHead.hash}`]] as [string, string][])
      : []),
  ];
  return (
    <section id="transaction">
      {tx.strategy ? (
        <p>
          <b>Strategy:</b> {tx.strategy}
        </p>
      ) : null}
      <p id="rebuilt">
        {mark(tx.rebuilt.ok)} {tx.rebuilt.detail}
      </p>
      {tx.policies.length ? (
        <>
          <h3>Price policies (checked by PolicySwapper when the batch runs)</h3>
          <ul id="policies">
            {tx.policies.map((w) => (
              <li>{w}</li>
            ))}
          </ul>
        </>
      ) : null}
      <h3>Calls ({tx.calls.length}), in the order the batch runs them</h3>
      <ol class="calls" id="calls">
        {tx.calls.map((c) => (
          <li>
            <div class="words">{c.words ?? '(no words: the inputs do not replay)'}</div>
            <div class="meta">
              to {c.toName} <code>{c.to}</code> · value {c.value} · operation{' '}
              {c.operation === 0 ? '0 (call)' : '1 (delegatecall)'}
            </div>
            <code class="hex">{c.data}</code>
          </li>
        ))}
      </ol>
      <h3>The outer Safe transaction (MultiSendCallOnly batch)</h3>
      <table id="safetx">
        <tbody>
          {fields.map(([k, v]) => (
            <tr>
              <th>{k}</th>
              <td>
                <code>{v}</code>
              </td>
            </tr>
          ))}
          {tx.safeTx?.data ? (
            <tr>
              <th>data</th>
              <td>
                <code class="hex">{String(tx.safeTx.data)}</code>
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </section>
  );
}

function SimulationTable(props: { sim: SimulationView }) {
  return (
    <>
      <p>
        The exact voted calls, run from the Safe when drafted: <b>{props.sim.totalGas} gas</b> (per call:{' '}
        {props.sim.gasUsed.join(', ')}).
      </p>
      <table>
        <thead>
          <tr>
            <th>token</th>
            <th>before</th>
            <th>after (simulated)</th>
            <th>change</th>
          </tr>
        </thead>
        <tbody>
          {props.sim.balances.map((b) => (
            <tr>
              <td>{b.symbol}</td>
              <td>{b.before}</td>
              <td>{b.after}</td>
              <td>{b.change}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function SwapEvents(props: { swaps: SwapEventView[]; id: string }) {
  return (
    <table id={props.id}>
      <thead>
        <tr>
          <th>#</th>
          <th>swap</th>
          <th>amount in</th>
          <th>oracle price</th>
          <th>minimum out</th>
          <th>amount out</th>
        </tr>
      </thead>
      <tbody>
        {props.swaps.map((s) => (
          <tr>
            <td>{s.index}</td>
            <td>{s.pair}</td>
            <td>{s.amountIn}</td>
            <td>{s.oraclePrice}</td>
            <td>{s.minOut}</td>
            <td>{s.amountOut}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ExecutionSection(props: ProposalPageProps) {
  const executed = props.proposal.executed;
  if (!executed) {
    return (
      <section id="execution">
        <p class="meta">
          Not executed
          {props.proposal.reason && ['expired', 'failed'].includes(props.proposal.state)
            ? `: ${props.proposal.reason}`
            : '.'}
        </p>
      </section>
    );
  }
  const d = executed.data;
  const receipt = props.receipt;
  return (
    <section id="execution">
      <table>
        <tbody>
          <tr>
            <th>transaction</th>
            <td>
              <code>{d.transactionHash}</code>
            </td>
          </tr>
          <tr>
            <th>safeTxHash executed</th>
            <td>
              <code>{d.safeTxHash}</code>
              {d.votedSafeTxHash && d.votedSafeTxHash !== d.safeTxHash ? (
                <div class="meta">voted as {d.votedSafeTxHash} (the Safe's nonce moved before execution)</div>
              ) : (
                <div class="meta">the voted safeTxHash</div>
              )}
            </td>
          </tr>
          <tr>
            <th>nonce</th>
            <td>{d.nonce ?? '—'}</td>
          </tr>
          <tr>
            <th>gas used</th>
            <td>{d.gasUsed ? BigInt(d.gasUsed).toLocaleString('en-US') : '—'}</td>
          </tr>
          <tr>
            <th>decision hash</th>
            <td>
              <code>{d.decisionHash ?? '—'}</code>
            </td>
          </tr>
          <tr>
            <th>record</th>
            <td>{executed.record.id}</td>
          </tr>
        </tbody>
      </table>
      <h3>PolicySwapper's PolicySwap events (as logged)</h3>
      <SwapEvents swaps={props.loggedSwaps} id="policy-swaps" />
      {d.divergences?.length ? (
        <p class="bad">Balances diverged from the plan: {d.divergences.join('; ')}</p>
      ) : (
        <p class="meta">Balances after execution matched the plan.</p>
      )}
      {receipt ? (
        'error' in receipt ? (
          <p class="bad" id="receipt">
            Receipt not read: {receipt.error}
          </p>
        ) : (
          <div id="receipt">
            <h3>On chain now</h3>
            <p>
              {mark(receipt.status === 'success')} receipt status {receipt.status}, block{' '}
              {receipt.blockNumber}, gas {receipt.gasUsed}; {mark(receipt.safeExecuted)} the Safe's
              ExecutionSuccess for <code>{short(d.safeTxHash)}</code>;{' '}
              {mark(receipt.swaps.length === props.loggedSwaps.length)} {receipt.swaps.length} PolicySwap
              event(s) decoded from the receipt:
            </p>
            <SwapEvents swaps={props.receiptSwaps ?? []} id="receipt-swaps" />
          </div>
        )
      ) : (
        <p class="meta">Offline: the receipt is not read (the values above are the audit log's).</p>
      )}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------- audit

/** The audit page lists at most this many records (a year of weekly cycles is a few hundred). */
const RECORDS_SHOWN = 1000;

export type AuditPageProps = DaoHeader & {
  records: AuditRecord[];
  logError?: string;
  verification?: AuditVerification;
  unreachable: string[];
  anchors: { proposal: string; key: string; seq: number; hash: string; matches: boolean }[];
  summaries: Map<string, string>;
};

export function AuditPage(props: AuditPageProps) {
  const { dao, verification: v } = props;
  const line = (ok: boolean | undefined, text: string, problems: string[] = []) => (
    <li>
      {ok === undefined ? <span class="skip">·</span> : mark(ok)} {text}
      {problems.length ? (
        <ul>
          {problems.map((p) => (
            <li class="bad">{p}</li>
          ))}
        </ul>
      ) : null}
    </li>
  );
  return (
    <Layout
      title={`${dao.name} audit log`}
      crumbs={[
        { href: `/dao/${dao.id}`, label: dao.name },
        { href: `/dao/${dao.id}/audit`, label: 'audit log' },
      ]}
    >
      <h1>Audit log</h1>
      <Facts facts={props.facts} />
      <DaoTabs id={dao.id} />
      {props.logError ? <div class="banner error">{props.logError}</div> : null}
      {v ? (
        <section id="verification">
          <p class={v.ok ? 'ok' : 'bad'}>
            <b>{v.ok ? '✔ audit log verifies' : '✖ audit log does NOT verify'}</b>
          </p>
          <ul>
            {line(
              v.chain.ok,
              `hash chain ${v.chain.ok ? 'intact' : 'BROKEN'}: ${v.chain.count} records, head ${short(v.chain.lastHash)}`,
              v.chain.problems,
            )}
            {v.mirror.checked
              ? line(
                  v.mirror.problems.length === 0,
                  `the ledger's mirror ${v.mirror.problems.length ? 'disagrees' : 'agrees'}`,
                  v.mirror.problems,
                )
              : line(
                  undefined,
                  `the ledger's mirror not compared (${dao.mode === 'offline' ? 'offline' : 'no ledger'})`,
                )}
            {line(
              v.decisions.problems.length === 0,
              `${v.decisions.checked} decisions replay to their decision hash`,
              v.decisions.problems,
            )}
            {v.hub
              ? line(
                  v.hub.problems.length === 0,
                  `${v.hub.checked} audit heads anchored in the agent's proposals on the hub`,
                  v.hub.problems,
                )
              : line(undefined, 'anchors on the hub not checked (offline, or the hub unreachable)')}
            {v.onChain
              ? line(
                  v.onChain.problems.length === 0,
                  `${v.onChain.checked} decisions executed on chain by PolicySwapper, each in the log`,
                  v.onChain.problems,
                )
              : line(undefined, 'executions on chain not listed (offline, or the chain unreachable)')}
            {v.executed.map((e) =>
              line(
                e.onChain === 'skipped' ? undefined : e.onChain === 'verified',
                `${e.id} executed ${e.transactionHash}: ${e.onChain === 'skipped' ? 'receipt not checked (offline)' : e.onChain}`,
              ),
            )}
          </ul>
          {props.unreachable.map((u) => (
            <p class="bad">Not reachable: {u}</p>
          ))}
        </section>
      ) : null}
      <h2>Anchors: the audit head each proposal carries ({props.anchors.length})</h2>
      <p class="meta">
        Each proposal's plugin holds the log's last record (seq and hash) when it was drafted; the hub keeps
        it, so a truncated or replaced log disagrees with it.
        {dao.mode === 'offline' ? ' Offline these come from the log itself (the hub is not asked).' : ''}
      </p>
      <table id="anchors">
        <thead>
          <tr>
            <th>proposal</th>
            <th>anchored record</th>
            <th>hash</th>
            <th>in this file</th>
          </tr>
        </thead>
        <tbody>
          {props.anchors.map((a) => (
            <tr>
              <td>
                <a href={`/dao/${dao.id}/proposals/${a.key}`}>{a.key}</a> <code>{short(a.proposal)}</code>
              </td>
              <td>#{a.seq}</td>
              <td>
                <code>{a.hash}</code>
              </td>
              <td>{mark(a.matches)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>
        Records ({props.records.length}), newest first
        {props.records.length > RECORDS_SHOWN ? ` (the newest ${RECORDS_SHOWN}; open older ones by id)` : ''}
      </h2>
      <table id="records">
        <thead>
          <tr>
            <th>record</th>
            <th>time</th>
            <th>kind</th>
            <th>what</th>
          </tr>
        </thead>
        <tbody>
          {props.records
            .slice(-RECORDS_SHOWN)
            .reverse()
            .map((r) => (
              <tr>
                <td>
                  <a href={`/dao/${dao.id}/audit/${r.id}`}>{r.id}</a>
                </td>
                <td>{UTC(r.at)}</td>
                <td>{r.kind}</td>
                <td>{props.summaries.get(r.id) ?? ''}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </Layout>
  );
}

export function RecordPage(props: DaoHeader & { record: AuditRecord; json: string }) {
  const { dao, record } = props;
  const prev = record.seq > 1 ? `rec-${String(record.seq - 1).padStart(6, '0')}` : undefined;
  const next = `rec-${String(record.seq + 1).padStart(6, '0')}`;
  return (
    <Layout
      title={record.id}
      crumbs={[
        { href: `/dao/${dao.id}`, label: dao.name },
        { href: `/dao/${dao.id}/audit`, label: 'audit log' },
        { href: `/dao/${dao.id}/audit/${record.id}`, label: record.id },
      ]}
    >
      <h1>
        {record.id}: {record.kind}
      </h1>
      <p class="meta">
        {UTC(record.at)} · hash <code>{record.hash}</code> · previous <code>{record.prevHash}</code>
      </p>
      <p>
        {prev ? <a href={`/dao/${dao.id}/audit/${prev}`}>← {prev}</a> : null}{' '}
        <a href={`/dao/${dao.id}/audit/${next}`}>{next} →</a>
      </p>
      <section>
        <pre>{props.json}</pre>
      </section>
    </Layout>
  );
}

// ---------------------------------------------------------------------------------------------- backtest

export function BacktestPage(
  props: DaoHeader & { results?: BacktestResult[]; notes: string[]; error?: string },
) {
  const { dao, results } = props;
  const first = results?.[0];
  let charts = '';
  if (results && first) {
    const fromDay = dayOf(first.from);
    const dates = Array.from({ length: first.values.length }, (_, i) => isoDateOf(fromDay + i));
    const colored = results.map((r, i) => ({ r, color: PALETTE[i % PALETTE.length]! }));
    const usd = (x: number) =>
      Math.abs(x) >= 1e6 ? `$${(x / 1e6).toFixed(1)}M` : `$${(x / 1e3).toFixed(0)}k`;
    charts =
      lineChart(
        'Treasury value (USD, after spending)',
        dates,
        colored.map(({ r, color }) => ({ name: r.name, values: r.values, color })),
        usd,
      ) +
      lineChart(
        'Drawdown from peak (time-weighted, spending added back)',
        dates,
        colored.map(({ r, color }) => ({
          name: r.name,
          values: Array.from(drawdowns(timeWeightedIndex(r.values, r.outflows)), (v) => -v),
          color,
        })),
        (v) => `${(v * 100).toFixed(0)}%`,
      ) +
      (first.allocation
        ? allocationChart(dates, first.allocation, 'The strategy’s allocation over time')
        : '');
  }
  return (
    <Layout
      title={`${dao.name} backtest`}
      crumbs={[
        { href: `/dao/${dao.id}`, label: dao.name },
        { href: `/dao/${dao.id}/backtest`, label: 'backtest' },
      ]}
    >
      <h1>Backtest of the strategy</h1>
      <Facts facts={props.facts} />
      <DaoTabs id={dao.id} />
      {props.error ? <div class="banner error">The backtest could not run: {props.error}</div> : null}
      <ul class="meta" id="backtest-notes">
        {props.notes.map((n) => (
          <li>{n}</li>
        ))}
      </ul>
      {results && first ? (
        <section id="backtest">
          <p>
            {first.from} → {first.to} · <code>{first.strategy}</code>
          </p>
          <table id="metrics">
            <thead>
              <tr>
                <th />
                {METRIC_COLUMNS.map(([h]) => (
                  <th>{h}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {results.map((r) => (
                <tr>
                  <th>{r.name}</th>
                  {METRIC_COLUMNS.map(([, f]) => (
                    <td>{f(r)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {raw(charts)}
          {results.flatMap((r) => r.warnings.map((w) => `${r.name}: ${w}`)).length ? (
            <ul>
              {results.flatMap((r) =>
                r.warnings.map((w) => (
                  <li>
                    {r.name}: {w}
                  </li>
                )),
              )}
            </ul>
          ) : null}
        </section>
      ) : null}
    </Layout>
  );
}

// ---------------------------------------------------------------------------------------------- errors

export function MessagePage(props: { status: number; title: string; message: string }) {
  return (
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <div class={props.status >= 500 ? 'banner error' : 'banner note'}>{props.message}</div>
      <p>
        <a href="/">All DAOs</a>
      </p>
    </Layout>
  );
}
