import { type Address, type Chain, formatUnits, getAddress, type PublicClient, type Transport } from 'viem';
import type { TreasuryAgentConfig } from '../config/schema.ts';
import { readOutflows, readSafeConfiguration, type TokenOutflow } from '../contracts/treasuryReads.ts';
import { redactUrl } from '../shared/errors.ts';
import type { AuditLog } from './auditLog.ts';
import { decide } from './decide.ts';
import type { Ledger } from './ledger.ts';

/**
 * The treasury watchdog (issue 14): each cycle, and `treasury watch` at a faster cadence, it reads who can move
 * the Safe's funds (owners, threshold, modules, guard, fallback handler) and every token transfer out of the
 * Safe, and compares them with what the agent knows: the config, its executed proposals (their transactions,
 * or PolicySwapper's event for one of its decisions) and the configured allowances. Anything it cannot explain
 * is an audit record, a pause, and an alert (printed, and POSTed to watchdog.webhookUrl). The pause stops the
 * agent from proposing or executing until a steward has looked (`treasury resume`).
 */

export type WatchdogDeps = {
  config: TreasuryAgentConfig;
  client: PublicClient<Transport, Chain>;
  ledger: Ledger;
  audit: AuditLog;
  contracts: { swapper: Address };
  /** POSTs an alert; default: fetch to watchdog.webhookUrl. */
  notify?: (url: string, payload: unknown) => Promise<void>;
  log?: (line: string) => void;
};

export type WatchdogReport = { findings: string[]; fromBlock: bigint; toBlock: bigint; alerted: boolean };

const NEXT_BLOCK_KEY = 'watchdogNextBlock';
const CONFIG_FINDINGS_KEY = 'watchdogConfigFindings';
const FALLBACK_BASELINE_KEY = 'watchdogFallbackHandler';
const ZERO = '0x0000000000000000000000000000000000000000';

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.some((y) => getAddress(y) === getAddress(x)));

/** Who can move the funds, against the config (owners, threshold, modules, guard) and the first reading. */
async function configurationFindings(
  deps: WatchdogDeps,
  reading: Awaited<ReturnType<typeof readSafeConfiguration>>,
): Promise<string[]> {
  const { config, ledger } = deps;
  const findings: string[] = [];
  if (!sameSet(reading.owners, config.safe.owners))
    findings.push(
      `the Safe's owners are ${reading.owners.join(', ')}; the config lists ${config.safe.owners.join(', ')}`,
    );
  if (reading.threshold !== config.safe.threshold)
    findings.push(`the Safe's threshold is ${reading.threshold}; the config says ${config.safe.threshold}`);
  const unexpected = reading.modules.filter(
    (m) => !(config.safe.modules ?? []).some((x) => getAddress(x) === m),
  );
  if (unexpected.length)
    findings.push(`module(s) enabled on the Safe that safe.modules does not list: ${unexpected.join(', ')}`);
  const guard = config.safe.guard ?? ZERO;
  if (getAddress(reading.guard) !== getAddress(guard))
    findings.push(
      `the Safe's guard is ${reading.guard}; the config expects ${guard === ZERO ? 'none' : guard}`,
    );
  const expectedHandler =
    config.safe.contracts?.fallbackHandler ?? (await ledger.getState(FALLBACK_BASELINE_KEY));
  if (!expectedHandler) await ledger.setState(FALLBACK_BASELINE_KEY, reading.fallbackHandler);
  else if (getAddress(reading.fallbackHandler) !== getAddress(expectedHandler))
    findings.push(
      `the Safe's fallback handler changed from ${expectedHandler} to ${reading.fallbackHandler}`,
    );
  return findings;
}

/** Transactions the agent can explain: its executions, and any that ran one of its decisions through PolicySwapper. */
async function explainedTransactions(
  deps: WatchdogDeps,
): Promise<{ hashes: Set<string>; decisions: Set<string> }> {
  const hashes = new Set<string>();
  const decisions = new Set<string>();
  for (const row of await deps.ledger.all()) {
    if (row.executionTxHash) hashes.add(row.executionTxHash.toLowerCase());
    const inputs = (row.record as { inputs?: Parameters<typeof decide>[0] }).inputs;
    if (inputs && ['passed', 'executing', 'executed'].includes(row.state)) {
      try {
        decisions.add(decide(inputs).decisionHash.toLowerCase());
      } catch {
        // a row that no longer replays explains nothing
      }
    }
  }
  return { hashes, decisions };
}

async function outflowFindings(
  deps: WatchdogDeps,
  outflows: TokenOutflow[],
  monthKey: string,
): Promise<string[]> {
  const { config, client, ledger } = deps;
  const explained = await explainedTransactions(deps);
  const decisionTxs = new Map<string, boolean>();
  const ranOurDecision = async (hash: string) => {
    if (!decisionTxs.has(hash)) {
      const receipt = await client.getTransactionReceipt({ hash: hash as `0x${string}` });
      const { policySwapsIn } = await import('../contracts/safeExecutor.ts');
      decisionTxs.set(
        hash,
        policySwapsIn(receipt.logs, deps.contracts.swapper, config.safe.address!).some((e) =>
          explained.decisions.has(e.decisionHash.toLowerCase()),
        ),
      );
    }
    return decisionTxs.get(hash)!;
  };
  const decimals = Object.fromEntries(config.tokens.map((t) => [t.symbol, t.decimals]));
  const findings: string[] = [];
  const spent = new Map<string, bigint>();
  for (const out of outflows) {
    const hash = out.transactionHash.toLowerCase();
    if (explained.hashes.has(hash) || (await ranOurDecision(hash))) continue;
    const amount = `${formatUnits(out.amount, decimals[out.symbol] ?? 0)} ${out.symbol}`;
    const allowance = config.watchdog.allowances.find(
      (a) => a.token === out.symbol && getAddress(a.to) === out.to,
    );
    if (!allowance) {
      findings.push(
        `${amount} left the Safe to ${out.to} in ${out.transactionHash}, outside any proposal or allowance`,
      );
      continue;
    }
    const key = `watchdogSpent:${allowance.token}:${allowance.to}:${monthKey}`;
    const before = spent.get(key) ?? BigInt((await ledger.getState(key)) ?? '0');
    const after = before + out.amount;
    spent.set(key, after);
    const cap =
      BigInt(Math.floor(allowance.maxPerMonth * 10 ** Math.min(decimals[out.symbol] ?? 0, 15))) *
      10n ** BigInt(Math.max(0, (decimals[out.symbol] ?? 0) - 15));
    if (after > cap) {
      findings.push(
        `${amount} to ${out.to} (${allowance.label ?? 'allowance'}) in ${out.transactionHash} takes ${monthKey}'s total to ${formatUnits(after, decimals[out.symbol] ?? 0)}, above its ${allowance.maxPerMonth} a month`,
      );
    }
  }
  for (const [key, value] of spent) await ledger.setState(key, value.toString());
  return findings;
}

/** One look at the Safe. `at` is the agent's clock (chain time locally). */
export async function runWatchdog(deps: WatchdogDeps, at: number): Promise<WatchdogReport> {
  const { config, client, ledger } = deps;
  const safe = config.safe.address!;
  const latest = await client.getBlockNumber();
  const stored = await ledger.getState(NEXT_BLOCK_KEY);
  // The first look sets the baseline: outflows are checked from here on.
  const fromBlock = stored ? BigInt(stored) : latest + 1n;
  const reading = await readSafeConfiguration(client, { safe, blockNumber: latest });
  const configFindings = await configurationFindings(deps, reading);
  const tokens = config.tokens.map((t) => ({ symbol: t.symbol, address: t.address!, decimals: t.decimals }));
  const outflows =
    fromBlock <= latest ? await readOutflows(client, { safe, tokens, fromBlock, toBlock: latest }) : [];
  const month = new Date(at * 1000).toISOString().slice(0, 7);
  const flowFindings = await outflowFindings(deps, outflows, month);
  await ledger.setState(NEXT_BLOCK_KEY, (latest + 1n).toString());

  // A configuration finding is reported once until it changes; every unexplained outflow is new by nature.
  const configSignature = JSON.stringify(configFindings);
  const newConfig =
    configFindings.length > 0 && (await ledger.getState(CONFIG_FINDINGS_KEY)) !== configSignature;
  if (configFindings.length === 0) await ledger.clearState(CONFIG_FINDINGS_KEY);
  else await ledger.setState(CONFIG_FINDINGS_KEY, configSignature);
  const fresh = [...(newConfig ? configFindings : []), ...flowFindings];
  const findings = [...configFindings, ...flowFindings];
  // The Safe must stay as the config describes it: while it differs the agent stays paused (alerted once);
  // a steward updates the config or undoes the change, then resumes.
  if (configFindings.length > 0 && !(await ledger.getState('paused')))
    await ledger.setState('paused', `watchdog: ${configFindings[0]} (update the config or undo the change)`);
  if (fresh.length === 0) return { findings, fromBlock, toBlock: latest, alerted: false };

  const reason = `watchdog: ${fresh[0]}${fresh.length > 1 ? ` (and ${fresh.length - 1} more)` : ''}`;
  await deps.audit.append('watchdog', { safe, fromBlock, toBlock: latest, findings: fresh, reading }, at);
  if (!(await ledger.getState('paused'))) await ledger.setState('paused', reason);
  deps.log?.(`ALERT ${reason}`);
  for (const finding of fresh.slice(1)) deps.log?.(`  also: ${finding}`);
  const url = config.watchdog.webhookUrl;
  if (url) {
    const payload = { dao: config.governance.space, safe, chainId: config.chain.id, at, findings: fresh };
    try {
      await (deps.notify ?? postJson)(url, payload);
    } catch (error) {
      deps.log?.(`the alert could not be POSTed to ${redactUrl(url)}: ${(error as Error).message}`);
      await deps.audit.append(
        'watchdog-alert-failed',
        { url: redactUrl(url), reason: (error as Error).message },
        at,
      );
    }
  }
  return { findings, fromBlock, toBlock: latest, alerted: true };
}

async function postJson(url: string, payload: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
}
