import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/factories.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';
import { createFuzzFixtures } from '../fuzz/fixtures.ts';
import { FINGERPRINT_SQL, fuzz, PROCEDURES } from '../fuzz/fuzzer.ts';

// The seeded fuzzer over every procedure, on the real HTTP stack: no 5xx, every 400 names what was wrong, no
// rejected mutation changes a row. The suite runs a sample; `npm run fuzz -- --cases 10000` runs the full set
// against an `npm start` process. FUZZ_SEED replays a run.

const CASES = Number(process.env.FUZZ_CASES ?? 1_200);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

let service: TestService;
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  service = await startTestService();
  [app, other] = [await createTestApp(service), await createTestApp(service)];
});
afterAll(() => service.close());

describe('fuzzing every procedure', () => {
  it(`${CASES} cases: no 5xx, every 400 names a field, no rejected mutation writes`, { timeout: 300_000 }, async () => {
    const runner = service.runner();
    const fixtures = await createFuzzFixtures(app.client, other.client, async () => void (await runner.drain()));
    console.log(`fuzz seed ${SEED} (${CASES} cases over ${PROCEDURES.length} procedures; replay with FUZZ_SEED=${SEED})`);
    const report = await fuzz(
      {
        baseUrl: service.url,
        apiKey: app.apiKey,
        fixtures,
        fingerprint: async () => (await service.database.db.query(FINGERPRINT_SQL))[0].fingerprint as string,
      },
      { seed: SEED, cases: CASES },
    );
    console.log(`fuzz seed ${SEED}: answers by status ${JSON.stringify(report.byStatus)}`);
    expect(report.failures.slice(0, 10), `seed ${SEED}`).toEqual([]);
    expect(Object.keys(report.byStatus)).toContain('400');
  });
});
