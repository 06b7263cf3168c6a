import { existsSync, statSync } from 'node:fs';
import { loadDaos } from '../console/daoSources.ts';
import { DEFAULT_PRICES } from './backtestCommand.ts';
import { type Command, integerOption, stringOption, UsageError } from './command.ts';
import { createCommandLogger } from './logger.ts';

export const DEFAULT_CONSOLE_PORT = 8080;

export const consoleCommand: Command = {
  name: ['console'],
  summary:
    'a read-only web console: proposals, votes, the voted Safe transaction, executions, the audit log, backtests',
  options: {
    config: {
      type: 'string',
      valueName: 'FILE',
      description: 'one DAO, live: its ledger, audit log, hub and chain',
    },
    configs: {
      type: 'string',
      valueName: 'DIR',
      description: 'every YAML/JSON config in the folder, one DAO each (a broken one shows its error)',
    },
    'audit-log': {
      type: 'string',
      valueName: 'FILE',
      description: 'a finished run, offline: everything from the log alone (e.g. out/audit.jsonl)',
    },
    port: {
      type: 'string',
      valueName: 'N',
      description: `port (default: ${DEFAULT_CONSOLE_PORT}; 0: any free port)`,
    },
    host: { type: 'string', valueName: 'ADDR', description: 'address to listen on (default: 127.0.0.1)' },
    prices: {
      type: 'string',
      valueName: 'FILE',
      description: 'daily prices CSV for the backtests (default: data/prices_daily.csv)',
    },
  },
  help: [
    'examples:',
    '  treasury console --audit-log out/audit.jsonl          # the demo, after npm run demo',
    '  treasury console --config config/examples/devnet.yaml --port 0',
    '  treasury console --configs daos/',
    '',
    'Read-only: every route is a GET that reads the files, the hub and the chain; nothing is signed or sent.',
    'The console never reads a key from the environment; RPC URLs are never shown (their credentials are',
    'hidden from every page).',
  ],
  async run(args, io) {
    const config = stringOption(args, 'config');
    const configs = stringOption(args, 'configs');
    const auditLog = stringOption(args, 'audit-log');
    if (!config && !configs && !auditLog) {
      throw new UsageError('which DAO? pass --config FILE, --configs DIR or --audit-log FILE', {
        hint: 'run: treasury console --help',
      });
    }
    if (configs && !(existsSync(configs) && statSync(configs).isDirectory())) {
      throw new UsageError(`--configs ${configs} is not a folder`);
    }
    if (auditLog && !existsSync(auditLog)) {
      throw new UsageError(`--audit-log ${auditLog} does not exist`, {
        hint: 'run npm run demo first, or pass the log of a finished run',
      });
    }
    const port = integerOption(args, 'port', { min: 0, max: 65_535 }) ?? DEFAULT_CONSOLE_PORT;
    const daos = await loadDaos({ config, configs, auditLog });
    // Loaded lazily, like every command: the web stack is only imported when the console runs.
    const { startConsole } = await import('../console/consoleApp.tsx');
    const log = await createCommandLogger(io, 'console');
    const running = await startConsole({
      daos,
      port,
      host: stringOption(args, 'host'),
      pricesPath: stringOption(args, 'prices') ?? DEFAULT_PRICES,
      onRequest: (r) => log.info(r, `${r.method} ${r.path} ${r.status} ${r.ms}ms`),
    });
    try {
      for (const dao of daos) {
        if (dao.mode === 'broken')
          log.warn({ dao: dao.id, origin: dao.origin }, `✖ ${dao.origin}: ${dao.error.split('\n')[0]}`);
        else
          log.info(
            { dao: dao.id, mode: dao.mode, url: `${running.url}/dao/${dao.id}` },
            `${dao.name} (${dao.mode}) → ${running.url}/dao/${dao.id}`,
          );
      }
      log.info(
        { url: running.url, daos: daos.length },
        `console is up at ${running.url} (read-only); Ctrl-C (SIGINT) or SIGTERM stops it`,
      );
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      return 0;
    } finally {
      await running.stop();
      log.info('console stopped');
    }
  },
};
