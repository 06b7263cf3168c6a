import { formatCheck, runPreflight } from '../agent/preflight.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { type Command, stringOption, UsageError } from './command.ts';

export const preflightCommand: Command = {
  name: ['preflight'],
  summary:
    'check a config against the chain, the Snapshot space, the Transaction Service and the LLM: one ✔/✖ line each',
  options: {
    config: { type: 'string', valueName: 'FILE', description: 'the agent config (YAML or JSON)' },
  },
  help: [
    "Checks the Safe's owners and threshold, the agent an owner below threshold, modules and guard, every feed",
    '(fresh, 8 decimals), the router and pools (present, deep enough for guardrails.minTradeUsd), PolicySwapper, the',
    "Snapshot space's settings (network, basic voting, delay, period, quorum, strategy, who may propose, the agent",
    'a member), the Transaction Service and the LLM endpoint when configured. Reads only; nothing is sent.',
    'Keys come from the environment (TREASURY_AGENT_KEY, TREASURY_SAFE_API_KEY, TREASURY_SNAPSHOT_API_KEY, the',
    "LLM's); they are never printed. Exit code 1 when any check fails.",
  ],
  async run(args, io) {
    const path = stringOption(args, 'config');
    if (!path)
      throw new UsageError('--config FILE is required', {
        hint: 'e.g. treasury preflight --config my-dao.yaml',
      });
    const config = await loadConfig(path);
    io.out(
      `preflight of ${path}: chain ${config.chain.id}, Safe ${config.safe.address ?? '—'}, space ${config.governance.space}`,
    );
    const checks = await runPreflight({ config, env: process.env });
    for (const check of checks) io.out(formatCheck(check));
    const failed = checks.filter((c) => !c.ok).length;
    if (failed === 0) {
      io.out(`all ${checks.length} checks passed`);
      return 0;
    }
    io.err(
      `✖ ${failed} of ${checks.length} checks failed: fix each line marked ✖, then run treasury preflight again`,
    );
    return 1;
  },
};
