import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.ts';
import { runTs, SERVICE_NODE_FLAGS } from '../helpers/run-process.ts';
import { startServiceProcess, waitUntil, type ServiceProcess } from '../helpers/service-process.ts';
import { createClient } from '../helpers/test-service.ts';

// What a newcomer does: `npm start` with nothing configured (embedded PostgreSQL in DATA_DIR), then a
// @trpc/client script with the printed key; then a second start that reuses the data.

const dataDir = mkdtempSync(path.join(tmpdir(), 'cs-start-'));
chmodSync(dataDir, 0o755); // the embedded cluster runs as the postgres user when we are root
const running: ServiceProcess[] = [];

afterAll(async () => {
  for (const p of running) p.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every line a service process printed, on stdout or stderr, is one JSON object (pino's). */
function expectOnlyJsonLines(output: string): void {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
}

describe('npm start on a fresh machine', () => {
  it(
    'starts embedded, prints a key once, serves a @trpc/client script, stops on SIGTERM to npm, restarts on the same data',
    { timeout: 120_000 },
    async () => {
      const [port, pgPort] = [await freePort(), await freePort()];
      // No grace: a job still running at SIGTERM is handed back to the queue at once.
      const env = {
        DATA_DIR: dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        EMBEDDED_PG_PORT: String(pgPort),
        DATABASE_URL: '',
        CREDENTIALS_KEYS: '',
        SHUTDOWN_GRACE_MS: '0',
      };

      // The process a supervisor signals is npm itself (npm runs `sh -c`, and dash passes no signal on).
      const first = startServiceProcess(env, { via: 'npm' });
      running.push(first);
      const [, apiKey] = await first.waitFor(/"demoApiKey":"(csk_[A-Za-z0-9_-]{43})"/, 60_000);
      await first.waitFor(/listening on/);
      expect(first.output()).toContain('embedded PostgreSQL started');

      const health = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(await health.json()).toEqual({ status: 'ready' });

      const demo = await runTs('scripts/client-demo.ts', [], { SERVICE_URL: `http://127.0.0.1:${port}`, API_KEY: apiKey! }, 60_000);
      expect(demo.stderr).not.toMatch(/Error/);
      expect(demo.code).toBe(0);
      const lines = Object.fromEntries(
        demo.stdout
          .trim()
          .split('\n')
          .filter((l) => l.includes(' '))
          .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]),
      );
      expect(JSON.parse(lines.job!)).toMatchObject({ status: 'succeeded' });
      expect(JSON.parse(lines.get!)).toMatchObject({ status: 'ACTIVE', state: 'completed-up-to-date' });
      const list = JSON.parse(lines.list!);
      expect(list.page1).toHaveLength(2);
      expect(list.page2).toHaveLength(1);
      expect(list.end).toBe(true);
      expect(JSON.parse(lines.updated!)).toMatchObject({ name: 'Everyday banking' });
      expect(JSON.parse(lines.deleteAll!).deletedIds).toHaveLength(2);
      expect(demo.stdout).toContain('demo complete');

      // A job in flight when the stop comes: the sandbox's `slow` user takes about a second per call.
      const client = createClient(`http://127.0.0.1:${port}`, apiKey);
      const { job } = await client.connections.create.mutate({
        userId: 'sigterm-user',
        institutionId: 'AU00000',
        credentials: { loginId: 'slow', password: 'x' },
      });
      await waitUntil(async () => (await client.jobs.get.query({ id: job!.id })).status === 'running', 30_000, 'the slow job to run');
      const servicePid = (
        JSON.parse(
          first
            .output()
            .split('\n')
            .find((l) => l.includes('listening on'))!,
        ) as { pid: number }
      ).pid;
      expect(servicePid).toBeTypeOf('number');
      expect(servicePid).not.toBe(first.child.pid);
      // What npm start runs is the compiled build: node itself on dist/, no TypeScript loader in the process.
      const commandLine = readFileSync(`/proc/${servicePid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      expect(commandLine.slice(1)).toEqual([...SERVICE_NODE_FLAGS, 'dist/src/main.js']);

      first.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(first.output()).toMatch(/"msg":"stopping"/);
      expect(first.output()).toMatch(/"released":1,.*"msg":"released unfinished jobs to the queue"/);
      expect(first.output()).toMatch(/"msg":"stopped"/);
      expect(() => process.kill(servicePid, 0)).toThrow(); // the service itself is gone, not orphaned
      expectOnlyJsonLines(first.output());

      // Second start: same data, no new key, the old key still works.
      const second = startServiceProcess(env);
      running.push(second);
      await second.waitFor(/listening on/, 60_000);
      expect(second.output()).not.toMatch(/csk_/);
      const res = await fetch(
        `http://127.0.0.1:${port}/trpc/institutions.get?input=${encodeURIComponent(JSON.stringify({ json: { id: 'DE00000' } }))}`,
        {
          headers: { authorization: `Bearer ${apiKey}` },
        },
      );
      expect(res.status).toBe(200);
      // The released job runs again on the second start and completes.
      const resumed = await waitUntil(
        async () => {
          const j = await client.jobs.get.query({ id: job!.id });
          return j.status === 'succeeded' ? j : null;
        },
        60_000,
        'the released job to complete',
      );
      expect(resumed.attempts).toBe(2);
      second.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    },
  );

  it('a bad setting stops start-up with a message naming the variable', async () => {
    const bad = startServiceProcess({ PORT: 'eighty', DATA_DIR: dataDir });
    running.push(bad);
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toMatch(/PORT/);
    expectOnlyJsonLines(bad.output());
    expect(JSON.parse(bad.output().trim())).toMatchObject({ level: 60, problems: [expect.stringMatching(/^PORT: /)] });
  });
});
