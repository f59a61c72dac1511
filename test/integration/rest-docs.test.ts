import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRunner } from '../../src/jobs/job-runner.ts';
import { createTestApp, type TestApp } from '../helpers/factories.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

// Every curl example of docs/rest.md, run as written with the real curl against a real service (and a job runner,
// so jobs move on as they would in production). $CS_URL and $CS_KEY are the only things the test provides.

const run = promisify(execFile);
const DOC = readFileSync(new URL('../../docs/rest.md', import.meta.url), 'utf8');
/** The ```sh blocks that call the API (the one that sets CS_URL and CS_KEY is the test's to provide). */
const curlBlocks = (markdown: string) =>
  [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('curl'));
const blocks = curlBlocks(DOC);
/** The README's five-minute tour, run the same way. */
const TOUR = curlBlocks(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'));

/** Runs the blocks in one shell, in order, and answers each block's output. */
async function runBlocks(list: string[], env: Record<string, string>, prelude: string[] = []): Promise<string[]> {
  const script = ['set -euo pipefail', ...prelude, ...list.flatMap((b, i) => [`printf "\\n@@block ${i}\\n"`, b])].join('\n');
  const { stdout } = await run('bash', ['-c', script], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 100_000 }).catch(
    (e: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`an example failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    },
  );
  return stdout.split(/^@@block \d+\n/m).slice(1);
}

let service: TestService;
let app: TestApp;
let runner: JobRunner;
beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
  runner = service.runner({ pollMs: 50 });
  await runner.start();
});
afterAll(async () => {
  await runner.stop();
  await service.close();
});

describe('docs/rest.md', () => {
  it('has curl examples for auth, create, get, list, pagination, refresh, a challenge, delete, idempotency and errors', () => {
    const all = blocks.join('\n');
    for (const call of [
      '/api/v1/app',
      'POST "$CS_URL/api/v1/connections"',
      '/api/v1/connections?',
      'cursor=',
      '/refresh',
      '/challenge',
      'DELETE',
      'idempotency-key',
    ]) {
      expect(all).toContain(call);
    }
    expect(blocks.length).toBeGreaterThanOrEqual(10);
  });

  it(
    'every example runs against the service, in order, and the error example answers 400 naming the field',
    { timeout: 120_000 },
    async () => {
      // One shell for all blocks, in the order of the page, so a later example uses what an earlier one set
      // (CONNECTION_ID, JOB_ID); a marker before each block tells whose output is whose.
      const outputs = await runBlocks(blocks, { CS_URL: service.url, CS_KEY: app.apiKey });
      expect(outputs).toHaveLength(blocks.length);

      const errorBlock = blocks.findIndex((b) => b.includes('"userId": ""'));
      expect(errorBlock).toBeGreaterThan(0);
      const [body, status] = outputs[errorBlock]!.trim().split('\n');
      expect(status).toBe('400');
      expect(JSON.parse(body!)).toMatchObject({ code: 'BAD_REQUEST', issues: [{ path: ['userId'], message: 'must not be empty' }] });

      // What the examples did is what the service holds: the challenge answered, the first connection deleted.
      const idempotent = blocks.findIndex((b) => b.includes('idempotency-key'));
      expect(outputs[idempotent]).toMatch(/HTTP\/1.1 201[\s\S]*HTTP\/1.1 201[\s\S]*idempotent-replayed: true/i);
      const connections = (await service.database.db.query(
        'SELECT user_id, count(*)::int AS n FROM connections WHERE app_id = $1 GROUP BY user_id ORDER BY user_id',
        [app.id],
      )) as unknown[];
      expect(connections).toEqual([
        { user_id: 'user-42', n: 1 },
        { user_id: 'user-43', n: 1 },
      ]);
    },
  );

  it(
    "README's tour runs as written: banks, a connection, its accounts, a 400 naming the field, a connect session",
    { timeout: 120_000 },
    async () => {
      const tourApp = await createTestApp(service);
      expect(TOUR.length).toBeGreaterThanOrEqual(5);
      // The tour's answers go to a terminal, one after another; a newline after each keeps them apart here.
      const newlineAfterEach = 'curl() { command curl "$@"; echo; }';
      const outputs = (await runBlocks(TOUR, { CS_URL: service.url, CS_KEY: tourApp.apiKey }, [newlineAfterEach])).map((o) => o.trim());
      const json = (i: number) => outputs[i]!.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      const at = (needle: string) => TOUR.findIndex((b) => b.includes(needle));
      expect(json(at('/institutions'))[0]).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'AU00000' })]));
      expect(json(at('"userId":"user-42"'))[0]).toMatchObject({
        connection: { userId: 'user-42', institutionId: 'AU00000' },
        job: { kind: 'create' },
      });
      expect(json(at('"userId":""'))[0]).toMatchObject({ code: 'BAD_REQUEST', issues: [{ path: ['userId'] }] });
      expect(json(at('/connect-sessions'))[0]).toMatchObject({ url: expect.stringContaining('/connect/') });
      const [connections] = json(at('/connections?userId=user-42'));
      expect(connections).toMatchObject({ items: [{ userId: 'user-42' }] });
    },
  );
});
