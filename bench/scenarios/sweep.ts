import pg from 'pg';
import { inProcessService } from '../lib/in-process.ts';
import { startProcess } from '../lib/process.ts';
import { round, type Scenario } from '../lib/types.ts';

/**
 * 3. Sweep: the refresh sweep claiming 10,000 due connections out of 100 k and out of 1 M (quick: 2,000 of 20 k
 * and of 200 k), each sweep in its own process as a scheduler replica runs it, interleaved, two rounds.
 */
export const sweep: Scenario = async (ctx) => {
  const due = ctx.quick ? 2_000 : 10_000;
  const sizes = ctx.quick ? [20_000, 200_000] : [100_000, 1_000_000];
  const batchSize = 500;
  const dbs = [];
  for (const size of sizes) {
    const db = await ctx.database(`sweep_${size}`);
    ctx.log(`sweep: seeding ${size.toLocaleString()} connections (${due.toLocaleString()} due)`);
    await seed(db.url, ctx.credentialKeysEnv, size, due);
    dbs.push({ size, url: db.url });
  }
  const times = new Map<number, number[]>();
  const rss: number[] = [];
  for (let roundNo = 1; roundNo <= (ctx.quick ? 1 : 2); roundNo++) {
    for (const { size, url } of dbs) {
      await resetDue(url, due);
      const child = startProcess('bench/lib/sweep-child.ts', {}, [url, ctx.credentialKeysEnv, String(batchSize)]);
      const code = await new Promise<number | null>((resolve) => child.child.on('exit', resolve));
      const line = child.output().trim().split('\n').at(-1)!;
      if (code !== 0) throw new Error(`sweep child failed:\n${child.output().slice(-2000)}`);
      const r = JSON.parse(line) as { ms: number; queued: number; maxRssMb: number };
      if (r.queued !== due) throw new Error(`sweep queued ${r.queued}, expected ${due}`);
      times.set(size, [...(times.get(size) ?? []), r.ms]);
      rss.push(r.maxRssMb);
      ctx.log(`sweep: round ${roundNo}, ${size.toLocaleString()} connections: ${due.toLocaleString()} queued in ${r.ms.toFixed(0)} ms`);
    }
  }
  const best = (size: number) => Math.min(...times.get(size)!);
  const rows = sizes.map((size) => ({
    connections: size.toLocaleString(),
    due: due.toLocaleString(),
    'best ms': round(best(size), 0),
    'all ms': times
      .get(size)!
      .map((t) => t.toFixed(0))
      .join(', '),
    'due/s': round(due / (best(size) / 1000), 0),
  }));
  return {
    id: 'sweep',
    title: '3. Sweep',
    rows,
    ratios: [
      { name: `sweep: time at ${sizes[1]!.toLocaleString()} / at ${sizes[0]!.toLocaleString()}`, value: best(sizes[1]!) / best(sizes[0]!) },
    ],
    peakRssMb: { 'sweep (scheduler process)': Math.max(...rss) },
    notes: [
      `Batches of ${batchSize} per transaction: lock due rows (SKIP LOCKED), move each to its next slot, insert their refresh jobs, NOTIFY.`,
      'Best of the rounds is reported (the least disturbed by other load on the machine); every round is listed.',
    ],
  };
};

async function seed(url: string, keys: string, size: number, due: number): Promise<void> {
  const service = await inProcessService(url, keys);
  const { app } = await service.services.apps.create('sweep-bench');
  await service.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Due ones are the first `due`, marked by user_id so each round can make exactly them due again.
    await client.query(
      `INSERT INTO connections (id, app_id, user_id, institution_id, method, service_provider, status, state, connected_at,
                                datasets, auto_refresh, refresh_interval_minutes, next_refresh_at, version)
       SELECT gen_random_uuid(), $1, CASE WHEN g <= $3 THEN 'due' ELSE 'user-' || (g % 5000) END, 'AU00000', 'built-in', 'sandbox',
              'ACTIVE', 'completed-up-to-date', now() - interval '2 days', '{USER_INFO}', true, 1440,
              CASE WHEN g <= $3 THEN now() - (g % 3600) * interval '1 second' ELSE now() + interval '1 hour' + (g % 86400) * interval '1 second' END, 1
       FROM generate_series(1, $2) AS g`,
      [app.id, size, due],
    );
    await client.query('VACUUM ANALYZE connections');
  } finally {
    await client.end();
  }
}

async function resetDue(url: string, due: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('DELETE FROM jobs');
    const res = await client.query(`UPDATE connections SET next_refresh_at = now() - interval '1 minute' WHERE user_id = 'due'`);
    if (res.rowCount !== due) throw new Error(`reset ${res.rowCount} due connections, expected ${due}`);
    await client.query('VACUUM ANALYZE connections');
    await client.query('VACUUM ANALYZE jobs');
  } finally {
    await client.end();
  }
}
