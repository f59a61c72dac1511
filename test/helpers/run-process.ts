import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
/** The compiled entry points production runs (built by global-setup.ts before any test file). */
export const MAIN_JS = 'dist/src/main.js';
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
