import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL server for tests: Debian's server binaries (.ci/ensure-postgresql.sh installs them),
 * `initdb` in a temp dir with a random password (scram-sha-256, so clients really authenticate), `pg_ctl start`
 * on a free loopback port, waiting until it accepts connections. As root (initdb refuses root) the server runs as
 * the `postgres` user through `runuser`. `stop()` stops it and removes the directory.
 */
export type PostgresServer = {
  /** postgres://postgres@127.0.0.1:PORT/postgres — no password: it is in `password` (give it as PGPASSWORD). */
  url: string;
  password: string;
  port: number;
  stop: () => Promise<void>;
};

function binDir(): string {
  const configured = process.env.TREASURY_PG_BIN;
  if (configured) return configured;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      "PostgreSQL's server binaries are missing: run bash .ci/ensure-postgresql.sh (sudo apt-get install postgresql) or set TREASURY_PG_BIN",
    );
  }
  return join(root, versions[0]!, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'treasury-pg-'));
  const data = join(dir, 'data');
  const password = randomBytes(18).toString('base64url');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`);
  if (asRoot) {
    const ids = await run('id', ['-u', 'postgres']).catch(() => {
      throw new Error(
        'running as root, and there is no postgres user to run the test server as (initdb refuses root)',
      );
    });
    const gid = await run('id', ['-g', 'postgres']);
    const uid = Number(ids.stdout.trim());
    chownSync(dir, uid, Number(gid.stdout.trim()));
    chownSync(pwfile, uid, Number(gid.stdout.trim()));
  }
  chmodSync(dir, 0o700);
  const as = (command: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args);
  await as(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'scram-sha-256',
    `--pwfile=${pwfile}`,
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  // Another process may take the free port between the check and the start: try again on a new one.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=300`;
    try {
      // -w waits until the server accepts connections; -t 600 only bounds a start that never happens.
      await as(join(bin, 'pg_ctl'), [
        '-D',
        data,
        '-o',
        options,
        '-l',
        join(dir, 'log'),
        '-w',
        '-t',
        '600',
        'start',
      ]);
    } catch (error) {
      const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '';
      if (attempt < 5 && /could not bind|already in use/i.test(log)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pg_ctl start failed: ${(error as Error).message}\n${log}`);
    }
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      password,
      port,
      stop: async () => {
        await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', '-t', '600', 'stop']).catch(
          () => {},
        );
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** A fresh schema name for one test (the ledger creates it). */
export function schemaName(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}
