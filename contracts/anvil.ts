import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { ProcessError } from '../shared/errors.ts';

/** anvil's well-known development mnemonic: public test keys, valid only on a local chain. */
export const ANVIL_TEST_MNEMONIC = 'test test test test test test test test test test test junk';
export const DEVNET_CHAIN_ID = 31337;

export type AnvilOptions = {
  /** TCP port on 127.0.0.1; a free one is picked when absent. */
  port?: number;
  chainId?: number;
  /** Number of funded development accounts. */
  accounts?: number;
  /** Start from a state file written by `dumpStatePath` (fixture reuse). */
  loadStatePath?: string;
  /** Write the chain state to this file when anvil exits. */
  dumpStatePath?: string;
  /** Start the chain at this unix time (seconds). */
  startTimestamp?: number;
  /** Give up if anvil does not answer within this many ms (default 60 s: a loaded machine starts it late). */
  startTimeoutMs?: number;
};

export type AnvilInstance = {
  rpcUrl: string;
  port: number;
  chainId: number;
  process: ChildProcess;
  /** Stops anvil (SIGTERM, then SIGKILL after 3 s); resolves when it has exited. Safe to call twice. */
  stop: () => Promise<void>;
};

const BINARY_PACKAGES: Record<string, string> = {
  'linux-x64': '@foundry-rs/anvil-linux-amd64',
  'linux-arm64': '@foundry-rs/anvil-linux-arm64',
  'darwin-x64': '@foundry-rs/anvil-darwin-amd64',
  'darwin-arm64': '@foundry-rs/anvil-darwin-arm64',
  'win32-x64': '@foundry-rs/anvil-win32-amd64',
};

/** Path of the anvil binary shipped by the npm package `@foundry-rs/anvil` (its platform optional dependency). */
export function resolveAnvilBinary(): string {
  const override = process.env.TREASURY_ANVIL_BIN;
  if (override) {
    if (!existsSync(override)) {
      throw new ProcessError(`TREASURY_ANVIL_BIN points at ${override}, which does not exist`, {
        hint: 'unset TREASURY_ANVIL_BIN to use the anvil from node_modules',
      });
    }
    return override;
  }
  const key = `${process.platform}-${process.arch}`;
  const pkg = BINARY_PACKAGES[key];
  if (!pkg)
    throw new ProcessError(`anvil has no npm binary for ${key}`, {
      hint: 'set TREASURY_ANVIL_BIN to an anvil binary',
    });
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    path = require.resolve(`${pkg}/bin/anvil${process.platform === 'win32' ? '.exe' : ''}`);
  } catch (error) {
    throw new ProcessError(`the anvil binary is missing (npm package ${pkg} is not installed)`, {
      cause: error,
      hint: 'run `npm ci` (with optional dependencies: no --omit=optional)',
    });
  }
  return path;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Throws a clear error when `port` on 127.0.0.1 is taken. */
export async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new ProcessError(
          `port ${port} is already in use${error.code === 'EADDRINUSE' ? '' : ` (${error.code})`}`,
          {
            cause: error,
            hint: `stop whatever listens on ${port}, or pass another --port`,
          },
        ),
      );
    });
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

async function rpcChainId(rpcUrl: string, signal: AbortSignal): Promise<number | undefined> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal,
    });
    const body = (await response.json()) as { result?: string };
    return body.result ? Number.parseInt(body.result, 16) : undefined;
  } catch {
    return undefined;
  }
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killAllOnExit() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Whatever happens to this process, no anvil is left behind.
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** Starts anvil and waits until it answers `eth_chainId`. Nothing is left running if it fails to start. */
export async function startAnvil(options: AnvilOptions = {}): Promise<AnvilInstance> {
  const binary = resolveAnvilBinary();
  const chainId = options.chainId ?? DEVNET_CHAIN_ID;
  let port: number;
  if (options.port !== undefined) {
    await assertPortFree(options.port);
    port = options.port;
  } else {
    port = await findFreePort();
  }
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--chain-id',
    String(chainId),
    '--accounts',
    String(options.accounts ?? 12),
    '--mnemonic',
    ANVIL_TEST_MNEMONIC,
    '--silent',
  ];
  if (options.loadStatePath) args.push('--load-state', options.loadStatePath);
  if (options.dumpStatePath) args.push('--dump-state', options.dumpStatePath);
  if (options.startTimestamp !== undefined) args.push('--timestamp', String(options.startTimestamp));

  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  killAllOnExit();
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      resolve();
    });
    child.once('error', () => {
      exited = true;
      running.delete(child);
      resolve();
    });
  });
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exitPromise;
    clearTimeout(timer);
  };

  const rpcUrl = `http://127.0.0.1:${port}`;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + startTimeoutMs;
  // Each attempt may take longer than the last: on a busy machine anvil answers its first request late.
  let attemptMs = 500;
  while (Date.now() < deadline) {
    if (exited) {
      throw new ProcessError(
        `anvil exited during start-up: ${stderr.trim().split('\n').pop() ?? 'no message'}`,
        {
          hint: 'check the port and the state file, or run the anvil binary by hand to see why',
        },
      );
    }
    const answered = await rpcChainId(rpcUrl, AbortSignal.timeout(attemptMs));
    if (answered === chainId) return { rpcUrl, port, chainId, process: child, stop };
    attemptMs = Math.min(attemptMs * 2, 5_000);
    await new Promise((r) => setTimeout(r, 25));
  }
  await stop();
  throw new ProcessError(`anvil did not answer on ${rpcUrl} within ${startTimeoutMs} ms`, {
    hint: 'the machine may be overloaded; try again, or pass another --port',
  });
}
