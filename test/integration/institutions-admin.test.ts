import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { seededInstitutions } from '../../src/institutions/institution.seed.ts';
import { createLogger } from '../../src/logger.ts';
import { connectionInput } from '../helpers/factories.ts';
import { runTs } from '../helpers/run-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

// Institutions are data: the admin CLI adds, changes and disables them; INSTITUTIONS_FILE is upserted on start; the
// sandbox institutions are seeded only when SANDBOX_INSTITUTIONS is on (by default outside production).

const dir = mkdtempSync(path.join(tmpdir(), 'cs-institutions-'));
const keys = `t1:${randomBytes(32).toString('base64')}`;
const SANDBOX_IDS = seededInstitutions('http://127.0.0.1:9')
  .map((i) => i.id)
  .sort();

const plugIn = {
  id: 'GB10001',
  name: 'Example Bank',
  country: 'gb',
  method: 'plug-in',
  providerKey: 'example-plugin',
  providerUrl: 'https://provider.example.com/v1',
  datasets: ['BANK_ACCOUNT', 'BANK_TRANSACTION'],
  credentialFields: [
    { name: 'loginId', label: 'Customer number' },
    { name: 'password', label: 'Password', secret: true },
  ],
  minRefreshIntervalMinutes: 120,
};

/** Starts the service's runtime in this process (config → database → institutions), then stops it. */
async function boot(db: TestDatabase, env: Record<string, string>) {
  const config = loadConfig({ DATABASE_URL: db.url, DATA_DIR: dir, CREDENTIALS_KEYS: keys, ...env });
  return bootstrap(config, createLogger('silent'));
}

async function institutionIds(db: TestDatabase): Promise<string[]> {
  return (await db.db.query<{ id: string }[]>('SELECT id FROM institutions ORDER BY id')).map((r) => r.id);
}

describe('admin CLI: institutions', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    database = await createTestDatabase();
    env = { DATABASE_URL: database.url, DATA_DIR: dir, LOG_LEVEL: 'warn', CREDENTIALS_KEYS: keys };
  });
  afterAll(() => database.drop());
  const cli = (...args: string[]) => runTs('src/cli.ts', args, env);

  it('add, get, update, disable, list, enable: a round trip', { timeout: 120_000 }, async () => {
    const added = await cli('institutions:add', JSON.stringify(plugIn));
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({
      ...plugIn,
      country: 'GB',
      bankCode: null,
      signIn: 'credentials',
      status: 'operational',
      enabled: true,
      credentialFields: [
        { name: 'loginId', label: 'Customer number', secret: false, required: true },
        { name: 'password', label: 'Password', secret: true, required: true },
      ],
    });

    const again = await cli('institutions:add', JSON.stringify(plugIn));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('institution GB10001 exists');

    const file = path.join(dir, 'update.json');
    writeFileSync(file, JSON.stringify({ minRefreshIntervalMinutes: 30, name: 'Example Bank plc' }));
    const updated = await cli('institutions:update', 'GB10001', `@${file}`);
    expect(updated.stderr).toBe('');
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({
      id: 'GB10001',
      name: 'Example Bank plc',
      minRefreshIntervalMinutes: 30,
      providerUrl: plugIn.providerUrl,
    });

    const disabled = await cli('institutions:disable', 'GB10001');
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ id: 'GB10001', enabled: false });

    const listed = await cli('institutions:list');
    expect(listed.code).toBe(0);
    const rows = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; enabled: boolean });
    expect(rows).toContainEqual(expect.objectContaining({ id: 'GB10001', enabled: false, name: 'Example Bank plc' }));
    // NODE_ENV=test: the sandbox institutions are there too.
    for (const id of SANDBOX_IDS) expect(rows.map((r) => r.id)).toContain(id);

    const got = await cli('institutions:get', 'GB10001');
    expect(JSON.parse(got.stdout)).toMatchObject({ id: 'GB10001', enabled: false });
    const enabled = await cli('institutions:enable', 'GB10001');
    expect(JSON.parse(enabled.stdout)).toMatchObject({ id: 'GB10001', enabled: true });
  });

  it('refuses a bad institution naming each bad field, and writes nothing', { timeout: 60_000 }, async () => {
    const bad = await cli(
      'institutions:add',
      JSON.stringify({ ...plugIn, id: 'GB10002', providerUrl: undefined, datasets: ['BANK_ACCOUNT', 'STOCKS'], colour: 'red' }),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('datasets[1]:');
    expect(bad.stderr).toContain('colour');
    const missingUrl = await cli('institutions:add', JSON.stringify({ ...plugIn, id: 'GB10002', providerUrl: undefined }));
    expect(missingUrl.code).toBe(1);
    expect(missingUrl.stderr).toContain('providerUrl: is required for a plug-in institution');
    const badUpdate = await cli('institutions:update', 'AU00000', JSON.stringify({ method: 'plug-in' }));
    expect(badUpdate.code).toBe(1);
    expect(badUpdate.stderr).toContain('providerUrl: is required for a plug-in institution');
    expect(await institutionIds(database)).not.toContain('GB10002');
    const [{ method }] = await database.db.query(`SELECT method FROM institutions WHERE id = 'AU00000'`);
    expect(method).toBe('built-in');
  });
});

describe('start-up: sandbox institutions and INSTITUTIONS_FILE', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it(
    'production seeds no sandbox institution by default; development does; SANDBOX_INSTITUTIONS decides',
    { timeout: 60_000 },
    async () => {
      expect(await institutionIds(database)).toEqual([]);
      await (await boot(database, { NODE_ENV: 'production' })).database.close();
      expect(await institutionIds(database)).toEqual([]);
      await (await boot(database, { NODE_ENV: 'production', SANDBOX_INSTITUTIONS: 'true' })).database.close();
      expect(await institutionIds(database)).toEqual(SANDBOX_IDS);
      await database.db.query('DELETE FROM institutions');
      await (await boot(database, { NODE_ENV: 'development', SANDBOX_INSTITUTIONS: 'false' })).database.close();
      expect(await institutionIds(database)).toEqual([]);
      await (await boot(database, { NODE_ENV: 'development' })).database.close();
      expect(await institutionIds(database)).toEqual(SANDBOX_IDS);
      await database.db.query('DELETE FROM institutions');
    },
  );

  it(
    'INSTITUTIONS_FILE is upserted on every start, from replicas at once; a disabled one takes no new connection',
    { timeout: 60_000 },
    async () => {
      const file = path.join(dir, 'institutions.json');
      writeFileSync(file, JSON.stringify({ institutions: [plugIn, { ...plugIn, id: 'GB10003', name: 'Retired Bank', enabled: false }] }));
      // Two replicas starting together.
      const runtimes = await Promise.all([1, 2].map(() => boot(database, { NODE_ENV: 'production', INSTITUTIONS_FILE: file })));
      try {
        expect(await institutionIds(database)).toEqual(['GB10001', 'GB10003']);
        const rt = runtimes[0]!;
        expect((await rt.services.institutions.get('GB10001')).minRefreshIntervalMinutes).toBe(120);
        // Apps see enabled institutions only; the disabled one takes no new connections but can still be read.
        expect((await rt.services.institutions.list()).map((i) => i.id)).toEqual(['GB10001']);
        expect((await rt.services.institutions.get('GB10003')).enabled).toBe(false);
        const { app } = await rt.services.apps.create('institutions-file');
        const refused = await rt.services.connections.create(app.id, connectionInput({ institutionId: 'GB10003' })).then(
          () => null,
          (error: unknown) => error,
        );
        expect(refused).toBeInstanceOf(AppError);
        expect(refused).toMatchObject({
          code: 'PRECONDITION_FAILED',
          message: 'institution GB10003 is disabled and takes no new connections',
        });
        const session = await rt.services.connectSessions.create(app.id, { userId: 'u1', institutionId: 'GB10003', consentDays: 90 }).then(
          () => null,
          (error: unknown) => error,
        );
        expect(session).toMatchObject({
          code: 'PRECONDITION_FAILED',
          message: 'institution GB10003 is disabled and takes no new connections',
        });
        // Hosted Connect's bank search does not offer it either.
        expect((await rt.services.connectSessions.searchInstitutions('Bank')).map((i) => i.id)).toEqual(['GB10001']);
      } finally {
        await Promise.all(runtimes.map((rt) => rt.database.close()));
      }

      // The file changed: the next start makes the database say what it says.
      writeFileSync(file, JSON.stringify({ institutions: [{ ...plugIn, minRefreshIntervalMinutes: 15 }] }));
      const rt = await boot(database, { NODE_ENV: 'production', INSTITUTIONS_FILE: file });
      try {
        expect((await rt.services.institutions.get('GB10001')).minRefreshIntervalMinutes).toBe(15);
        // One it no longer lists is left as it was.
        expect((await rt.services.institutions.get('GB10003')).enabled).toBe(false);
      } finally {
        await rt.database.close();
      }
    },
  );

  it('a bad file stops start-up with an error naming the file and the field', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'bad-institutions.json');
    writeFileSync(file, JSON.stringify({ institutions: [plugIn, { ...plugIn, id: 'GB10004', providerUrl: null, country: 'Britain' }] }));
    const started = await runTs('src/main.ts', [], {
      DATABASE_URL: database.url,
      DATA_DIR: dir,
      CREDENTIALS_KEYS: keys,
      NODE_ENV: 'production',
      INSTITUTIONS_FILE: file,
      PORT: '0',
    });
    expect(started.code).toBe(1);
    const output = started.stdout + started.stderr;
    expect(output).toContain(`INSTITUTIONS_FILE (${file})`);
    expect(output).toContain('institutions[1].country: must be an ISO 3166-1 alpha-2 code');
    expect(output).toContain('institutions[1].providerUrl: is required for a plug-in institution');
    // Nothing of it was written.
    expect((await database.db.query(`SELECT count(*)::int AS n FROM institutions WHERE id = 'GB10004'`))[0].n).toBe(0);

    writeFileSync(file, '{ "institutions": [ ');
    const notJson = await runTs('src/main.ts', [], {
      DATABASE_URL: database.url,
      DATA_DIR: dir,
      CREDENTIALS_KEYS: keys,
      NODE_ENV: 'production',
      INSTITUTIONS_FILE: file,
      PORT: '0',
    });
    expect(notJson.code).toBe(1);
    expect(notJson.stdout + notJson.stderr).toContain('is not JSON');
  });
});
