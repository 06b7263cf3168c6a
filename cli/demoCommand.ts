import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderDemoReport } from '../agent/demo/report.ts';
import { runDemo } from '../agent/demo/runDemo.ts';
import { summaryLines } from '../agent/demo/summary.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { type Command, stringOption } from './command.ts';
import { DEFAULT_DEVNET_CONFIG } from './devnetCommand.ts';

export const demoCommand: Command = {
  name: ['demo'],
  summary:
    'the whole product offline: local chain + hub + DAO members, a year of real prices at accelerated time',
  options: {
    config: {
      type: 'string',
      valueName: 'FILE',
      description: 'config (default: config/examples/devnet.yaml)',
    },
    from: { type: 'string', valueName: 'DATE', description: 'first replayed day (default 2022-01-03)' },
    to: { type: 'string', valueName: 'DATE', description: 'last replayed day (default 2022-12-26)' },
    out: {
      type: 'string',
      valueName: 'DIR',
      description: 'where report.html and audit.jsonl go (default out/)',
    },
  },
  help: [
    'No network, no keys: anvil development keys sign; every process started is stopped at the end or on Ctrl-C.',
  ],
  async run(args, io) {
    const config = await loadConfig(stringOption(args, 'config') ?? DEFAULT_DEVNET_CONFIG);
    const outDir = stringOption(args, 'out') ?? 'out';
    const result = await runDemo({
      config,
      from: stringOption(args, 'from') ?? '2022-01-03',
      to: stringOption(args, 'to') ?? '2022-12-26',
      outDir,
      log: io.out,
      signal: io.signal,
    });
    const reportPath = join(outDir, 'report.html');
    await writeFile(reportPath, renderDemoReport(result));
    io.out('');
    for (const line of summaryLines(result)) io.out(line);
    io.out(`report: ${reportPath}`);
    io.out(`audit log: ${result.auditPath} (check it: treasury audit verify --log ${result.auditPath})`);
    return result.aborted ? 130 : 0;
  },
};
