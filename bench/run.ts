// npm run bench [-- <scenario> …] [-- --quick]
// Type-checks the code, builds dist/ (the service processes run `node <npm start's flags> dist/src/main.js`; BENCH_RUNTIME=tsx runs
// `node --import tsx src/main.ts` instead, to compare), starts (or uses) PostgreSQL, runs the scenarios, prints a
// table with the peak RSS of every process it started, and writes
// bench/results/latest.{json,md,png} (a full run) or bench/results/quick.{json,md,png} (--quick).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDataSource } from '../src/db/data-source.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { renderLatencyChart } from './lib/chart.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { withDatabase } from '../test/helpers/pg-urls.ts';
import { SERVICE_NODE_FLAGS } from '../test/helpers/run-process.ts';
import { BENCH_RUNTIME, processRecords, ROOT, type ProcessRecord } from './lib/process.ts';
import type { BenchContext, Scenario, ScenarioResult } from './lib/types.ts';
import { api } from './scenarios/api.ts';
import { connect } from './scenarios/connect.ts';
import { priority } from './scenarios/priority.ts';
import { queue } from './scenarios/queue.ts';
import { refresh } from './scenarios/refresh.ts';
import { scale } from './scenarios/scale.ts';
import { sweep } from './scenarios/sweep.ts';
import { webhooks } from './scenarios/webhooks.ts';

const SCENARIOS: Record<string, { title: string; run: Scenario }> = {
  api: { title: '1. API overhead', run: api },
  scale: { title: '2. Scale', run: scale },
  sweep: { title: '3. Sweep', run: sweep },
  queue: { title: '4. Queue', run: queue },
  refresh: { title: '5. Refresh end to end', run: refresh },
  webhooks: { title: '6. Webhooks', run: webhooks },
  priority: { title: '7. Priority', run: priority },
  connect: { title: '8. Connect pages', run: connect },
};

/**
 * Memory: the peak RSS of every service process (compiled build) in every scenario must stay under 200 MB. The bench
 * process itself (load generators, floors, seeding, the peers' workers) is reported beside them, without a target.
 */
const MEMORY_TARGET_MB = 200;
/** The bench's own helpers (floors, receivers), which are not the service and have no memory target. */
const BENCH_HELPER = /^bench\/lib\/.*(floor|receiver)/;

const args = process.argv.slice(2);
if (args.includes('--report')) {
  // Re-renders latest.md from latest.json (after editing bench/NOTES.md), without measuring again.
  const file = path.join(ROOT, 'bench/results/latest.json');
  const saved = JSON.parse(readFileSync(file, 'utf8')) as typeof report;
  writeFileSync(
    path.join(ROOT, 'bench/results/latest.md'),
    markdown(saved, existsSync(path.join(ROOT, 'bench/results/latest.png')) ? 'latest.png' : null),
  );
  console.log('wrote bench/results/latest.md from latest.json');
  process.exit(0);
}
const quick = args.includes('--quick');
const unknown = args.filter((a) => !a.startsWith('--') && !(a in SCENARIOS));
if (unknown.length || args.includes('--help')) {
  console.log(`usage: npm run bench [-- ${Object.keys(SCENARIOS).join('|')} …] [-- --quick]`);
  process.exit(unknown.length ? 1 : 0);
}
const selected = args.filter((a) => a in SCENARIOS);
const ids = selected.length ? selected : Object.keys(SCENARIOS);

const started = Date.now();
const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);

log(`benchmark: ${ids.join(', ')}${quick ? ' (quick)' : ''}`);
log('build: type-checking (tsc -p .)');
const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', ROOT], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
if (BENCH_RUNTIME === 'compiled') {
  // The service processes run dist/ (what production runs): build it from these sources first.
  log('build: npm run build (service processes run node dist/src/main.js; BENCH_RUNTIME=tsx runs the sources with tsx)');
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit', cwd: ROOT });
  if (build.status !== 0) process.exit(build.status ?? 1);
} else {
  log('runtime: BENCH_RUNTIME=tsx (service processes run node --import tsx src/main.ts)');
}

// PostgreSQL: DATABASE_URL's server (the bench creates and drops its own databases there), or an embedded one.
let adminUrl: string;
let stopServer = async () => {};
let tmp: string | null = null;
if (process.env.DATABASE_URL) {
  adminUrl = process.env.DATABASE_URL;
  log('database: DATABASE_URL');
} else {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cs-bench-pg-'));
  chmodSync(tmp, 0o755);
  log('database: starting an embedded PostgreSQL');
  const server = await startEmbeddedPostgres({
    databaseDir: path.join(tmp, 'pg'),
    port: await freePort(),
    database: 'postgres',
    persistent: false,
  });
  adminUrl = server.adminUrl;
  stopServer = () => server.stop();
}
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
const prefix = `cs_bench_${process.pid}`;
const template = `${prefix}_template`;
await admin.query(`CREATE DATABASE ${template}`);
{
  const ds = createDataSource({ url: withDatabase(adminUrl, template), poolSize: 1, logging: false });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  await ds.destroy();
}
let n = 0;
const ctx: BenchContext = {
  quick,
  credentialKeysEnv: `bench:${randomBytes(32).toString('base64')}`,
  log,
  async database(name) {
    const db = `${prefix}_${name.toLowerCase().replace(/\W/g, '_')}_${++n}`;
    await admin.query(`CREATE DATABASE ${db} TEMPLATE ${template}`);
    return { name: db, url: withDatabase(adminUrl, db) };
  },
};

/** A scenario's outcome, with the peak RSS of every process it started. */
type Outcome = (ScenarioResult | { id: string; title: string; error: string }) & { processes: ProcessRecord[] };
const results: Outcome[] = [];
for (const id of ids) {
  const s = SCENARIOS[id]!;
  log(`── ${s.title} ──`);
  const t0 = Date.now();
  const firstProcess = processRecords().length;
  try {
    const result = await s.run(ctx);
    const processes = processRecords().slice(firstProcess);
    results.push({ ...result, id, title: s.title, processes });
    log(`${s.title}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    printScenario(result, processes);
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`${s.title}: FAILED\n${message}`);
    results.push({ id, title: s.title, error: message.split('\n')[0]!, processes: processRecords().slice(firstProcess) });
  }
}

const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${prefix}_%'`);
for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
await admin.end();
await stopServer();
if (tmp) rmSync(tmp, { recursive: true, force: true });

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
  platform: `${os.type()} ${os.release()}`,
  postgres: process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded-postgres 18',
};
// The bench process itself: load generators, seeding through the domain in process, the queue scenario's workers.
// getrusage's maxRSS is its own peak over the whole run (in kB).
const benchProcess = {
  command: `node --import tsx bench/run.ts ${args.join(' ')}`.trim(),
  peakRssMb: process.resourceUsage().maxRSS / 1024,
};
log(`peak RSS of the bench process itself: ${benchProcess.peakRssMb.toFixed(0)} MB`);
const outDir = path.join(ROOT, 'bench/results');
mkdirSync(outDir, { recursive: true });
// latest.* are the committed results of a full run: a run of some scenarios only writes partial.* beside them.
const base = quick ? 'quick' : selected.length && selected.length < Object.keys(SCENARIOS).length ? 'partial' : 'latest';
const report = {
  startedAt: new Date(started).toISOString(),
  durationS: Math.round((Date.now() - started) / 1000),
  quick,
  runtime: BENCH_RUNTIME,
  // How each service process started (npm start's node flags, then the entry point).
  serviceCommand: ['node', ...SERVICE_NODE_FLAGS, BENCH_RUNTIME === 'tsx' ? '--import tsx src/main.ts' : 'dist/src/main.js'].join(' ') as
    | string
    | undefined,
  machine,
  benchProcess,
  scenarios: results,
};
writeFileSync(path.join(outDir, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
const panels = results.flatMap((r) => ('latencies' in r && r.latencies?.length ? [{ title: r.title, series: r.latencies }] : []));
if (panels.length) writeFileSync(path.join(outDir, `${base}.png`), renderLatencyChart(panels));
writeFileSync(path.join(outDir, `${base}.md`), markdown(report, panels.length > 0 ? `${base}.png` : null));
log(`wrote bench/results/${base}.json, ${base}.md${panels.length ? `, ${base}.png` : ''}`);
const failed = results.filter((r) => 'error' in r);
process.exit(failed.length ? 1 : 0);

function printScenario(r: ScenarioResult, processes: ProcessRecord[]) {
  console.table(r.rows);
  for (const ratio of r.ratios)
    console.log(
      `  ${ratio.name}: ${ratio.value.toFixed(3)}${ratio.target ? ` (target ${ratio.target.op} ${ratio.target.value}: ${met(ratio) ? 'met' : 'MISSED'})` : ''}`,
    );
  for (const [what, mb] of Object.entries(r.peakRssMb ?? {})) console.log(`  peak RSS ${what}: ${mb.toFixed(0)} MB`);
  for (const p of processes) console.log(`  peak RSS of process ${p.pid} (${p.command}): ${mb(p.peakRssMb)}`);
  const worst = worstServiceRss(processes);
  if (worst)
    console.log(
      `  peak RSS, every service process < ${MEMORY_TARGET_MB} MB: ${worst.mb.toFixed(0)} MB (${worst.mb < MEMORY_TARGET_MB ? 'met' : 'MISSED'})`,
    );
}

/** The largest peak RSS among a scenario's service processes, or null when it started none that was sampled. */
function worstServiceRss(processes: readonly ProcessRecord[]): { mb: number; command: string } | null {
  let worst: { mb: number; command: string } | null = null;
  for (const p of processes)
    if (p.peakRssMb !== null && !BENCH_HELPER.test(p.script) && (!worst || p.peakRssMb > worst.mb))
      worst = { mb: p.peakRssMb, command: p.command };
  return worst;
}

function mb(value: number | null): string {
  return value === null ? 'not sampled' : `${value.toFixed(0)} MB`;
}

function met(r: { value: number; target?: { op: '>=' | '<='; value: number } }): boolean {
  if (!r.target) return true;
  return r.target.op === '>=' ? r.value >= r.target.value : r.value <= r.target.value;
}

function markdown(rep: typeof report, chart: string | null): string {
  const out: string[] = [];
  out.push(`# Benchmark results${rep.quick ? ' (quick mode: smaller sizes, shorter runs)' : ''}`, '');
  out.push(
    `Run ${rep.startedAt}, ${rep.durationS} s, with \`${rep.runtime === 'tsx' ? 'BENCH_RUNTIME=tsx ' : ''}npm run bench${rep.quick ? ' -- --quick' : ''}\`.`,
    '',
  );
  out.push(
    `Service processes ran ${rep.runtime === 'tsx' ? 'the sources with tsx' : 'compiled code'}: \`${rep.serviceCommand ?? (rep.runtime === 'tsx' ? 'node --import tsx src/main.ts' : 'node dist/src/main.js')}\`.`,
    '',
  );
  out.push(
    `Machine: ${rep.machine.cpus} cores (${rep.machine.cpuModel}), ${rep.machine.memoryGb} GB memory, Node ${rep.machine.node}, ${rep.machine.platform}, PostgreSQL: ${rep.machine.postgres}.`,
    '',
  );
  out.push(
    'Every figure that matters is a ratio of two things measured in the same run, interleaved, because these machines are shared and noisy.',
    '',
  );
  out.push('## Targets', '', '| Target | Measured | Met |', '|---|---|---|');
  for (const r of rep.scenarios) {
    if ('error' in r) {
      out.push(`| ${r.title} | failed: ${r.error} | no |`);
      continue;
    }
    for (const ratio of r.ratios)
      if (ratio.target)
        out.push(
          `| ${ratio.name} ${ratio.target.op} ${ratio.target.value} | ${ratio.value.toFixed(3)} | ${met(ratio) ? 'met' : '**missed**'} |`,
        );
    const worst = worstServiceRss(r.processes);
    if (worst)
      out.push(
        `| peak RSS, every service process in ${r.title} < ${MEMORY_TARGET_MB} MB | ${worst.mb.toFixed(0)} MB (\`${worst.command}\`) | ${worst.mb < MEMORY_TARGET_MB ? 'met' : '**missed**'} |`,
      );
  }
  out.push('');
  // Peak RSS of every process the run started (VmHWM, sampled every 100 ms while it lived), and of the bench itself.
  out.push('## Peak RSS of every process', '', '| Scenario | Process | Peak RSS |', '|---|---|---|');
  out.push(`| (all) | bench process: \`${rep.benchProcess.command}\` | ${mb(rep.benchProcess.peakRssMb)} |`);
  for (const r of rep.scenarios)
    for (const p of r.processes) out.push(`| ${r.title} | \`${p.command}\` (pid ${p.pid}) | ${mb(p.peakRssMb)} |`);
  out.push('');
  const notes = path.join(ROOT, 'bench/NOTES.md');
  if (!rep.quick && existsSync(notes)) out.push(readFileSync(notes, 'utf8').trim(), '');
  if (chart) out.push('## Latency distributions', '', `![latency distributions](${chart})`, '');
  for (const r of rep.scenarios) {
    out.push(`## ${r.title}`, '');
    if ('error' in r) {
      out.push(`Failed: ${r.error}`, '');
      continue;
    }
    const cols = [...new Set(r.rows.flatMap((row) => Object.keys(row)))];
    out.push(`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`);
    for (const row of r.rows) out.push(`| ${cols.map((c) => String(row[c] ?? '')).join(' | ')} |`);
    out.push('');
    for (const ratio of r.ratios)
      out.push(
        `- ${ratio.name}: **${ratio.value.toFixed(3)}**${ratio.target ? ` (target ${ratio.target.op} ${ratio.target.value}: ${met(ratio) ? 'met' : 'missed'})` : ''}`,
      );
    for (const [what, mb] of Object.entries(r.peakRssMb ?? {})) out.push(`- peak RSS, ${what}: ${mb.toFixed(0)} MB`);
    for (const note of r.notes ?? []) out.push(`- ${note}`);
    out.push('');
  }
  return out.join('\n');
}
