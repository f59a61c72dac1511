import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MAIN_JS, ROOT, SERVICE_NODE_FLAGS } from './run-process.ts';

export interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Waits until the output matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * The service as a real process with the given environment: `node dist/src/main.js`, the compiled code `npm start`
 * runs (global-setup.ts builds it once per run), or with `via: 'npm'` the `npm start` process itself, as a
 * supervisor or a person at a terminal starts it, so that signals go to npm exactly as they would there.
 */
export function startServiceProcess(env: Record<string, string>, options: { via?: 'node' | 'npm' } = {}): ServiceProcess {
  // Under `npm test`, npm_execpath is the npm that runs us: use the same one.
  const [command, args] =
    options.via === 'npm'
      ? process.env.npm_execpath
        ? [process.execPath, [process.env.npm_execpath, 'start', '--silent']]
        : ['npm', ['start', '--silent']]
      : [process.execPath, [...SERVICE_NODE_FLAGS, MAIN_JS]];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', DATA_DIR: mkdtempSync(path.join(tmpdir(), 'cs-proc-')), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    kill: (signal) => child.kill(signal),
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${pattern}\n--- output ---\n${out.slice(-4000)}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
  };
}

export async function waitUntil<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
