import { urlCredentials } from '../agent/secrets.ts';
import { startHub } from '../governance/hub/server.ts';
import { describeError } from '../shared/errors.ts';
import { type Command, integerOption, stringOption, UsageError } from './command.ts';
import { createCommandLogger } from './logger.ts';

export const DEFAULT_HUB_PORT = 3000;

export const hubCommand: Command = {
  name: ['hub'],
  summary: 'run the Snapshot-compatible hub (messages at /, GraphQL at /graphql) until Ctrl-C',
  options: {
    port: { type: 'string', valueName: 'N', description: `port on 127.0.0.1 (default: ${DEFAULT_HUB_PORT})` },
    spaces: { type: 'string', valueName: 'FILE', description: 'spaces file, JSON or YAML (required)' },
    rpc: {
      type: 'string',
      valueName: 'URL',
      description: "JSON-RPC of the spaces' chain (default: http://127.0.0.1:8545)",
    },
    db: { type: 'string', valueName: 'FILE', description: 'SQLite database (default: hub.db)' },
    clock: {
      type: 'string',
      valueName: 'chain|system',
      description: "'chain' (default): now = latest block time of --rpc; 'system': wall clock",
    },
  },
  help: [
    "Point snapshot.js Client712 (and the agent's governance.hubUrl) at the printed URL.",
    'Use 127.0.0.1, not localhost:3000: snapshot.js rewrites http://localhost:3000 to :3001.',
    'Example: treasury hub --spaces governance/hub/examples/spaces.yaml --rpc http://127.0.0.1:8545',
  ],
  async run(args, io) {
    const spaces = stringOption(args, 'spaces');
    if (!spaces) throw new UsageError('--spaces FILE is required', { hint: 'run: treasury hub --help' });
    const clock = stringOption(args, 'clock') ?? 'chain';
    if (clock !== 'chain' && clock !== 'system') {
      throw new UsageError(`--clock must be chain or system, got "${clock}"`);
    }
    const rpcUrl = stringOption(args, 'rpc') ?? 'http://127.0.0.1:8545';
    io.addSecrets?.(urlCredentials(rpcUrl));
    const log = await createCommandLogger(io, 'hub');
    const hub = await startHub({
      port: integerOption(args, 'port', { min: 1, max: 65_535 }) ?? DEFAULT_HUB_PORT,
      spaces,
      rpcUrl,
      dbPath: stringOption(args, 'db') ?? 'hub.db',
      clock,
      onError: (error) => log.error({ error: describeError(error) }, `hub: ${describeError(error)}`),
      // One line per request: method, path, status, ms (no body, no signature).
      onRequest: (r) => log.info(r, `${r.method} ${r.path} ${r.status} ${r.ms}ms`),
    });
    try {
      log.info(
        { url: hub.url, graphql: hub.graphqlUrl },
        `hub is up at ${hub.url} (GraphQL ${hub.graphqlUrl}); Ctrl-C (SIGINT) or SIGTERM stops it`,
      );
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      return 0;
    } finally {
      await hub.stop();
      log.info('hub stopped');
    }
  },
};
