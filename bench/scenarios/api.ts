import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { inProcessService } from '../lib/in-process.ts';
import { startProcess, waitReady, type BenchProcess } from '../lib/process.ts';
import { percentile, round, type BenchContext, type LatencySeries, type Scenario } from '../lib/types.ts';
import { freePort } from '../../test/helpers/free-port.ts';

/**
 * 1. API overhead: connections.get and connections.list over tRPC/HTTP (superjson, zod, the auth, rate-limit and
 * access-log middlewares) and over the REST API (/api/v1, trpc-to-openapi) against the floor
 * (bench/lib/floor-server.ts: node:http + pg running the same SQL and returning the same JSON, at the same paths),
 * both as their own processes on one database of 10,000 connections, loaded by autocannon at 64 connections,
 * interleaved.
 */
export const CONNECTIONS = 64;
/** The service's and the floor's database pool (the service's default). */
export const POOL_SIZE = 10;
/** Longer than the connection ramp at the start of a run (see LATENCY_NOTE), which is up to ~4 s against the loaded service. */
const WARMUP_S = 5;

export const api: Scenario = async (ctx) => {
  const rounds = ctx.quick ? 1 : 3;
  const seconds = ctx.quick ? 3 : 10;
  const size = 10_000;
  const users = 8;

  const db = await ctx.database('api');
  ctx.log(`api: seeding ${size.toLocaleString()} connections for one app (${users} users, mixed statuses)`);
  const seeded = await seedConnections(ctx, db.url, { total: size, shareEvery: 1, users, otherApps: 0 });
  const ids = await sampleIds(db.url, seeded.appId, 4_000);

  let service: Target | null = null;
  let floor: Target | null = null;
  try {
    service = await startService(ctx, db.url);
    floor = await startFloor(db.url);
    const headers = { authorization: `Bearer ${seeded.apiKey}` };
    const endpoints: (Endpoint & { label: string })[] = [
      { name: 'get', label: 'connections.get', paths: ids.map((id) => getPath(id)) },
      { name: 'list', label: 'connections.list', paths: seeded.userIds.map((userId) => listPath(userId)) },
      { name: 'rest get', label: 'REST GET /connections/{id}', paths: ids.map((id) => restGetPath(id)) },
      { name: 'rest list', label: 'REST GET /connections', paths: seeded.userIds.map((userId) => restListPath(userId)) },
    ];
    await checkSameAnswers(ctx, service.base, floor.base, headers, ids[0]!, seeded.userIds[0]!);

    const runs = new Map<string, LoadResult[]>();
    for (let r = 1; r <= rounds; r++) {
      for (const endpoint of endpoints) {
        for (const system of [service, floor]) {
          const result = await load({ target: system, paths: endpoint.paths, headers, warmupS: WARMUP_S, seconds });
          const key = `${endpoint.name}: ${system.name}`;
          runs.set(key, [...(runs.get(key) ?? []), result]);
          ctx.log(`api: round ${r}/${rounds}, ${key}: ${describe(result)}`);
        }
      }
    }

    const rows = [];
    const latencies: LatencySeries[] = [];
    const ratios = [];
    for (const endpoint of endpoints) {
      const summaries = [service, floor].map((system) => summarize(runs.get(`${endpoint.name}: ${system.name}`)!));
      for (const [i, system] of [service, floor].entries()) {
        const s = summaries[i]!;
        rows.push({ endpoint: endpoint.label, system: system.name, ...s.row });
        latencies.push({ label: `${endpoint.name}: ${system.name}`, samplesMs: s.samplesMs });
      }
      ratios.push({
        name: `${endpoint.label}: service / floor requests/s`,
        value: summaries[0]!.rps / summaries[1]!.rps,
        target: { op: '>=' as const, value: 0.7 },
      });
      ratios.push({
        name: `${endpoint.label}: service / floor server CPU per request`,
        value: summaries[0]!.cpu / summaries[1]!.cpu,
      });
    }
    return {
      id: 'api',
      title: '1. API overhead',
      rows,
      ratios,
      latencies,
      peakRssMb: { 'api service under load': service.proc.peakRssMb() ?? NaN },
      notes: [
        `${size.toLocaleString()} connections of one app (${users} users; 60% ACTIVE, 15% INITIATED, 10% EXPIRED, 15% DISCONNECTED, interleaved in time).`,
        `get: a random one of ${ids.length.toLocaleString()} connection ids per request; list: { userId (a random one of the ${users}), filter: { status: ['ACTIVE'] }, limit: 50 } (a full page of 50, with nextCursor). REST get and list: the same ids and users at /api/v1/connections/{id} and /api/v1/connections?userId=…&status=ACTIVE&limit=50 (docs/rest.md), plain JSON.`,
        `autocannon, ${CONNECTIONS} connections, in the bench process; ${rounds} round(s) per endpoint, service then floor, each one autocannon run of ${WARMUP_S} s warm-up + ${seconds} s measured (same connections throughout: see the next note). Service: npm start's process with ROLES=api, NODE_ENV=production, LOG_LEVEL=warn, DB_POOL_SIZE=${POOL_SIZE}; floor: a pg Pool of ${POOL_SIZE}.`,
        LATENCY_NOTE,
        'The floor authenticates the same way (sha256 of the key, one indexed lookup in applications per request) and sends the SQL TypeORM sends, verbatim, through pg; its body is the same connection view inside tRPC\'s result envelope but without superjson\'s "meta" (dates as ISO strings, as in superjson\'s "json" part). Before loading, one get and one list from each are checked to be equal.',
        'Client, service (or floor) and PostgreSQL share the machine\'s cores, so requests/s are whole-system figures; the ratio compares the two servers under the same conditions. "server CPU ms/request" is the server process\'s own user + system CPU time (/proc) over its measured runs divided by their requests: steadier than requests/s when other load shares the machine.',
      ],
    };
  } finally {
    await Promise.all([service?.proc.stop(), floor?.proc.stop()]);
  }
};

// ---------------------------------------------------------------------------------------------------------------
// Shared with bench/scenarios/scale.ts.

export const LATENCY_NOTE =
  "requests/s, p50 and p99 count only responses completed in the measured seconds, all rounds pooled; a latency is autocannon's own per-response time (its \"response\" event: from writing the request to the end of the response), kept in full precision rather than read from its whole-millisecond histogram, which would include the warm-up. Warm-up and measurement are one autocannon run because a busy Node server accepts one new connection per event-loop turn (libuv >= 1.45): a separate run's 64 fresh connections queue in the accept backlog for up to ~3 s against the loaded service, a ramp that put 2-4 s outliers into its p99. The chart's series are those per-response times (a uniform random sample of at most 20,000 per series), not a percentile ladder.";

export interface Endpoint {
  name: string;
  paths: string[];
}

export const getPath = (id: string) => `/trpc/connections.get?input=${encodeURIComponent(JSON.stringify({ json: { id } }))}`;
export const listPath = (userId: string) =>
  `/trpc/connections.list?input=${encodeURIComponent(JSON.stringify({ json: { userId, filter: { status: ['ACTIVE'] }, limit: 50 } }))}`;
/** The same two reads over the REST API (docs/rest.md). */
export const restGetPath = (id: string) => `/api/v1/connections/${encodeURIComponent(id)}`;
export const restListPath = (userId: string) => `/api/v1/connections?userId=${encodeURIComponent(userId)}&status=ACTIVE&limit=50`;

export interface Seeded {
  appId: string;
  apiKey: string;
  /** The app under test's users (user-0 … user-{users-1}). */
  userIds: string[];
}

/**
 * Connections straight into the table in one INSERT … SELECT generate_series, then VACUUM ANALYZE. Every
 * `shareEvery`-th row belongs to the app under test (a real app, made by AppService, with an API key), spread over
 * `users` users; the others belong to `otherApps` other apps (5,000 users each at most). Rows are one second apart
 * in created_at, so tenants and users interleave in time and on disk as they would in a shared table. Each user's
 * rows cycle through the statuses: 60% ACTIVE (1 in 12 of those in an error state), 15% INITIATED, 10% EXPIRED,
 * 15% DISCONNECTED.
 */
export async function seedConnections(
  ctx: BenchContext,
  url: string,
  spec: { total: number; shareEvery: number; users: number; otherApps: number },
): Promise<Seeded> {
  const service = await inProcessService(url, ctx.credentialKeysEnv);
  let app;
  try {
    app = await service.services.apps.create('bench-api');
  } finally {
    await service.close();
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const t0 = Date.now();
  const heartbeat = setInterval(() => ctx.log(`  … still seeding (${((Date.now() - t0) / 1000).toFixed(0)} s)`), 15_000);
  try {
    const others = spec.otherApps
      ? (
          await client.query<{ id: string }>(
            `INSERT INTO applications (name, api_key_hash, api_key_prefix)
             SELECT 'other-' || i, encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'), 'csk_other'
             FROM generate_series(1, $1) AS i RETURNING id`,
            [spec.otherApps],
          )
        ).rows.map((r) => r.id)
      : [];
    const datasetState = JSON.stringify(
      Object.fromEntries(
        ['BANK_ACCOUNT', 'BANK_BALANCE', 'BANK_TRANSACTION'].map((d) => [
          d,
          { status: 'SUCCESS', referenceId: null, lastSuccess: '2026-01-01T06:00:00.000Z', lastUpdated: '2026-01-01T06:00:00.000Z' },
        ]),
      ),
    );
    const error = JSON.stringify({
      category: 'technical',
      origin: 'provider',
      code: 'PROVIDER_UNAVAILABLE',
      message: 'The provider did not answer in time',
      attributes: {},
    });
    await client.query(
      `INSERT INTO connections (id, app_id, user_id, institution_id, method, service_provider, reference, name, datasets, status, state,
                                provider_status, error, connected_at, disconnected_at, dataset_state, consent_expires_at,
                                failing_since, consecutive_failures, auto_refresh, refresh_interval_minutes, last_refreshed_at,
                                next_refresh_at, credentials_key_id, created_at, updated_at, version)
       SELECT gen_random_uuid(), s.app_id, s.user_id, 'AU00000', 'built-in', 'sandbox', 'ref-' || s.g, 'Everyday account',
              '{BANK_ACCOUNT,BANK_BALANCE,BANK_TRANSACTION}',
              CASE WHEN s.k < 12 THEN 'ACTIVE' WHEN s.k < 15 THEN 'INITIATED' WHEN s.k < 17 THEN 'EXPIRED' ELSE 'DISCONNECTED' END,
              CASE WHEN s.k = 1 THEN 'completed-outdated' WHEN s.k BETWEEN 12 AND 14 THEN 'pending' ELSE 'completed-up-to-date' END,
              CASE WHEN s.k BETWEEN 12 AND 14 THEN NULL ELSE 'OK' END,
              CASE WHEN s.k = 1 THEN $7::jsonb END,
              CASE WHEN s.k BETWEEN 12 AND 14 THEN NULL ELSE s.at + interval '1 minute' END,
              CASE WHEN s.k >= 17 THEN s.at + interval '2 days' END,
              CASE WHEN s.k BETWEEN 12 AND 14 THEN '{}'::jsonb ELSE $6::jsonb END,
              CASE WHEN s.k < 15 THEN s.at + interval '365 days' WHEN s.k < 17 THEN s.at END,
              CASE WHEN s.k = 1 THEN s.at + interval '1 day' END,
              CASE WHEN s.k = 1 THEN 1 ELSE 0 END,
              true, 1440,
              CASE WHEN s.k < 12 THEN now() - interval '1 hour' END,
              CASE WHEN s.k < 12 THEN now() + (s.g % 1440) * interval '1 minute' END,
              'bench', s.at, s.at, 1
       FROM (
         SELECT g, now() - ($3 - g) * interval '1 second' AS at,
                CASE WHEN g % $4 = 0 THEN $1::uuid ELSE ($2::uuid[])[1 + g % NULLIF(cardinality($2::uuid[]), 0)] END AS app_id,
                CASE WHEN g % $4 = 0 THEN 'user-' || ((g / $4) % $5) ELSE 'user-' || (g % 5000) END AS user_id,
                CASE WHEN g % $4 = 0 THEN ((g / $4) / $5) % 20 ELSE (g / 7) % 20 END AS k
         FROM generate_series(1, $3) AS g
       ) AS s`,
      [app.app.id, others, spec.total, spec.shareEvery, spec.users, datasetState, error],
    );
    ctx.log(`  inserted ${spec.total.toLocaleString()} connections in ${((Date.now() - t0) / 1000).toFixed(1)} s; VACUUM ANALYZE`);
    await client.query('VACUUM ANALYZE connections');
    await client.query('VACUUM ANALYZE applications');
  } finally {
    clearInterval(heartbeat);
    await client.end();
  }
  return { appId: app.app.id, apiKey: app.apiKey, userIds: Array.from({ length: spec.users }, (_, i) => `user-${i}`) };
}

async function sampleIds(url: string, appId: string, n: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>('SELECT id FROM connections WHERE app_id = $1 ORDER BY random() LIMIT $2', [
      appId,
      n,
    ]);
    return rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

export interface Target {
  name: string;
  base: string;
  proc: BenchProcess;
}

/** `npm start`'s process (`node dist/src/main.js`; see BENCH_RUNTIME) with the API role only, on the given database. */
export async function startService(ctx: BenchContext, url: string, name = 'service'): Promise<Target> {
  const port = await freePort();
  const proc = startProcess('src/main.ts', {
    NODE_ENV: 'production',
    ROLES: 'api',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    CREDENTIALS_KEYS: ctx.credentialKeysEnv,
    CREATE_DEMO_APP: 'false',
    // One app at thousands of requests a second: its rate limit would answer 429s, which are not what is measured.
    RATE_LIMITS: 'false',
    LOG_LEVEL: 'warn',
    DB_POOL_SIZE: String(POOL_SIZE),
  });
  const base = `http://127.0.0.1:${port}`;
  await waitReady(proc, base);
  return { name, base, proc };
}

export async function startFloor(url: string): Promise<Target> {
  const port = await freePort();
  const proc = startProcess('bench/lib/floor-server.ts', {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    DB_POOL_SIZE: String(POOL_SIZE),
  });
  const base = `http://127.0.0.1:${port}`;
  await waitReady(proc, base);
  return { name: 'floor', base, proc };
}

/** One get and one list from each, over tRPC and REST: same status, same body (for tRPC, the service's superjson "json" part against the floor's). */
async function checkSameAnswers(
  ctx: BenchContext,
  service: string,
  floor: string,
  headers: Record<string, string>,
  id: string,
  userId: string,
): Promise<void> {
  for (const path of [getPath(id), listPath(userId), restGetPath(id), restListPath(userId)]) {
    const [s, f] = await Promise.all([fetch(service + path, { headers }), fetch(floor + path, { headers })]);
    const [sText, fText] = await Promise.all([s.text(), f.text()]);
    if (s.status !== 200 || f.status !== 200)
      throw new Error(`${path}: service ${s.status} ${sText.slice(0, 500)}; floor ${f.status} ${fText.slice(0, 500)}`);
    if (path === getPath(id)) ctx.log(`api: the service's answer to connections.get (superjson on the wire): ${sText.slice(0, 400)}…`);
    // tRPC: superjson's "json" part inside the result envelope; REST: the plain JSON body.
    const body = (text: string) =>
      path.startsWith('/trpc/')
        ? (JSON.parse(text) as { result: { data: { json: unknown } } }).result.data.json
        : (JSON.parse(text) as unknown);
    const sJson = body(sText);
    const fJson = body(fText);
    if (!isDeepStrictEqual(sJson, fJson))
      throw new Error(
        `${path}: service and floor answer differently:\n${JSON.stringify(sJson).slice(0, 1500)}\n${JSON.stringify(fJson).slice(0, 1500)}`,
      );
    const items = (sJson as { items?: unknown[] }).items;
    if (items && items.length !== 50) throw new Error(`${path}: expected a full page of 50, got ${items.length}`);
  }
}

export interface LoadResult {
  /** autocannon's own result for the whole run, warm-up included (errors, status codes). */
  result: autocannon.Result;
  /** Responses completed in the measured window (after the warm-up). */
  requests: number;
  /** The measured window's length. */
  seconds: number;
  /** Those responses' times (ms) as autocannon measured them (from writing the request to the end of the response). */
  samplesMs: number[];
  /** CPU time (user + system) the server process used in the measured window, in ms; null when it could not be read. */
  serverCpuMs: number | null;
}

/** User + system CPU time of a process so far, in ms (Linux /proc; USER_HZ is 100 on every Linux Node runs on). */
export function cpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * One autocannon run of `warmupS + seconds` at CONNECTIONS connections, each request a random one of `paths`; only
 * responses completed after the first `warmupS` seconds are measured. Warm-up and measurement share one run (and its
 * connections) on purpose: a busy Node server accepts one connection per event-loop turn (libuv >= 1.45), so 64
 * fresh connections take seconds to be accepted by a loaded service, and a run's first seconds are a ramp, not the
 * steady state. Throws on any connection error, timeout or non-2xx response, warm-up included.
 */
export function load(opts: {
  target: Target;
  paths: string[];
  headers: Record<string, string>;
  warmupS: number;
  seconds: number;
}): Promise<LoadResult> {
  const { paths, target } = opts;
  const samplesMs: number[] = [];
  const windowStart = performance.now() + opts.warmupS * 1000;
  let cpuStart: number | null = null;
  const cpuTimer = setTimeout(() => (cpuStart = cpuMs(target.proc.pid)), opts.warmupS * 1000);
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.base,
        connections: CONNECTIONS,
        duration: opts.warmupS + opts.seconds,
        headers: opts.headers,
        requests: [
          {
            method: 'GET',
            setupRequest: (req) => {
              req.path = paths[Math.floor(Math.random() * paths.length)]!;
              return req;
            },
          },
        ],
      },
      (error, result) => {
        clearTimeout(cpuTimer);
        const windowEnd = performance.now();
        const cpuEnd = cpuMs(target.proc.pid);
        if (error) return reject(error);
        const bad = result.errors + result.timeouts + result.non2xx;
        if (bad > 0) {
          return reject(
            new Error(
              `${target.name} (${target.base}): ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx (${JSON.stringify(result.statusCodeStats)})`,
            ),
          );
        }
        if (samplesMs.length === 0) return reject(new Error(`${target.name}: not one response in the ${opts.seconds} s measured`));
        resolve({
          result,
          requests: samplesMs.length,
          seconds: (windowEnd - windowStart) / 1000,
          samplesMs,
          serverCpuMs: cpuStart !== null && cpuEnd !== null ? cpuEnd - cpuStart : null,
        });
      },
    );
    // autocannon emits (client, statusCode, resBytes, responseTime) here, whatever @types/autocannon says.
    (instance as NodeJS.EventEmitter).on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
      if (performance.now() >= windowStart) samplesMs.push(ms);
    });
  });
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const rpsOf = (runs: LoadResult[]) => sum(runs.map((r) => r.requests)) / sum(runs.map((r) => r.seconds));
const cpuPerRequest = (runs: LoadResult[]) =>
  runs.some((r) => r.serverCpuMs === null) ? NaN : sum(runs.map((r) => r.serverCpuMs!)) / sum(runs.map((r) => r.requests));

export function describe(r: LoadResult): string {
  const sorted = [...r.samplesMs].sort((a, b) => a - b);
  return `${round(rpsOf([r]), 0)} req/s, p50 ${round(percentile(sorted, 50), 1)} ms, p99 ${round(percentile(sorted, 99), 1)} ms, server CPU ${round(cpuPerRequest([r]), 3)} ms/request`;
}

/** Figures for one endpoint × system over its rounds. */
export function summarize(runs: LoadResult[]) {
  const all = runs.flatMap((r) => r.samplesMs).sort((a, b) => a - b);
  const rps = rpsOf(runs);
  const cpu = cpuPerRequest(runs);
  const p50 = percentile(all, 50);
  const p99 = percentile(all, 99);
  return {
    rps,
    cpu,
    p50,
    p99,
    samplesMs: subsample(all, 20_000),
    row: {
      'requests/s': round(rps, 0),
      'p50 ms': round(p50, 2),
      'p99 ms': round(p99, 2),
      'server CPU ms/request': round(cpu, 3),
      'req/s by round': runs.map((r) => round(rpsOf([r]), 0)).join(', '),
      requests: sum(runs.map((r) => r.requests)),
      'errors / non-2xx': `${sum(runs.map((r) => r.result.errors + r.result.timeouts))} / ${sum(runs.map((r) => r.result.non2xx))}`,
    },
  };
}

/** A uniform random sample of at most n values (rounded to µs), for the chart. */
function subsample(values: number[], n: number): number[] {
  const out = values.length <= n ? [...values] : [];
  if (values.length > n) {
    for (let i = 0; i < values.length; i++) {
      if (i < n) out.push(values[i]!);
      else {
        const j = Math.floor(Math.random() * (i + 1));
        if (j < n) out[j] = values[i]!;
      }
    }
  }
  return out.map((v) => round(v, 3));
}
