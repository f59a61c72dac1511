import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
/** The compiled entry points production runs (built by global-setup.ts before any test file). */
export const MAIN_JS = 'dist/src/main.js';
/**
 * The node flags `npm start` gives the service (V8's heap settings), read from package.json's start script so that
 * the tests, the bench and the Dockerfile's check run the service exactly as it ships.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = serviceNodeFlags();
export const CLI_JS = 'dist/src/cli.js';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript entry point of this repo with tsx, as the dev scripts do, and collects its output. */
export function runTs(script: string, args: string[], env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<ProcessResult> {
  return run(TSX, [script, ...args], env, timeoutMs);
}

/** Runs a compiled entry point (`node dist/src/cli.js …`), as production does, and collects its output. */
export function runCompiled(
  script: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<ProcessResult> {
  return run(process.execPath, [script, ...args], env, timeoutMs);
}

function run(command: string, args: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<ProcessResult> {
  const script = args.join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function serviceNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const m = /\bexec node ((?:--\S+ )*)dist\/src\/main\.js$/.exec(pkg.scripts.start);
  if (!m) throw new Error(`package.json's start script does not end in "exec node [flags] dist/src/main.js": ${pkg.scripts.start}`);
  return m[1]!.split(' ').filter(Boolean);
}
