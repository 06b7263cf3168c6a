import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuditLog } from '../agent/auditLog.ts';
import { verifyAudit } from '../agent/auditTools.ts';
import { renderDemoReport } from '../agent/demo/report.ts';
import { type DemoResult, runDemo } from '../agent/demo/runDemo.ts';
import { DEFAULT_DEVNET_CONFIG } from '../cli/devnetCommand.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { makePublicClient } from '../contracts/chainClients.ts';
import { findSafeExecution } from '../contracts/executionLogs.ts';
import { parseTreasuryPlugin } from '../governance/proposalBody.ts';
import { createSnapshotClient } from '../governance/snapshotClient.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'demo-'));
let result: DemoResult;
const live: {
  hubProposals: number;
  votesCounted: number[];
  executedOnChain: string[];
  planned: string[];
  chainVerify?: boolean;
} = {
  hubProposals: 0,
  votesCounted: [],
  executedOnChain: [],
  planned: [],
};
const lines: string[] = [];

beforeAll(async () => {
  const config = await loadConfig(DEFAULT_DEVNET_CONFIG);
  // A short stretch of 2022 in which proposals pass, execute, get rejected and expire.
  result = await runDemo(
    {
      config,
      from: '2022-03-14',
      to: '2022-04-04',
      outDir: dir,
      log: (l) => lines.push(l),
      signal: new AbortController().signal,
    },
    async (r) => {
      // While the chain and the hub are still up: check what the demo claims against them.
      const client = makePublicClient(31337, r.rpcUrl!);
      const reader = createSnapshotClient({
        hubUrl: r.hubUrl!,
        account: privateKeyToAccount(`0x${'11'.repeat(32)}`),
      });
      const onHub = await reader.listProposals(r.space!, { state: 'all' });
      live.hubProposals = onHub.length;
      for (const p of r.proposals) {
        const hub = onHub.find((h) => h.id === p.id)!;
        live.planned.push(
          parseTreasuryPlugin(hub.plugins).safeTxHash === p.safeTxHash ? 'same' : 'different',
        );
        live.votesCounted.push((await reader.getVotes(p.id)).length);
        if (p.executionTxHash) {
          const tx = await findSafeExecution(client, {
            safe: r.safeAddress! as `0x${string}`,
            safeTxHash: p.safeTxHash as `0x${string}`,
            fromBlock: 0n,
          });
          if (tx === p.executionTxHash) live.executedOnChain.push(p.safeTxHash);
        }
      }
      live.chainVerify = (await verifyAudit(parseAuditLog(readFileSync(r.auditPath, 'utf8')), { client })).ok;
    },
  );
  writeFileSync(join(dir, 'report.html'), renderDemoReport(result));
}, 240_000);

describe('the demo (a short stretch)', () => {
  it('posts proposals to the hub, counts the votes, and executes on chain exactly the voted transactions', () => {
    expect(result.aborted).toBe(false);
    expect(result.weeks).toHaveLength(4);
    expect(result.proposals.length).toBeGreaterThanOrEqual(3);
    expect(live.hubProposals).toBe(result.proposals.length);
    expect(live.planned.every((p) => p === 'same')).toBe(true);
    // Five of the six members vote on every proposal (Fay never votes).
    expect(live.votesCounted.every((n) => n === 5)).toBe(true);
    for (const p of result.proposals)
      expect(p.votes.map((v) => v.member).sort()).toEqual(['Ada', 'Ben', 'Cy', 'Dee', 'Eve']);
    const executed = result.proposals.filter((p) => p.state === 'executed');
    expect(executed.length).toBeGreaterThanOrEqual(1);
    expect(live.executedOnChain).toEqual(executed.map((p) => p.safeTxHash));
    expect(live.chainVerify).toBe(true);
    expect(lines.some((l) => /proposal posted: .* — id 0x/.test(l))).toBe(true);
    expect(lines.some((l) => /vote {3}Ada votes For/.test(l))).toBe(true);
    // Each week's market line: prices in display units (cents under $100, whole dollars above, thousands grouped).
    const market = lines.filter((l) => / market {2}/.test(l));
    expect(market.length).toBeGreaterThanOrEqual(3);
    for (const line of market)
      expect(line).toMatch(
        /^2022-\d\d-\d\d market {2}GOV \$\d{1,2}\.\d\d · WETH \$\d,\d{3} · WBTC \$\d\d,\d{3}( \(ETH [+-]\d+\.\d% w\/w\))?$/,
      );
  });

  it('writes an audit log that verifies after every process has stopped', async () => {
    expect(existsSync(result.auditPath)).toBe(true);
    const verification = await verifyAudit(parseAuditLog(readFileSync(result.auditPath, 'utf8')));
    expect(verification.chain.ok).toBe(true);
    expect(verification.executed.length).toBe(result.proposals.filter((p) => p.state === 'executed').length);
  });

  it('renders a report with charts and the proposals in headless Chromium', async () => {
    expect(existsSync(CHROMIUM), `Debian's chromium is expected at ${CHROMIUM} (.ci/run installs it)`).toBe(
      true,
    );
    const browser = await chromium.launch({
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
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await page.goto(`file://${join(dir, 'report.html')}`);
      expect(await page.title()).toMatch(/DAO treasury agent — demo 2022-03-/);
      const charts = page.locator('figure svg');
      expect(await charts.count()).toBeGreaterThanOrEqual(4);
      const box = await charts.first().boundingBox();
      expect(box!.width).toBeGreaterThan(500);
      expect(await page.locator('figure svg path').count()).toBeGreaterThanOrEqual(4);
      // the value axis: round ticks in display units ($15.5M), never $15,533,167
      const ticks = (await charts.first().locator('text[text-anchor="end"]').allTextContents()).filter(
        (t) => !/^\d{4}-\d\d-\d\d$/.test(t), // the last date of the time axis is end-anchored too
      );
      expect(ticks.length).toBeGreaterThanOrEqual(3);
      for (const tick of ticks) expect(tick).toMatch(/^\$\d+(\.\d{1,2})?[kM]$/);
      expect(await page.locator('article.proposal').count()).toBe(result.proposals.length);
      const executed = result.proposals.find((p) => p.executionTxHash)!;
      expect(await page.locator('article.proposal.executed').first().textContent()).toContain(
        executed.executionTxHash!,
      );
      await page.screenshot({ path: join(dir, 'report.png'), fullPage: false });
    } finally {
      await browser.close();
    }
  });
});

afterAll(() => {
  process.stdout.write(`demo test output in ${dir}\n`);
});
