import pg from 'pg';
import type { Scenario } from '../lib/types.ts';
import {
  CONNECTIONS,
  LATENCY_NOTE,
  describe,
  listPath,
  load,
  seedConnections,
  startService,
  summarize,
  type LoadResult,
  type Seeded,
  type Target,
} from './api.ts';

/**
 * 2. Scale: connections.list (the query of scenario 1: one user's ACTIVE connections, a page of 50) with 10,000 and
 * with 1,000,000 connections in the table (quick: 10,000 and 100,000). Two databases, one service process on each,
 * the same autocannon load on both, alternating.
 *
 * The data: the app under test owns every 10th row (10% of the table: 1,000 connections at 10 k, 100,000 at 1 M)
 * over 10 users, so each user has 100 connections at 10 k and 10,000 at 1 M; 99 other apps own the other 90%. The
 * app's own rows grow with the table, as a big tenant's would, and sit among the others' on disk.
 */
const APP_SHARE_EVERY = 10;
const USERS = 10;
const OTHER_APPS = 99;
/** Longer than the connection ramp at the start of a run (see LATENCY_NOTE), which is up to ~4 s against the loaded service. */
const WARMUP_S = 5;

export const scale: Scenario = async (ctx) => {
  const rounds = ctx.quick ? 1 : 3;
  const seconds = ctx.quick ? 3 : 10;
  const sizes = ctx.quick ? [10_000, 100_000] : [10_000, 1_000_000];
  const label = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1_000}k`);

  const dbs: { size: number; url: string; seeded: Seeded }[] = [];
  for (const size of sizes) {
    const db = await ctx.database(`scale_${label(size).toLowerCase()}`); // lower case: bench/run.ts creates it unquoted
    ctx.log(
      `scale: seeding ${size.toLocaleString()} connections (the app under test: ${(size / APP_SHARE_EVERY).toLocaleString()} over ${USERS} users; ${OTHER_APPS} other apps: the rest)${size >= 1_000_000 ? ' — takes a while' : ''}`,
    );
    const t0 = Date.now();
    const seeded = await seedConnections(ctx, db.url, { total: size, shareEvery: APP_SHARE_EVERY, users: USERS, otherApps: OTHER_APPS });
    ctx.log(`scale: ${size.toLocaleString()} seeded and analysed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    dbs.push({ size, url: db.url, seeded });
  }

  const plans: string[] = [];
  for (const { size, url, seeded } of dbs) plans.push(`${label(size)}: ${await explainList(url, seeded)}`);

  const targets: Target[] = [];
  try {
    for (const { size, url } of dbs) targets.push(await startService(ctx, url, `service on ${label(size)}`));
    const runs = new Map<number, LoadResult[]>();
    for (let r = 1; r <= rounds; r++) {
      // ABBA…: the size that goes first alternates, so neither gains from running first.
      const order = r % 2 === 1 ? [0, 1] : [1, 0];
      for (const i of order) {
        const { size, seeded } = dbs[i]!;
        const target = targets[i]!;
        const headers = { authorization: `Bearer ${seeded.apiKey}` };
        const paths = seeded.userIds.map((userId) => listPath(userId));
        await checkFullPage(target.base, paths[0]!, headers);
        const result = await load({ target, paths, headers, warmupS: WARMUP_S, seconds });
        runs.set(size, [...(runs.get(size) ?? []), result]);
        ctx.log(`scale: round ${r}/${rounds}, list at ${label(size)}: ${describe(result)}`);
      }
    }

    const [small, large] = sizes.map((size) => summarize(runs.get(size)!));
    const rows = sizes.map((size, i) => ({
      connections: size.toLocaleString(),
      "app under test's": (size / APP_SHARE_EVERY).toLocaleString(),
      'per user of it': (size / APP_SHARE_EVERY / USERS).toLocaleString(),
      ...[small, large][i]!.row,
    }));
    const [s, l] = [label(sizes[0]!), label(sizes[1]!)];
    return {
      id: 'scale',
      title: '2. Scale',
      rows,
      ratios: [
        { name: `list p50: at ${l} / at ${s}`, value: large!.p50 / small!.p50, target: { op: '<=', value: 1.5 } },
        { name: `list p99: at ${l} / at ${s}`, value: large!.p99 / small!.p99, target: { op: '<=', value: 1.5 } },
        { name: `list requests/s: at ${l} / at ${s}`, value: large!.rps / small!.rps },
        { name: `list service CPU per request: at ${l} / at ${s}`, value: large!.cpu / small!.cpu },
      ],
      latencies: [
        { label: `list: ${s}`, samplesMs: small!.samplesMs },
        { label: `list: ${l}`, samplesMs: large!.samplesMs },
      ],
      peakRssMb: Object.fromEntries(targets.map((t) => [`api ${t.name}`, t.proc.peakRssMb() ?? NaN])),
      notes: [
        `The app under test owns every ${APP_SHARE_EVERY}th row (10% of the table) over ${USERS} users; ${OTHER_APPS} other apps own the rest (up to 5,000 users each). Rows are one second apart in created_at, tenants interleaved. Each user's rows cycle 60% ACTIVE, 15% INITIATED, 10% EXPIRED, 15% DISCONNECTED, so every page is full (50 of at least 51 matching).`,
        "Query: connections.list { userId (a random one of the app's users), filter: { status: ['ACTIVE'] }, limit: 50 }: TypeORM's WHERE app_id AND user_id AND status IN (…) ORDER BY created_at, id LIMIT 51.",
        `Seeded with one INSERT … SELECT generate_series per database, then VACUUM ANALYZE. One service process per database (ROLES=api, NODE_ENV=production, same settings), both up throughout; autocannon (${CONNECTIONS} connections) alternates between them, the first of each round alternating too (AB BA AB): ${rounds} round(s), each one run of ${WARMUP_S} s warm-up + ${seconds} s measured.`,
        LATENCY_NOTE,
        'At a fixed 64 connections, latency is mostly queueing in the service (the query itself takes about a millisecond in PostgreSQL at either size), so the latency ratios track the inverse of the throughput ratio; "server CPU ms/request" is the service process\'s own CPU time over the requests it served.',
        `Plans (EXPLAIN ANALYZE of the list, first user): ${plans.join(' | ')}`,
      ],
    };
  } finally {
    await Promise.all(targets.map((t) => t.proc.stop()));
  }
};

async function checkFullPage(base: string, path: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(base + path, { headers });
  const body = await res.text();
  const items = res.ok ? (JSON.parse(body) as { result: { data: { json: { items: unknown[] } } } }).result.data.json.items : null;
  if (items?.length !== 50)
    throw new Error(`scale: ${path} answered ${res.status} with ${items?.length ?? 'no'} items, expected 50: ${body.slice(0, 500)}`);
}

/** The list query's plan at this size, condensed to its nodes, index and timing. */
async function explainList(url: string, seeded: Seeded): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
       SELECT * FROM connections c WHERE c.app_id = $1 AND c.user_id = $2 AND c.status IN ($3)
       ORDER BY c.created_at ASC, c.id ASC LIMIT 51`,
      [seeded.appId, seeded.userIds[0], 'ACTIVE'],
    );
    const lines = rows.map((r) => r['QUERY PLAN'].trim());
    const nodes = lines.filter((l) => /Scan|Sort|Limit/.test(l)).map((l) => l.replace(/^->\s*/, '').replace(/\s*\(actual.*$/, ''));
    const removed = lines.find((l) => l.startsWith('Rows Removed by Filter'));
    const buffers = lines.find((l) => l.startsWith('Buffers'));
    const exec = lines.find((l) => l.startsWith('Execution Time'));
    return [nodes.join(' → '), removed, buffers, exec].filter(Boolean).join('; ');
  } finally {
    await client.end();
  }
}
