import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Event } from '../../entities/index.ts';
import { envelope } from '../../src/webhooks/delivery.envelope.ts';
import { recordEvent } from '../../src/webhooks/event.recorder.ts';
import { inProcessService } from '../lib/in-process.ts';
import { startProcess, waitUntil, type BenchProcess } from '../lib/process.ts';
import { percentile, round, type Scenario } from '../lib/types.ts';

const RECEIVERS = 4;
const PER_ENDPOINT = 16;
const CONCURRENCY = RECEIVERS * PER_ENDPOINT;

/**
 * 6. Webhooks: events fanned out to 4 local receivers that verify every signature (in their own process).
 * Throughput: N events × 4 endpoints committed at once, then timed from the commit until every delivery arrived,
 * against the floor: a bare got loop posting the same signed body at the same concurrency. Latency: events
 * committed one at a time at a steady rate while the worker is idle-ready; commit-to-receipt per delivery.
 */
export const webhooks: Scenario = async (ctx) => {
  const events = ctx.quick ? 500 : 5_000;
  const deliveries = events * RECEIVERS;
  const paced = ctx.quick ? 200 : 1_000;
  const db = await ctx.database('webhooks');
  const service = await inProcessService(db.url, ctx.credentialKeysEnv, {
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1',
  });
  const { app } = await service.services.apps.create('webhook-bench');
  const receivers = startProcess('bench/lib/receivers.ts', {}, [String(RECEIVERS)]);
  let worker: BenchProcess | null = null;
  try {
    await receivers.waitFor(/"ports"/);
    const { ports } = JSON.parse(receivers.output().trim().split('\n').at(-1)!) as { ports: number[] };
    const targets: { url: string; secret: string }[] = [];
    for (const port of ports) {
      const url = `http://127.0.0.1:${port}/hook`;
      const { secret } = await service.services.endpoints.create(app.id, { url, eventTypes: ['connection.created'] });
      targets.push({ url, secret });
    }
    await Promise.all(
      ports.map((p) =>
        control(
          p,
          'secrets',
          targets.map((t) => t.secret),
        ),
      ),
    );
    // The receivers share one record in their process: any port's control answers for all of them.
    // Counts only while polling (a few bytes); the receipts, once, for the latency phase and the debug output.
    const stats = () => control(ports[0]!, 'stats');
    const receiptsOf = async () => (await control(ports[0]!, 'receipts')).receipts!;
    const reset = () => control(ports[0]!, 'reset');

    worker = startProcess('src/main.ts', {
      ROLES: 'worker',
      DATABASE_URL: db.url,
      CREDENTIALS_KEYS: ctx.credentialKeysEnv,
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1',
      WEBHOOK_CONCURRENCY: String(CONCURRENCY),
      WEBHOOK_ENDPOINT_CONCURRENCY: String(PER_ENDPOINT),
      DB_POOL_SIZE: '40',
      LOG_LEVEL: 'info',
    });
    await worker.waitFor(/webhook delivery worker started/);

    const data = { connection: sampleConnection(app.id) };
    const record = (m: import('typeorm').EntityManager) =>
      recordEvent(m, { appId: app.id, type: 'connection.created', userId: 'bench-user', connectionId: null, occurredAt: new Date(), data });

    // The same body the service sends, for the floor.
    let body = '';
    await service.deps.db
      .transaction(async (m) => {
        const { id } = await record(m);
        body = envelope(await m.getRepository(Event).findOneByOrFail({ id }));
        throw new RollbackSample();
      })
      .catch((e: unknown) => {
        if (!(e instanceof RollbackSample)) throw e;
      });

    const serviceRates: number[] = [];
    const floorRates: number[] = [];
    for (let roundNo = 1; roundNo <= (ctx.quick ? 1 : 2); roundNo++) {
      await reset();
      ctx.log(`webhooks: round ${roundNo}: committing ${events.toLocaleString()} events (${deliveries.toLocaleString()} deliveries)`);
      await service.deps.db.transaction(async (m) => {
        for (let i = 0; i < events; i++) await record(m);
      });
      const t0 = performance.now();
      let lastLog = 0;
      await waitUntil(
        async () => {
          const s = await stats();
          if (s.rejected) throw new Error(`${s.rejected} webhooks failed signature verification`);
          if (Date.now() - lastLog > 5_000) {
            lastLog = Date.now();
            ctx.log(`webhooks: ${s.received.toLocaleString()}/${deliveries.toLocaleString()} delivered`);
          }
          return s.received >= deliveries;
        },
        600_000,
        'deliveries',
        25,
      );
      const serviceSeconds = (performance.now() - t0) / 1000;
      if (process.env.BENCH_DEBUG) {
        const ids = (await receiptsOf()).map(([id]) => id);
        ctx.log(`DEBUG receipts ${ids.length} unique ${new Set(ids).size}`);
        ctx.log(
          `DEBUG ${JSON.stringify(await service.deps.db.query(`SELECT status, attempts, (locked_by IS NOT NULL) AS locked, count(*)::int FROM webhook_deliveries GROUP BY 1,2,3`))}`,
        );
        ctx.log(
          `DEBUG attempts ${JSON.stringify(await service.deps.db.query(`SELECT status_code, error, count(*)::int FROM webhook_delivery_attempts GROUP BY 1,2`))}`,
        );
      }
      serviceRates.push(deliveries / serviceSeconds);
      ctx.log(
        `webhooks: service delivered ${deliveries.toLocaleString()} in ${serviceSeconds.toFixed(2)} s over ${(await stats()).connections} connections`,
      );

      await reset();
      const specFile = path.join(tmpdir(), `cs-bench-floor-${process.pid}.json`);
      writeFileSync(specFile, JSON.stringify({ targets, body, total: deliveries, concurrency: CONCURRENCY }));
      const floor = startProcess('bench/lib/webhook-floor.ts', {}, [specFile]);
      const code = await new Promise<number | null>((resolve) => floor.child.on('exit', resolve));
      if (code !== 0) throw new Error(`floor failed:\n${floor.output().slice(-2000)}`);
      const f = JSON.parse(floor.output().trim().split('\n').at(-1)!) as { ms: number; failed: number };
      if (f.failed) throw new Error(`floor: ${f.failed} posts failed`);
      floorRates.push(deliveries / (f.ms / 1000));
      ctx.log(
        `webhooks: floor posted ${deliveries.toLocaleString()} in ${(f.ms / 1000).toFixed(2)} s over ${(await stats()).connections} connections`,
      );
    }

    // Commit-to-receipt at a steady rate well below capacity.
    await reset();
    ctx.log(`webhooks: latency: ${paced} events, one per transaction, 50 per second`);
    const committedAt = new Map<string, number>();
    const start = Date.now();
    for (let i = 0; i < paced; i++) {
      const due = start + i * 20;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const { id } = await service.deps.db.transaction((m) => record(m));
      committedAt.set(id, Date.now());
    }
    await waitUntil(async () => (await stats()).received >= paced * RECEIVERS, 120_000, 'paced deliveries', 50);
    const receipts = await receiptsOf();
    const strays = receipts.filter(([id]) => !committedAt.has(id)).length;
    if (strays) throw new Error(`${strays} receipts of events outside the latency phase`);
    const latencies = receipts.map(([id, at]) => at - committedAt.get(id)!).sort((a, b) => a - b);

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const serviceRate = median(serviceRates);
    const floorRate = median(floorRates);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    return {
      id: 'webhooks',
      title: '6. Webhooks',
      rows: <Record<string, string | number>[]>[
        {
          system: 'connections service (delivery worker)',
          deliveries,
          concurrency: CONCURRENCY,
          'deliveries/s': round(serviceRate, 0),
          rounds: serviceRates.map((r) => r.toFixed(0)).join(', '),
        },
        {
          system: 'floor (bare got loop)',
          deliveries,
          concurrency: CONCURRENCY,
          'deliveries/s': round(floorRate, 0),
          rounds: floorRates.map((r) => r.toFixed(0)).join(', '),
        },
        {
          system: 'commit-to-receipt',
          deliveries: latencies.length,
          concurrency: CONCURRENCY,
          'p50 ms': round(p50, 1),
          'p99 ms': round(p99, 1),
        },
      ],
      ratios: [
        { name: 'webhooks: service / floor (deliveries/s)', value: serviceRate / floorRate, target: { op: '>=', value: 0.8 } },
        { name: 'webhooks: commit-to-receipt p50 (ms)', value: p50, target: { op: '<=', value: 10 } },
      ],
      latencies: [{ label: 'commit-to-receipt', samplesMs: latencies }],
      peakRssMb: { 'webhooks (worker process)': worker.peakRssMb() ?? 0 },
      notes: [
        `${RECEIVERS} endpoints, ${PER_ENDPOINT} deliveries in flight per endpoint (WEBHOOK_ENDPOINT_CONCURRENCY), ${CONCURRENCY} in all (WEBHOOK_CONCURRENCY); the floor runs ${CONCURRENCY} concurrent got loops.`,
        `${deliveries.toLocaleString()} deliveries per round = ${events.toLocaleString()} events × ${RECEIVERS} endpoints; the median round is reported.`,
        'Receivers verify every signature with the standardwebhooks package, in their own process, for both systems.',
      ],
    };
  } finally {
    await worker?.stop();
    await receivers.stop();
    await service.close();
  }
};

class RollbackSample extends Error {}

async function control(
  port: number,
  what: 'secrets' | 'stats' | 'receipts' | 'reset',
  payload?: unknown,
): Promise<{ received: number; rejected: number; connections: number; receipts?: [string, number][] }> {
  const res = await fetch(`http://127.0.0.1:${port}/control/${what}`, {
    method: what === 'stats' || what === 'receipts' ? 'GET' : 'POST',
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  return (await res.json()) as { received: number; rejected: number; connections: number; receipts?: [string, number][] };
}

/** A connection as connection.created carries it (the size of a real payload). */
function sampleConnection(appId: string) {
  const at = new Date().toISOString();
  const extraction = { status: 'SUCCESS', referenceId: '00000000-0000-4000-8000-000000000000', lastSuccess: at, lastUpdated: at };
  return {
    id: '00000000-0000-4000-8000-000000000001',
    appId,
    userId: 'bench-user',
    institutionId: 'AU00000',
    method: 'built-in',
    serviceProvider: 'sandbox',
    reference: null,
    name: null,
    scopes: null,
    datasets: null,
    status: 'INITIATED',
    state: 'pending',
    providerStatus: null,
    error: null,
    connectionState: {
      status: 'INITIATED',
      connectedAt: null,
      disconnectedAt: null,
      BANK_ACCOUNT: extraction,
      BANK_BALANCE: extraction,
      BANK_TRANSACTION: extraction,
      USER_INFO: extraction,
    },
    consentExpiresAt: null,
    autoRefresh: true,
    refreshIntervalMinutes: 1440,
    lastRefreshedAt: null,
    nextRefreshAt: null,
    hasCredentials: true,
    userActionRequired: false,
    failingSince: null,
    consecutiveFailures: 0,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
}
