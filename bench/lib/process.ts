import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NODE_FLAGS } from '../../test/helpers/run-process.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * How the service runs in the bench: `compiled` (default) is what production runs, `node <npm start's flags>
 * dist/src/main.js` (run.ts builds first; the flags are V8's heap settings, read from package.json's start script); `tsx` is `node --import tsx src/main.ts`, as `npm start` ran before the compiled build
 * (BENCH_RUNTIME=tsx, to compare). The bench's own helper scripts (floors, receivers, the sweep child) run with tsx
 * either way: they are not the service.
 */
export const BENCH_RUNTIME: 'compiled' | 'tsx' = process.env.BENCH_RUNTIME === 'tsx' ? 'tsx' : 'compiled';

/** One process the bench started, and the highest VmHWM seen for it. */
export interface ProcessRecord {
  script: string;
  /** How it ran: `node dist/src/main.js` or `node --import tsx <script>`. */
  command: string;
  pid: number;
  peakRssMb: number | null;
}

const records: ProcessRecord[] = [];

/** Every process started so far, in order (run.ts slices them per scenario). */
export function processRecords(): readonly ProcessRecord[] {
  return records;
}

function readVmHwmMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export interface BenchProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Peak resident set size so far (VmHWM), in MB; after exit, the last one sampled (null if never sampled). */
  peakRssMb(): number | null;
  stop(): Promise<number | null>;
}

/**
 * The service (`node dist/src/main.js`, as `npm start` runs it; see BENCH_RUNTIME) or a bench helper script, as a
 * child process. Its VmHWM is sampled while it lives, so its peak RSS is known even after it exited on its own.
 */
export function startProcess(script: string, env: Record<string, string>, args: string[] = []): BenchProcess {
  const service = script === 'src/main.ts';
  // BENCH_PROFILE=<dir> writes a CPU profile of every service process (node --cpu-prof) there.
  const profile = process.env.BENCH_PROFILE && service ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const entry = !service
    ? ['--import', 'tsx', script]
    : BENCH_RUNTIME === 'compiled'
      ? [...SERVICE_NODE_FLAGS, 'dist/src/main.js']
      : [...SERVICE_NODE_FLAGS, '--import', 'tsx', script];
  const child = spawn(process.execPath, [...profile, ...entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', DATA_DIR: mkdtempSync(path.join(tmpdir(), 'cs-bench-')), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  const record: ProcessRecord = { script, command: ['node', ...entry].join(' '), pid: child.pid!, peakRssMb: null };
  records.push(record);
  const sample = () => {
    const mb = readVmHwmMb(record.pid);
    if (mb !== null) record.peakRssMb = Math.max(record.peakRssMb ?? 0, mb);
    return mb;
  };
  // VmHWM only grows, so the last sample before exit is the peak, short of what the final 100 ms added.
  const sampler = setInterval(sample, 100).unref();
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearInterval(sampler);
      resolve(code);
    }),
  );
  return {
    child,
    pid: child.pid!,
    output: () => out,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (child.exitCode !== null) throw new Error(`${script} exited (${child.exitCode}) before ${pattern}:\n${out.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} from ${script}:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    // Once the process is gone, the last peak sampled.
    peakRssMb: () => sample() ?? record.peakRssMb,
    async stop() {
      sample();
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until the service process answers GET /readyz; stops it and throws if it exits or never gets there. */
export async function waitReady(proc: BenchProcess, base: string): Promise<void> {
  await waitUntil(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`the service exited (${proc.child.exitCode}):\n${proc.output().slice(-3000)}`);
      try {
        return (await fetch(`${base}/readyz`)).ok;
      } catch {
        return false;
      }
    },
    60_000,
    `${base}/readyz`,
  ).catch(async (error: unknown) => {
    await proc.stop();
    throw error;
  });
}
