// npm run fuzz [-- --cases 10000] [-- --seed 1234]
// The full fuzz run (the suite runs a sample of it): every procedure of a real service process, with the
// embedded PostgreSQL in a throwaway DATA_DIR. Prints the seed first, so any failure can be replayed, and exits 1
// if any case broke a rule (a 5xx, a 400 that names nothing, a rejected mutation that wrote).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createFuzzFixtures } from '../test/fuzz/fixtures.ts';
import { FINGERPRINT_SQL, fuzz, PROCEDURES } from '../test/fuzz/fuzzer.ts';
import { createClient } from '../test/helpers/client.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { runTs } from '../test/helpers/run-process.ts';
import { startServiceProcess, waitUntil, type ServiceProcess } from '../test/helpers/service-process.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const cases = Number(arg('cases') ?? 10_000);
const seed = Number(arg('seed') ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isInteger(cases) || cases < 1 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- [--cases N] [--seed N]');
  process.exit(2);
}
console.log(`fuzz seed ${seed}: ${cases} cases over ${PROCEDURES.length} procedures (replay with --seed ${seed})`);

const dataDir = mkdtempSync(path.join(tmpdir(), 'cs-fuzz-'));
chmodSync(dataDir, 0o755); // as root, PostgreSQL runs as the postgres user
const [port, pgPort] = [await freePort(), await freePort()];
const env = {
  DATA_DIR: dataDir,
  PORT: String(port),
  HOST: '127.0.0.1',
  EMBEDDED_PG_PORT: String(pgPort),
  DATABASE_URL: '',
  CREDENTIALS_KEYS: `fuzz:${Buffer.alloc(32, 3).toString('base64')}`,
  CREATE_DEMO_APP: 'true',
  RATE_LIMITS: 'false',
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1',
  WEBHOOK_CONNECT_TIMEOUT_MS: '200',
  WEBHOOK_TIMEOUT_MS: '1000',
};
const baseUrl = `http://127.0.0.1:${port}`;
const dbUrl = `postgres://postgres:postgres@127.0.0.1:${pgPort}/connections`;
let proc: ServiceProcess | null = null;
// The embedded PostgreSQL belongs to the service process: a client for each process's lifetime.
let db = new pg.Client({ connectionString: dbUrl });

try {
  // Set-up on a process with every role, so the fixtures' jobs run.
  proc = startServiceProcess(env);
  const apiKey = (await proc.waitFor(/"demoApiKey":"(csk_[A-Za-z0-9_-]+)"/, 120_000))[1]!;
  await proc.waitFor(/scheduler started/, 60_000);
  const created = await runTs('src/cli.ts', ['apps:create', 'fuzz-other'], env);
  const otherKey = (JSON.parse(created.stdout.trim().split('\n').at(-1)!) as { apiKey: string }).apiKey;
  await db.connect();
  const settle = async () => {
    await waitUntil(
      async () => (await db.query(`SELECT count(*)::int AS n FROM jobs WHERE status IN ('queued', 'running')`)).rows[0].n === 0,
      60_000,
      'the jobs to finish',
    );
  };
  const fixtures = await createFuzzFixtures(createClient(baseUrl, apiKey), createClient(baseUrl, otherKey), settle);

  // The fuzzing itself on an API-only process: nothing but the requests writes, so any change is theirs.
  await db.end();
  proc.kill('SIGTERM');
  await proc.exited;
  proc = startServiceProcess({ ...env, ROLES: 'api' });
  await proc.waitFor(/listening on/, 60_000);
  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();

  let last = Date.now();
  const report = await fuzz(
    { baseUrl, apiKey, fixtures, fingerprint: async () => (await db.query(FINGERPRINT_SQL)).rows[0].fingerprint as string },
    {
      seed,
      cases,
      onProgress: (done) => {
        if (Date.now() - last > 5_000 || done === cases) {
          last = Date.now();
          console.log(`  ${done}/${cases}`);
        }
      },
    },
  );
  console.log(`answers by status: ${JSON.stringify(report.byStatus)}`);
  if (report.failures.length) {
    console.log(`${report.failures.length} case(s) broke a rule (seed ${seed}):`);
    for (const f of report.failures.slice(0, 50)) console.log(JSON.stringify(f));
    process.exitCode = 1;
  } else {
    console.log(`all ${cases} cases held: no 5xx, every 400 named what was wrong, no rejected mutation wrote (seed ${seed})`);
  }
} finally {
  await db.end().catch(() => {});
  if (proc) {
    proc.kill('SIGTERM');
    await proc.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
}
