import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/factories.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

// The hosted pages under malformed input, the way the tRPC fuzzer treats the API: junk in every form field, path,
// query and content type, with and without a valid CSRF token, on sessions at every step. Never a 5xx, and every
// session's page still answers afterwards. FUZZ_SEED replays a run.

let service: TestService;
let app: TestApp;
beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
});
afterAll(() => service.close());

const PIECES = [
  '',
  '\u0000',
  '%00',
  '%',
  '%zz',
  '&',
  '=',
  '==',
  '[]',
  '{}',
  '%ED%A0%80',
  '😀',
  'x'.repeat(40_000),
  '../',
  '<script>',
  '"',
  "'",
  '\r\n',
  'null',
  '-1',
  '1e999',
  'AU00000',
  'AU00200',
  'gavin',
];
const ACTIONS = ['consent', 'bank', 'credentials', 'redirect', 'challenge', 'cancel', 'nope', '%00', '..', 'status'];
const TYPES = [
  'application/x-www-form-urlencoded',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
  '',
  'application/x-www-form-urlencoded; charset=utf-16',
];

describe('hosted pages under malformed input', () => {
  it('1,500 junk requests: no 5xx, and every session still answers', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20261202);
    console.log(`connect pages fuzz: seed ${seed}`);
    const random = seededRandom(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const junk = (n: number) => Array.from({ length: n }, () => pick(PIECES)).join('');

    // Three sessions: at consent, at the choice of bank, at sign-in (each with its page's CSRF token).
    const sessions: { id: string; url: string; token: string; csrf: string }[] = [];
    for (const [input, advance] of [
      [{}, []],
      [{}, ['consent']],
      [{ institutionId: 'AU00000' }, ['consent']],
    ] as const) {
      const created = await app.client.connectSessions.create.mutate({ userId: `fuzzed-${sessions.length}`, ...input });
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await fetch(created.url)).text())![1]!;
      for (const action of advance)
        await fetch(`${created.url}/${action}`, {
          method: 'POST',
          headers: { origin: service.url, 'content-type': 'application/x-www-form-urlencoded' },
          body: `_csrf=${csrf}`,
          redirect: 'manual',
        });
      sessions.push({ ...created, token: created.url.split('/').at(-1)!, csrf });
    }
    const statuses: Record<number, number> = {};
    const bad: string[] = [];
    const record = async (label: string, res: Response) => {
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status >= 500) bad.push(`${res.status} ${label}: ${(await res.text()).slice(0, 200)}`);
      else await res.arrayBuffer();
    };

    for (let i = 0; i < 1_500; i++) {
      const { token, csrf } = pick(sessions);
      const action = pick(ACTIONS);
      const t = random() < 0.8 ? token : random() < 0.5 ? `${token.slice(0, 42)}A` : junk(1);
      const fields = new URLSearchParams({ _csrf: random() < 0.7 ? csrf : junk(1) });
      for (const name of ['institutionId', 'cred_loginId', 'cred_password', 'cred_securityCode', 'response', junk(1)])
        if (random() < 0.5) fields.set(name, junk(1 + Math.floor(random() * 3)));
      const body = random() < 0.2 ? junk(3) : fields.toString();
      const type = pick(TYPES);
      const path = `/connect/${encodeURIComponent(t)}/${action}${random() < 0.2 ? `?${junk(2)}` : ''}`;
      const get = random() < 0.1;
      const res = await fetch(`${service.url}${path}`, {
        method: get ? 'GET' : 'POST',
        headers: { origin: service.url, ...(type ? { 'content-type': type } : {}) },
        redirect: 'manual',
        ...(get ? {} : { body }),
      });
      await record(`${action} (${type || 'no type'})`, res);
    }
    for (let i = 0; i < 100; i++) {
      const { token } = pick(sessions);
      const path = pick([
        `/connect/callback?${junk(5)}`,
        `/connect/callback?state=${junk(3)}&code=x`,
        `/sandbox/bank/authorize?${junk(4)}`,
        `/connect/${token}?q=${junk(3)}`,
        `/connect/${token}/status?${junk(2)}`,
        `/connect/assets/${junk(1)}`,
        `/connect/${junk(2)}`,
      ]);
      await record(`GET ${path.slice(0, 60)}`, await fetch(`${service.url}${path}`, { redirect: 'manual' }));
    }
    await record(
      'the bank',
      await fetch(`${service.url}/sandbox/bank/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: junk(30),
        redirect: 'manual',
      }),
    );

    console.log('connect pages fuzz: answers by status', statuses);
    expect(bad).toEqual([]);
    expect(statuses[303]).toBeGreaterThan(0); // some requests got through their checks, so the deep paths ran
    for (const { id, url } of sessions) {
      expect((await fetch(url)).status).toBe(200);
      expect((await app.client.connectSessions.get.query({ id })).status).toMatch(
        /^(in-progress|awaiting-user|completed|failed|cancelled)$/,
      );
    }
  }, 120_000);
});
