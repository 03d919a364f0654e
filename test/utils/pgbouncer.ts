import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, chmodSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface PgBouncerOptions {
  /** The Postgres server PgBouncer pools for (host, port and user of this URL; any database). */
  target: string;
  /** Server connections per database/user pair (default 3: small, to force connection sharing). */
  poolSize?: number;
  /** pool_mode (default transaction, the mode the hub is documented to support). */
  poolMode?: 'transaction' | 'session' | 'statement';
}

export interface PgBouncer {
  readonly port: number;
  /** Where PgBouncer logs (stderr captured to a file in TMPDIR); read it when a test fails. */
  readonly logFile: string;
  /** `target` with its host and port swapped for PgBouncer's: the same database and user, pooled. */
  readonly url: string;
  /** The log so far. */
  log(): string;
  /** Fast shutdown (SIGTERM: server connections closed at once), and the temp files removed. */
  stop(): Promise<void>;
}

/**
 * Starts a private PgBouncer (Debian's pgbouncer binary; CI installs it) on a free loopback
 * port in front of `target`: trust auth from an auth_file naming the target's user, no unix
 * socket, every database forwarded (`* =`), in transaction pooling mode unless told otherwise.
 * It runs in the foreground as a child of the test, so it never outlives the run.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const target = new URL(options.target);
  const user = decodeURIComponent(target.username || 'postgres');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgbouncer-'));
  // PgBouncer refuses to run as root: it switches to `user` (below), which must read this dir.
  chmodSync(dir, 0o755);
  const logFile = path.join(dir, 'pgbouncer.log');
  writeFileSync(path.join(dir, 'users.txt'), `"${user.replace(/"/g, '""')}" ""\n`, { mode: 0o644 });

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const ini = path.join(dir, 'pgbouncer.ini');
    writeFileSync(ini, iniFile({ target, port, user, dir, poolSize: options.poolSize ?? 3, poolMode: options.poolMode ?? 'transaction' }), { mode: 0o644 });
    const out = openSync(logFile, 'a');
    const child = spawn(pgbouncerBinary(), [ini], { stdio: ['ignore', out, out] });
    closeSync(out);
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    try {
      await waitUntilListening(child, port, logFile, () => spawnError);
    } catch (err) {
      lastError = err;
      if (spawnError) break; // no binary: another port will not help
      await stopChild(child);
      continue; // most likely the port was taken between freePort() and bind: try another
    }
    const url = new URL(target.toString());
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return {
      port,
      logFile,
      url: url.toString(),
      log: () => readFileSync(logFile, 'utf8'),
      stop: async () => {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/** PGBOUNCER_BIN, else Debian's path (/usr/sbin is not on every user's PATH), else PATH. */
function pgbouncerBinary(): string {
  if (process.env.PGBOUNCER_BIN) return process.env.PGBOUNCER_BIN;
  return existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : 'pgbouncer';
}

function iniFile(o: { target: URL; port: number; user: string; dir: string; poolSize: number; poolMode: string }): string {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return [
    '[databases]',
    `* = host=${o.target.hostname} port=${o.target.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${o.port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${path.join(o.dir, 'users.txt')}`,
    `admin_users = ${o.user}`,
    `pool_mode = ${o.poolMode}`,
    `default_pool_size = ${o.poolSize}`,
    'max_client_conn = 2000',
    // Clients queue for a server connection rather than fail: a slow test machine must not
    // turn a wait into an error (the production advice is in docs/operations.md).
    'query_wait_timeout = 120',
    // stderr, captured by the parent into logFile (a logfile would be opened after the
    // switch to `user`, which cannot write in the caller's TMPDIR).
    'logfile =',
    'pidfile =',
    ...(asRoot ? ['user = postgres'] : []),
    '',
  ].join('\n');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilListening(child: ChildProcess, port: number, logFile: string, spawnError: () => Error | undefined): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const err = spawnError();
    if (err) throw new Error(`cannot run pgbouncer (${err.message}): install it (apt-get install pgbouncer) or set PGBOUNCER_BIN`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pgbouncer exited at start (${child.exitCode ?? child.signalCode}): ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`pgbouncer did not listen on ${port} within 10 s: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
