import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteLedger } from '../agent/ledger.ts';
import { type LocalStack, startLocalStack } from '../agent/localStack.ts';
import { DEFAULT_DEVNET_CONFIG, devnetAgentConfig } from '../cli/devnetCommand.ts';
import { configToYaml } from '../config/configYaml.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { STAKES } from './support/localStack.ts';
import { untilReady } from './support/processes.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'treasury.js');

type LogLine = Record<string, unknown> & { msg: string; level: number };

/**
 * `treasury run` as a process, with the agent's keys in its environment: stdout is not a terminal, so it logs
 * JSON lines, exactly one per cycle (its events inside), and never a key.
 */
describe('treasury run logs one line per cycle', { timeout: 600_000 }, () => {
  let stack: LocalStack;
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cli-run-'));
    const base = await loadConfig(DEFAULT_DEVNET_CONFIG);
    stack = await startLocalStack({
      config: {
        ...base,
        mode: 'live',
        // every second: cycles follow one another (no overlap), so the test waits for lines, not for a time
        schedule: { cron: '* * * * * *', timezone: 'UTC' },
        state: { ledgerPath: join(dir, 'ledger.db'), auditLogPath: join(dir, 'audit.jsonl') },
      },
      memberStakes: STAKES,
      hubDbPath: join(dir, 'hub.db'),
    });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await stack?.stop();
  });

  it('proposed, then waiting on the open vote, with the proposal id, the space and the duration', async () => {
    const configPath = join(dir, 'agent.yaml');
    writeFileSync(configPath, configToYaml(devnetAgentConfig(stack.config)));
    const openaiKey = 'sk-proj-run-log-test-key-never-shown';
    child = spawn(process.execPath, [CLI, 'run', '--config', configPath], {
      env: { ...process.env, ...stack.env, OPENAI_API_KEY: openaiKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const lines = () =>
      stdout
        .slice(0, stdout.lastIndexOf('\n') + 1) // complete lines only
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as LogLine);
    const cycles = () => lines().filter((l) => 'outcome' in l);
    await untilReady(
      () => cycles().length >= 2,
      { exited, output: () => stdout + stderr },
      'two cycles of treasury run',
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const ledger = SqliteLedger.open(stack.config.state.ledgerPath);
    const proposalId = (await ledger.all())[0]?.proposalId;
    await ledger.close();
    expect(proposalId).toMatch(/^0x[0-9a-f]{64}$/);

    const all = lines();
    const space = stack.config.governance.space;
    // the start, one line per cycle, the stop: nothing else on stdout
    expect(all[0]).toMatchObject({ command: 'run', space, cron: '* * * * * *', mode: 'live' });
    expect(all[0]!.msg).toMatch(/running on "\* \* \* \* \* \*" \(UTC\), mode live; next cycle 20\d\d-/);
    expect(all.at(-1)).toMatchObject({ command: 'run', msg: `${space}: stopped; ledger closed` });
    expect(all.slice(1, -1).every((l) => 'outcome' in l)).toBe(true);
    // stderr: only the ticks skipped while a cycle ran (every second here), as JSON warnings
    for (const line of stderr.split('\n').filter((l) => l.length > 0))
      expect(JSON.parse(line)).toMatchObject({
        level: 40,
        command: 'run',
        msg: expect.stringContaining('tick skipped'),
      });

    const [first, second] = cycles();
    expect(first).toMatchObject({
      level: 30,
      command: 'run',
      space,
      safe: stack.config.safe.address,
      outcome: 'proposed',
      proposalId,
    });
    expect(first!.msg).toMatch(
      new RegExp(`^${space.replaceAll('.', '\\.')}: proposed ${proposalId} \\(\\d+ ms\\)$`),
    );
    expect(typeof first!.ms).toBe('number');
    expect(first!.events).toEqual(expect.arrayContaining([expect.stringMatching(/^proposal posted: /)]));
    expect(second).toMatchObject({ outcome: 'waiting', proposalId, detail: 'the vote is open' });

    for (const secret of [...Object.values(stack.env).flatMap((v) => v.split(',')), openaiKey])
      for (const form of [secret, secret.replace(/^0x/, '')]) expect(stdout + stderr).not.toContain(form);
  });
});
