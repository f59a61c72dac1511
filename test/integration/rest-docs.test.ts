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
const blocks = [...DOC.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('curl'));

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
    for (const call of ['/api/v1/app', 'POST "$CS_URL/api/v1/connections"', '/api/v1/connections?', 'cursor=', '/refresh', '/challenge', 'DELETE', 'idempotency-key']) {
      expect(all).toContain(call);
    }
    expect(blocks.length).toBeGreaterThanOrEqual(10);
  });

  it('every example runs against the service, in order, and the error example answers 400 naming the field', { timeout: 120_000 }, async () => {
    // One shell for all blocks, in the order of the page, so a later example uses what an earlier one set
    // (CONNECTION_ID, JOB_ID); a marker before each block tells whose output is whose.
    const script = ['set -euo pipefail', ...blocks.flatMap((b, i) => [`printf "\\n@@block ${i}\\n"`, b])].join('\n');
    const { stdout } = await run('bash', ['-c', script], {
      env: { PATH: process.env.PATH, CS_URL: service.url, CS_KEY: app.apiKey },
      timeout: 100_000,
    }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`a docs/rest.md example failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    });
    const outputs = stdout.split(/^@@block \d+\n/m).slice(1);
    expect(outputs).toHaveLength(blocks.length);

    const errorBlock = blocks.findIndex((b) => b.includes('"userId": ""'));
    expect(errorBlock).toBeGreaterThan(0);
    const [body, status] = outputs[errorBlock]!.trim().split('\n');
    expect(status).toBe('400');
    expect(JSON.parse(body!)).toMatchObject({ code: 'BAD_REQUEST', issues: [{ path: ['userId'], message: 'must not be empty' }] });

    // What the examples did is what the service holds: the challenge answered, the first connection deleted.
    const idempotent = blocks.findIndex((b) => b.includes('idempotency-key'));
    expect(outputs[idempotent]).toMatch(/HTTP\/1.1 201[\s\S]*HTTP\/1.1 201[\s\S]*idempotent-replayed: true/i);
    const connections = (await service.database.db.query('SELECT user_id, count(*)::int AS n FROM connections WHERE app_id = $1 GROUP BY user_id ORDER BY user_id', [app.id])) as unknown[];
    expect(connections).toEqual([
      { user_id: 'user-42', n: 1 },
      { user_id: 'user-43', n: 1 },
    ]);
  });
});
