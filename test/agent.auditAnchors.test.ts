import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuditRecord,
  canonicalJson,
  GENESIS_HASH,
  parseAuditLog,
  recordHash,
} from '../agent/auditLog.ts';
import { verifyAudit } from '../agent/auditTools.ts';
import { runCycle } from '../agent/cycle.ts';
import { applyMarketDay } from '../agent/demo/market.ts';
import { buildRuntime } from '../agent/runtime.ts';
import { main } from '../cli/cli.ts';
import { type CycleStack, startCycleStack } from './support/localStack.ts';

/**
 * A truncated or forged audit log (issue 11): the file is compared with the ledger's mirror, the audit heads
 * the hub keeps in the agent's proposals, and the decisions PolicySwapper executed on chain.
 */

let s: CycleStack;
let configPath: string;
let original: string;

async function cli(argv: string[]) {
  const lines: string[] = [];
  const code = await main(argv, {
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
    signal: new AbortController().signal,
  });
  return { code, out: lines.join('\n') };
}

/** A self-consistent chain with the same kinds and times but rewritten content: every hash recomputed. */
function forgedChain(records: AuditRecord[], edit: (data: unknown, r: AuditRecord) => unknown): string {
  let prevHash = GENESIS_HASH;
  const out: AuditRecord[] = [];
  for (const r of records) {
    const body = { seq: r.seq, id: r.id, at: r.at, kind: r.kind, data: edit(r.data, r), prevHash };
    const forged = { ...body, data: JSON.parse(canonicalJson(body.data)), hash: '' } as AuditRecord;
    forged.hash = recordHash(forged);
    prevHash = forged.hash;
    out.push(forged);
  }
  return `${out.map((r) => canonicalJson(r)).join('\n')}\n`;
}

beforeAll(async () => {
  s = await startCycleStack();
  // Two proposals: the first executes, the second is drafted on top of it (its plugin anchors a longer log).
  await runCycle(s.runtime);
  const [row] = await s.runtime.ledger.all();
  await s.advance(60);
  await s.vote(0, row!.proposalId!, 1);
  await s.vote(1, row!.proposalId!, 1);
  const g = s.runtime.config.governance;
  await s.advance(g.votingPeriodSeconds + g.executionDelaySeconds + 120);
  await runCycle(s.runtime);
  expect((await s.runtime.ledger.get(row!.key))!.state).toBe('executed');
  await s.advance(7 * 86_400);
  // arbitrage brings the pools the execution moved back to the feeds' prices
  await applyMarketDay(
    s.stack,
    Object.fromEntries(
      Object.values(s.stack.devnet.deployment.tokens).map((t) => [t.symbol, t.startPriceUsd]),
    ),
  );
  const next = await runCycle(s.runtime);
  expect(await s.runtime.ledger.all(), next.events.join('\n')).toHaveLength(2);
  configPath = join(s.dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(s.runtime.config, null, 1));
  original = readFileSync(s.runtime.config.state.auditLogPath, 'utf8');
}, 240_000);

afterAll(async () => {
  await s?.stop();
});

describe('audit verify against the anchors', () => {
  it('the log as written verifies against the ledger, the hub and the chain', async () => {
    const result = await cli(['audit', 'verify', '--config', configPath]);
    expect(result.code, result.out).toBe(0);
    expect(result.out).toContain("✔ the ledger's mirror agrees");
    expect(result.out).toMatch(/✔ 2 audit heads anchored in the agent's proposals on the hub/);
    expect(result.out).toMatch(/✔ 1 decisions executed on chain, each in the log/);
    expect(result.out).toMatch(/✔ 2 decisions replay to their decision hash/);
  });

  it('deleting the last records is caught by the ledger, and without the ledger by the hub and the chain', async () => {
    const path = s.runtime.config.state.auditLogPath;
    const lines = original.trim().split('\n');
    // cut back to before the execution: the executed record and everything after it are gone
    const executedAt = lines.findIndex((l) => l.includes('"kind":"executed"'));
    writeFileSync(path, `${lines.slice(0, executedAt).join('\n')}\n`);
    try {
      const result = await cli(['audit', 'verify', '--config', configPath]);
      expect(result.code).toBe(1);
      expect(result.out).toMatch(/hash chain intact/); // what is left is a valid chain…
      expect(result.out).toMatch(/✖ the file has \d+ records but the ledger mirrors \d+/);
      expect(result.out).toMatch(/✖ proposal 0x[0-9a-f]+ was drafted when the log had \d+ records/);
      expect(result.out).toMatch(
        /✖ PolicySwapper executed decision 0x[0-9a-f]{64} .* the log has no executed record/,
      );
      // without the ledger, the hub and the chain still catch it
      const records = parseAuditLog(readFileSync(path, 'utf8'));
      const proposals = await s.runtime.governance.listProposals(s.runtime.config.governance.space, {
        state: 'all',
      });
      const outside = await verifyAudit(records, {
        client: s.runtime.client,
        hub: { proposals, agent: s.runtime.config.safe.agent },
        anchors: {
          swapper: s.runtime.config.execution.policySwapper!,
          safe: s.runtime.config.safe.address!,
          fromBlock: 0n,
        },
      });
      expect(outside.chain.ok).toBe(true);
      expect(outside.ok).toBe(false);
      // and the agent refuses to start on it
      await expect(
        buildRuntime({
          config: s.runtime.config,
          env: s.stack.env,
          contractNetworks: s.stack.contractNetworks,
        }),
      ).rejects.toThrow(
        /disagrees with the ledger's mirror: the file has \d+ records but the ledger mirrors/,
      );
    } finally {
      writeFileSync(path, original);
    }
  });

  it('a replaced, self-consistent chain is caught by the ledger and by the audit heads on the hub', async () => {
    const path = s.runtime.config.state.auditLogPath;
    const records = parseAuditLog(original);
    // the forger rewrites history: the first decision was "shadow", nothing was proposed by the model
    writeFileSync(
      path,
      forgedChain(records, (data, r) =>
        r.kind === 'decision' ? { ...(data as object), writer: 'a steward by hand' } : data,
      ),
    );
    try {
      const result = await cli(['audit', 'verify', '--config', configPath]);
      expect(result.code).toBe(1);
      expect(result.out).toMatch(/hash chain intact/);
      expect(result.out).toMatch(/✖ \d+ record\(s\) differ from the ledger's copy/);
      expect(result.out).toMatch(
        /✖ proposal 0x[0-9a-f]+ anchors record \d+ as 0x[0-9a-f]{64}; the file's record differs/,
      );
    } finally {
      writeFileSync(path, original);
    }
  });

  it('a decision whose inputs were edited (and re-hashed) no longer replays to its decision hash', async () => {
    const records = parseAuditLog(original);
    const forged = parseAuditLog(
      forgedChain(records, (data, r) => {
        if (r.kind !== 'decision') return data;
        const d = data as { inputs: { monthlySpendUsd: number } };
        return { ...d, inputs: { ...d.inputs, monthlySpendUsd: d.inputs.monthlySpendUsd * 2 } };
      }),
    );
    const result = await verifyAudit(forged);
    expect(result.chain.ok).toBe(true);
    expect(result.decisions.problems[0]).toMatch(
      /its inputs give decision hash 0x[0-9a-f]{64}, not the logged one/,
    );
    expect(result.ok).toBe(false);
  });
});
