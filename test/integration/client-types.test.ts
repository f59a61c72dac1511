import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/run-process.ts';

// The client packages under test/clients/ are apps as people start them (strict NodeNext, create-next-app,
// create-vite, exactOptionalPropertyTypes), each with its template's flags and no other. Each one installs this repo
// as `connections-service` (here: node_modules/connections-service → the repo, as `npm link` would) and compiles
// `connections-service/router`, which `exports` points at the emitted declarations in dist/ (global-setup builds it).
// They share one source, test/clients/connections.ts, copied into each before it compiles (where its template keeps
// its code): what differs between them is only how each compiles it.

const CLIENTS_DIR = path.join(ROOT, 'test/clients');
const CLIENTS = readdirSync(CLIENTS_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const SOURCE = path.join(CLIENTS_DIR, 'connections.ts');
/** Where each app keeps its code (Next.js: lib/; the others: src/). */
const sourceDir = (client: string) => path.join(CLIENTS_DIR, client, client === 'next-app' ? 'lib' : 'src');

interface TscRun {
  code: number | null;
  output: string;
  /** Every file the compilation loaded (tsc --listFiles), relative to the repo. */
  files: string[];
}

function tsc(args: string[]): Promise<TscRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSC, ...args, '--listFiles', '--pretty', 'false'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = output.split('\n').map((l) => l.trim());
      const files = lines.filter((l) => l.startsWith('/')).map((l) => path.relative(ROOT, l));
      resolve({ code, output: lines.filter((l) => l && !l.startsWith('/')).join('\n'), files });
    });
  });
}

const runs = new Map<string, Promise<TscRun>>();
let probeDir: string;

beforeAll(() => {
  for (const client of CLIENTS) {
    const modules = path.join(CLIENTS_DIR, client, 'node_modules');
    rmSync(modules, { recursive: true, force: true });
    mkdirSync(modules);
    symlinkSync(ROOT, path.join(modules, 'connections-service'), 'dir');
    mkdirSync(sourceDir(client), { recursive: true });
    copyFileSync(SOURCE, path.join(sourceDir(client), 'connections.ts'));
    // All four at once: each is one tsc process, and they do not share state.
    runs.set(client, tsc(['-p', path.join(CLIENTS_DIR, client)]));
  }
});

afterAll(async () => {
  await Promise.allSettled(runs.values());
  for (const client of CLIENTS) {
    rmSync(path.join(CLIENTS_DIR, client, 'node_modules'), { recursive: true, force: true });
    rmSync(sourceDir(client), { recursive: true, force: true });
  }
  if (probeDir) rmSync(probeDir, { recursive: true, force: true });
});

describe('a client of connections-service/router type-checks with its own flags only', () => {
  it('has the four client packages', () => {
    expect(CLIENTS.sort()).toEqual(['exact-optional', 'next-app', 'node-strict', 'vite-app']);
  });

  it.each(CLIENTS)('%s: no type error (outputs are not any; a wrong input is an error)', { timeout: 180_000 }, async (client) => {
    const run = await runs.get(client)!;
    expect(run.output).toBe('');
    expect(run.code).toBe(0);
    // It compiled the emitted declarations, not the service's sources.
    expect(run.files).toContain('dist/src/api/app-router.d.ts');
    expect(run.files.filter((f) => f.startsWith('src/') || f.startsWith('entities/'))).toEqual([]);
  });

  it("the router's context declaration reaches no TypeORM type", { timeout: 120_000 }, async () => {
    // The router's type carries its context type; the context names a small ApiServices interface (src/api/api-context.ts),
    // so compiling it alone loads no service, entity or TypeORM file.
    probeDir = mkdtempSync(path.join(tmpdir(), 'cs-context-types-'));
    writeFileSync(
      path.join(probeDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules/@types')],
        },
        files: [path.join(ROOT, 'dist/src/api/api-context.d.ts')],
      }),
    );
    const run = await tsc(['-p', probeDir]);
    expect(run.output).toBe('');
    expect(run.files).toContain('dist/src/api/api-context.d.ts');
    expect(run.files.filter((f) => /typeorm|entities\/|\.service\.d\.ts$/.test(f))).toEqual([]);
  });

  // Outputs are typed by their zod schemas, not by what services return (whose declarations import entities, and
  // with them TypeORM); the routers' meta is ProcedureMeta, not trpc-to-openapi's (whose declarations need fastify,
  // koa and next). Either slip would load those here.
  it.each(CLIENTS)('%s: the compilation loads no TypeORM and no trpc-to-openapi type', { timeout: 180_000 }, async (client) => {
    const run = await runs.get(client)!;
    expect(run.files.filter((f) => f.includes('node_modules/trpc-to-openapi/'))).toEqual([]);
    const typeorm = run.files.filter((f) => f.includes('node_modules/typeorm/'));
    // On failure, the service's declarations that were loaded say which outputs bring entities in.
    const via = run.files.filter((f) => /^dist\/(entities\/|src\/.*\.(service|presenter|repository)\.d\.ts$)/.test(f));
    expect(typeorm.length, `${typeorm.length} TypeORM files loaded; the service's declarations loaded: ${via.join(', ')}`).toBe(0);
  });
});
