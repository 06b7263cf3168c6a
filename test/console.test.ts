import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRecord, parseAuditLog } from '../agent/auditLog.ts';
import { runCycle } from '../agent/cycle.ts';
import { type DecisionInputs, decide } from '../agent/decide.ts';
import { applyMarketDay, pricesOnDay } from '../agent/demo/market.ts';
import { callsInWords } from '../agent/proposalContent.ts';
import { main } from '../cli/cli.ts';
import { DEFAULT_PRICES_PATH } from '../contracts/localDevnet.ts';
import { displayAmount, type TreasuryAgentPlugin } from '../governance/proposalBody.ts';
import { loadPriceHistory } from '../strategies/priceHistory.ts';
import { type CycleStack, startCycleStack } from './support/localStack.ts';

/**
 * `treasury console` end to end: a real stack runs three proposals (executed, rejected, one still voting), then
 * the console — started through the CLI on port 0, as a user would — is read in Chromium offline (the audit log
 * alone), live (ledger, hub, chain; then the agent pauses) and for a folder of configs with a broken one.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');
const SECRET = 'SECRETxRPCxKEY0123';
const SECRET_NAMES = ['TREASURY_AGENT_KEY', 'TREASURY_COSIGNER_KEYS', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY'];

let s: CycleStack;
let browser: Browser;
let configPath: string;
let offlineLog: string;
let records: AuditRecord[];
const rows: { executed: string; rejected: string; open: string } = { executed: '', rejected: '', open: '' };
/** Every page the tests read, to look for secrets at the end. */
const seen: { url: string; html: string }[] = [];
const clis: RunningCli[] = [];

type RunningCli = {
  url: string;
  out: string[];
  envReads: () => string[];
  stop: () => Promise<number | null>;
};

/** `treasury console …` as a child process with the agent's keys in its environment and env reads recorded. */
async function startConsoleCli(args: string[]): Promise<RunningCli> {
  const readsLog = join(s.dir, `env-reads-${Math.random().toString(36).slice(2)}.log`);
  const trap = join(s.dir, 'env-trap.mjs');
  writeFileSync(
    trap,
    `import { appendFileSync } from 'node:fs';
const names = new Set(${JSON.stringify(SECRET_NAMES)});
const log = process.env.ENV_READS_LOG;
process.env = new Proxy(process.env, {
  get(target, key) {
    if (typeof key === 'string' && names.has(key)) appendFileSync(log, key + '\\n' + new Error().stack + '\\n');
    return Reflect.get(target, key);
  },
});
`,
  );
  const child: ChildProcess = spawn(process.execPath, ['--import', trap, CLI, 'console', ...args], {
    env: {
      ...process.env,
      ...s.stack.env,
      OPENAI_API_KEY: 'sk-test-openai-key-never-shown',
      ENV_READS_LOG: readsLog,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  let buffer = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        out.push(line);
        const up = /console is up at (http:\/\/\S+)/.exec(line);
        if (up) resolve(up[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => out.push(chunk.toString()));
    void exited.then((code) => reject(new Error(`console exited with ${code}: ${out.join('\n')}`)));
  });
  const running: RunningCli = {
    url,
    out,
    envReads: () => (existsSync(readsLog) ? [readFileSync(readsLog, 'utf8')] : []),
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
  clis.push(running);
  return running;
}

async function open(page: Page, url: string): Promise<void> {
  const response = await page.goto(url);
  expect(response?.status(), url).toBe(200);
  seen.push({ url, html: await page.content() });
}

/** The text a person sees (innerText: laid out, hidden parts left out). */
const text = (page: Page, selector: string) =>
  // biome-ignore lint/performance/useDomNodeTextContent: the visible text is what these tests assert
  page.locator(selector).innerText();

function decisionOf(key: string) {
  const record = records.find((r) => r.id === key)!;
  return record.data as {
    inputs: DecisionInputs;
    proposal: { title: string; plugins: TreasuryAgentPlugin };
    simulation: { gasUsed: string[]; balancesAfter: Record<string, string> };
  };
}

let history: Awaited<ReturnType<typeof loadPriceHistory>>;

beforeAll(async () => {
  history = await loadPriceHistory(DEFAULT_PRICES_PATH);
  s = await startCycleStack();
  const g = s.runtime.config.governance;
  const day = async () => Math.floor((await s.runtime.clock()) / 86_400);
  const marketOfYesterday = async () =>
    applyMarketDay(s.stack, pricesOnDay(s.stack, history, (await day()) - 1));
  // 1. passed and executed
  await runCycle(s.runtime);
  const first = (await s.runtime.ledger.all())[0]!;
  await s.advance(60);
  await s.vote(0, first.proposalId!, 1);
  await s.vote(1, first.proposalId!, 1);
  await s.advance(g.votingPeriodSeconds + g.executionDelaySeconds + 120);
  await runCycle(s.runtime);
  expect((await s.runtime.ledger.get(first.key))!.state).toBe('executed');
  // 2. rejected: 3,000,000 Against, 2,000,000 For
  await s.advance(7 * 86_400);
  await marketOfYesterday();
  await runCycle(s.runtime);
  const second = (await s.runtime.ledger.all())[1]!;
  await s.advance(60);
  await s.vote(0, second.proposalId!, 2);
  await s.vote(1, second.proposalId!, 1);
  await s.advance(g.votingPeriodSeconds + 120);
  await runCycle(s.runtime);
  expect((await s.runtime.ledger.get(second.key))!.state).toBe('rejected');
  // 3. still voting: 1,500,000 For so far
  await s.advance(7 * 86_400);
  await marketOfYesterday();
  await runCycle(s.runtime);
  const third = (await s.runtime.ledger.all())[2]!;
  await s.advance(60);
  await s.vote(2, third.proposalId!, 1);
  for (const [name, row] of [
    ['executed', first],
    ['rejected', second],
    ['open', third],
  ] as const)
    rows[name] = (row.record as { decisionRecordId: string }).decisionRecordId;

  // A finished run's log, for offline mode; a config whose RPC URL carries an API key, for live mode.
  const auditPath = s.runtime.config.state.auditLogPath;
  mkdirSync(join(s.dir, 'finished'));
  offlineLog = join(s.dir, 'finished', 'audit.jsonl');
  copyFileSync(auditPath, offlineLog);
  records = parseAuditLog(readFileSync(offlineLog, 'utf8'));
  configPath = join(s.dir, 'dao.json');
  writeFileSync(
    configPath,
    JSON.stringify(
      {
        ...s.runtime.config,
        chain: { ...s.runtime.config.chain, rpcUrl: `${s.stack.config.chain.rpcUrl}/?apikey=${SECRET}` },
      },
      null,
      1,
    ),
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

describe('treasury console --audit-log (offline: the log alone)', () => {
  let cli: RunningCli;
  let page: Page;
  let dao: string;
  beforeAll(async () => {
    cli = await startConsoleCli(['--audit-log', offlineLog, '--port', '0']);
    page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    dao = `${cli.url}/dao/finished-audit`;
  });
  afterAll(async () => {
    await page?.close();
    expect(await cli?.stop()).toBe(0);
  });

  it('lists the proposals with their states and reasons', async () => {
    await open(page, cli.url);
    const index = await text(page, '#daos');
    expect(index).toMatch(/offline/);
    expect(index).toMatch(/3 — 1 executed, 1 rejected, 1 posted/);
    await page.locator('#daos a').first().click();
    expect(page.url()).toBe(dao);
    seen.push({ url: page.url(), html: await page.content() });
    const list = await text(page, '#proposals');
    for (const key of Object.values(rows)) expect(list).toContain(decisionOf(key).proposal.title);
    const row = (key: string) => text(page, `#proposals tr[data-key="${key}"]`);
    expect(await row(rows.executed)).toMatch(/EXECUTED/);
    expect(await row(rows.rejected)).toMatch(
      /REJECTED\s+For 2,000,000 did not beat Against 3,000,000 \(Abstain 0\); quorum 5,000,000 of 1,000,000 GOV/,
    );
    expect(await row(rows.open)).toMatch(/POSTED/);
    expect(await text(page, '#pause')).toContain('No pause recorded in the log');
  });

  it('shows an executed proposal: timeline, vote bars with quorum, every call in words and hex, the simulation, the execution and its PolicySwapper events', async () => {
    await open(page, `${dao}/proposals/${rows.executed}`);
    const data = decisionOf(rows.executed);
    expect(await text(page, '#title')).toBe(data.proposal.title);
    const timeline = await text(page, '#timeline');
    expect(timeline).toMatch(/decided.*\n.*posted to Snapshot.*\n.*vote closed: passed.*\n.*executed/);

    // votes: 5,000,000 For of 5,000,000, quorum 1,000,000 reached
    const votes = await text(page, '#votes');
    expect(votes).toMatch(/For\s+5,000,000 GOV \(100\.0%\)/);
    expect(votes).toMatch(/Against\s+0 GOV \(0\.0%\)/);
    expect(votes).toMatch(/Quorum\s+5,000,000 of 1,000,000 GOV ✔ reached/);
    expect(await page.locator('#votes .fill.for').getAttribute('style')).toBe('width:100.0%');
    expect(await page.locator('#votes table.ballots tbody tr').count()).toBe(2);

    // the transaction: words from the logged inputs, hex from the plugin voters saw
    const decision = decide(data.inputs);
    const words = callsInWords(decision);
    const calls = page.locator('#calls > li');
    expect(await calls.count()).toBe(data.proposal.plugins.transactions.length);
    for (const [i, tx] of data.proposal.plugins.transactions.entries()) {
      const call = await text(page, `#calls > li:nth-child(${i + 1})`);
      expect(call).toContain(words[i]!);
      expect(call).toContain(tx.data);
      expect(call).toContain(tx.to);
    }
    expect(await text(page, '#rebuilt')).toContain(
      '✔ decide(inputs) rebuilds exactly these calls and this safeTxHash',
    );
    const safeTx = await text(page, '#safetx');
    expect(safeTx).toContain(data.proposal.plugins.safeTxHash);
    expect(safeTx).toMatch(/operation\s+1/);
    expect(safeTx).toContain(data.proposal.plugins.dataHash);

    // the simulation made when drafting
    const gas = data.simulation.gasUsed.reduce((a, b) => a + BigInt(b), 0n).toLocaleString('en-US');
    const simulation = await text(page, '#simulation');
    expect(simulation).toContain(`${gas} gas`);
    const usdc = data.inputs.tokens.find((t) => t.symbol === 'USDC')!;
    expect(simulation).toContain(
      `${displayAmount(BigInt(data.simulation.balancesAfter.USDC!), usdc.decimals)} USDC`,
    );

    // the execution and PolicySwapper's events as logged
    const executed = records.find((r) => r.kind === 'executed')!.data as {
      transactionHash: string;
      policySwaps: { amountOut: string; minOut: string; tokenOut: string }[];
    };
    const execution = await text(page, '#execution');
    expect(execution).toContain(executed.transactionHash);
    const swap = executed.policySwaps[0]!;
    const out = data.inputs.tokens.find((t) => t.address.toLowerCase() === swap.tokenOut.toLowerCase())!;
    const swaps = await text(page, '#policy-swaps');
    expect(swaps).toContain(`${displayAmount(BigInt(swap.amountOut), out.decimals)} ${out.symbol}`);
    expect(swaps).toContain(`${displayAmount(BigInt(swap.minOut), out.decimals)} ${out.symbol}`);
    expect(swaps).toMatch(/per GOV/);
    expect(execution).toContain('Offline: the receipt is not read');
    await page.screenshot({ path: join(s.dir, 'console-proposal.png'), fullPage: true });
    expect(statSync(join(s.dir, 'console-proposal.png')).size).toBeGreaterThan(50_000);
  });

  it('verifies the audit log and lists its anchors and records', async () => {
    await open(page, `${dao}/audit`);
    const verification = await text(page, '#verification');
    expect(verification).toContain('✔ audit log verifies');
    expect(verification).toMatch(/✔ hash chain intact: \d+ records/);
    expect(verification).toContain('✔ 3 decisions replay to their decision hash');
    expect(verification).toMatch(/receipt not checked \(offline\)/);
    expect(await page.locator('#anchors tbody tr').count()).toBe(3);
    expect(await text(page, '#anchors')).not.toContain('✖');
    expect(await page.locator('#records tbody tr').count()).toBe(records.length);
    // every record page opens
    for (const r of records) {
      const response = await fetch(`${dao}/audit/${r.id}`);
      expect(response.status).toBe(200);
      seen.push({ url: response.url, html: await response.text() });
    }
  });

  it('backtests the logged strategy', async () => {
    await open(page, `${dao}/backtest`);
    expect(await text(page, '#backtest-notes')).toMatch(/From the audit log alone/);
    const metrics = await text(page, '#metrics');
    for (const run of ['strategy', 'hold as-is', '1/N monthly']) expect(metrics).toContain(run);
    expect(await page.locator('#backtest figure svg path').count()).toBeGreaterThanOrEqual(4);
  });

  it('changes nothing: other methods are refused, and it logs one line per request', async () => {
    const before = readFileSync(offlineLog);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const response = await fetch(`${cli.url}/`, { method });
      expect(response.status).toBe(405);
    }
    expect(readFileSync(offlineLog).equals(before)).toBe(true);
    // stdout is not a terminal: JSON lines, one per request (method, path, status, ms)
    const logged = cli.out
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.every((l) => l.command === 'console' && typeof l.time === 'string')).toBe(true);
    expect(logged.some((l) => /^GET \/dao\/[a-z0-9-]+\/audit 200 \d+ms$/.test(String(l.msg)))).toBe(true);
    const post = logged.find((l) => l.method === 'POST');
    expect(post).toMatchObject({
      level: 30,
      path: '/',
      status: 405,
      msg: expect.stringMatching(/^POST \/ 405 \d+ms$/),
    });
    expect(typeof post?.ms).toBe('number');
  });
});

describe('treasury console --config (live: ledger, hub, chain)', () => {
  let cli: RunningCli;
  let page: Page;
  let dao: string;
  beforeAll(async () => {
    cli = await startConsoleCli(['--config', configPath, '--port', '0']);
    page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    dao = `${cli.url}/dao/dao`;
  });
  afterAll(async () => {
    await page?.close();
    expect(await cli?.stop()).toBe(0);
  });

  it("reads the executed transaction's receipt and PolicySwapper's events from the chain", async () => {
    await open(page, `${dao}/proposals/${rows.executed}`);
    const receipt = await text(page, '#receipt');
    expect(receipt).toMatch(/✔ receipt status success, block \d+/);
    expect(receipt).toMatch(/✔ the Safe's ExecutionSuccess for 0x[0-9a-f]{8}/);
    expect(receipt).toMatch(/✔ \d+ PolicySwap event\(s\) decoded from the receipt/);
    expect(await text(page, '#receipt-swaps tbody')).toBe(await text(page, '#policy-swaps tbody'));
  });

  it('shows an open vote as the hub has it now', async () => {
    await open(page, `${dao}/proposals/${rows.open}`);
    const votes = await text(page, '#votes');
    expect(votes).toMatch(/From the hub now \(active\)/);
    expect(votes).toMatch(/For\s+1,500,000 GOV \(100\.0%\)/);
    expect(votes).toMatch(/Quorum\s+1,500,000 of 1,000,000 GOV ✔ reached/);
  });

  it('verifies the audit log against the ledger, the hub and the chain: the anchors are checked', async () => {
    await open(page, `${dao}/audit`);
    const verification = await text(page, '#verification');
    expect(verification).toContain('✔ audit log verifies');
    expect(verification).toContain("✔ the ledger's mirror agrees");
    expect(verification).toContain("✔ 3 audit heads anchored in the agent's proposals on the hub");
    expect(verification).toContain('✔ 1 decisions executed on chain by PolicySwapper, each in the log');
    expect(verification).toMatch(/✔ rec-\d+ executed 0x[0-9a-f]{64}: verified/);
  });

  it('shows the pause and its reason once the agent pauses', async () => {
    await open(page, dao);
    expect(await text(page, '#pause')).toContain('Not paused');
    // The open vote passes; before it executes WBTC falls 45% (feeds and pools agree): the circuit breaker.
    const g = s.runtime.config.governance;
    await s.advance(g.votingPeriodSeconds + g.executionDelaySeconds + 120);
    const today = pricesOnDay(s.stack, history, Math.floor((await s.runtime.clock()) / 86_400) - 1);
    await applyMarketDay(s.stack, { ...today, WBTC: today.WBTC! * 0.55 });
    await runCycle(s.runtime);
    const reason = await s.runtime.ledger.getState('paused');
    expect(reason).toMatch(/^circuit breaker: WBTC/);
    await open(page, dao);
    const pause = await text(page, '#pause');
    expect(pause).toContain(`⏸ Paused: ${reason}`);
    expect(await text(page, `#proposals tr[data-key="${rows.open}"]`)).toMatch(/PASSED/);
    await open(page, `${dao}/proposals/${rows.open}`);
    expect(await text(page, '#timeline')).toMatch(/execution waits — .*circuit breaker/);
    await open(page, cli.url);
    expect(await text(page, '#daos')).toMatch(/paused: circuit breaker: WBTC/);
  });

  it('backtests the configured strategy', async () => {
    await open(page, `${dao}/backtest`);
    expect(await text(page, '#backtest-notes')).toMatch(/The configured strategy/);
    // the strategy, then every baseline twice: ideal and with the agent's delay and costs (issue 15)
    const rows = await page.locator('#metrics tbody th').allInnerTexts();
    expect(rows.slice(1)).toEqual(
      ['hold as-is', '1/N monthly', '60/40 ETH/stables'].flatMap((b) => [
        `${b} (ideal)`,
        `${b} (delay+costs)`,
      ]),
    );
    expect(await text(page, '#metrics thead')).toMatch(/Floor reached \(day\)\s+Days below floor after/);
  });
});

describe('treasury console --configs DIR (several DAOs)', () => {
  let cli: RunningCli;
  let page: Page;
  beforeAll(async () => {
    const dir = join(s.dir, 'daos');
    mkdirSync(dir);
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    writeFileSync(join(dir, 'alpha.json'), JSON.stringify(config));
    // beta: the same stack, an earlier copy of the log (up to the first execution), no ledger
    const cut = records.findIndex((r) => r.kind === 'executed') + 1;
    const betaLog = join(dir, 'beta-audit.jsonl');
    writeFileSync(
      betaLog,
      `${readFileSync(offlineLog, 'utf8').trim().split('\n').slice(0, cut).join('\n')}\n`,
    );
    writeFileSync(
      join(dir, 'beta.json'),
      JSON.stringify({
        ...config,
        state: { ledgerPath: join(dir, 'beta-ledger.db'), auditLogPath: betaLog },
      }),
    );
    // broken: a field of the wrong type, with the key-bearing RPC URL beside it
    writeFileSync(
      join(dir, 'broken.yaml'),
      `chain: { id: -1, rpcUrl: "http://127.0.0.1:1/?apikey=${SECRET}" }\nsafe: nope\n`,
    );
    writeFileSync(join(dir, 'notes.txt'), 'not a config');
    cli = await startConsoleCli(['--configs', dir, '--port', '0']);
    page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  });
  afterAll(async () => {
    await page?.close();
    expect(await cli?.stop()).toBe(0);
  });

  it('lists every DAO on the index, a broken config with its error', async () => {
    await open(page, cli.url);
    expect(await page.locator('#daos tbody tr').count()).toBe(3);
    expect(await text(page, '#daos tr[data-dao="alpha"]')).toMatch(/3 — 1 executed, 1 rejected, 1 passed/);
    expect(await text(page, '#daos tr[data-dao="beta"]')).toMatch(/1 — 1 executed/);
    const broken = await text(page, '#daos tr[data-dao="broken"]');
    expect(broken).toMatch(/config error/);
    expect(broken).toMatch(/broken\.yaml is invalid \(\d+ problems\)/);
    expect(broken).toMatch(/✖ .* → at chain\.id/);
  });

  it('shows each DAO its own data', async () => {
    await open(page, `${cli.url}/dao/alpha`);
    expect(await page.locator('#proposals tbody tr').count()).toBe(3);
    await open(page, `${cli.url}/dao/beta`);
    expect(await page.locator('#proposals tbody tr').count()).toBe(1);
    expect(await text(page, '#proposals')).toContain(decisionOf(rows.executed).proposal.title);
    expect(await text(page, '.banner.error')).toMatch(/no ledger at .*beta-ledger\.db yet/);
    await open(page, `${cli.url}/dao/beta/audit`);
    expect(await text(page, '#records')).not.toContain(rows.open);
  });
});

describe('no secret on any page', () => {
  it('never shows the RPC URL key, a private key or an API key, and never reads the keys from the environment', () => {
    expect(seen.length).toBeGreaterThan(20);
    const secrets = [
      SECRET,
      'apikey=',
      'sk-test-openai-key-never-shown',
      ...Object.values(s.stack.env).flatMap((v) => v.split(',')),
    ].flatMap((v) => [v, v.replace(/^0x/, '')]);
    for (const { url, html } of seen) for (const secret of secrets) expect(html, url).not.toContain(secret);
    expect(clis).toHaveLength(3);
    for (const cli of clis) expect(cli.envReads()).toEqual([]);
  });

  it('the console refuses to run without a DAO', async () => {
    const lines: string[] = [];
    const code = await main(['console'], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    expect(code).toBe(2);
    expect(lines.join('\n')).toMatch(/--config FILE, --configs DIR or --audit-log FILE/);
  });
});
