import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

// `migration:run` on an empty database, then what `migration:generate` would write: nothing.

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase({ empty: true });
});
afterAll(() => database.drop());

describe('migrations', () => {
  it('bring an empty database exactly to the entities: generate finds no difference', async () => {
    expect(await database.db.showMigrations()).toBe(true); // pending on an empty database
    const applied = await database.db.runMigrations({ transaction: 'each' });
    expect(applied.length).toBeGreaterThan(0);
    expect(await database.db.showMigrations()).toBe(false);

    // The same comparison `typeorm migration:generate` makes.
    const sql = await database.db.driver.createSchemaBuilder().log();
    expect(sql.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('revert cleanly, all the way down, and apply again', async () => {
    const count = (await database.db.query('SELECT count(*)::int AS n FROM typeorm_migrations'))[0].n as number;
    for (let i = 0; i < count; i++) await database.db.undoLastMigration({ transaction: 'each' });
    const tables = await database.db.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'typeorm_migrations'`,
    );
    expect(tables).toEqual([]);
    await database.db.runMigrations({ transaction: 'each' });
    expect((await database.db.driver.createSchemaBuilder().log()).upQueries).toEqual([]);
  });

  it('the database refuses an error outside the error states (seed 001)', async () => {
    await database.db.query(`INSERT INTO applications (name, api_key_hash, api_key_prefix) VALUES ('a', 'h', 'p')`);
    await database.db.query(
      `INSERT INTO institutions (id, name, country, provider_key, method, datasets) VALUES ('ZZ1', 'z', 'ZZ', 'sandbox', 'built-in', '{}')`,
    );
    const insert = (state: string, error: string | null) =>
      database.db.query(
        `INSERT INTO connections (id, app_id, user_id, institution_id, method, service_provider, state, error, version)
         SELECT gen_random_uuid(), id, 'u', 'ZZ1', 'built-in', 'sandbox', $1, $2::jsonb, 1 FROM applications LIMIT 1`,
        [state, error],
      );
    const err = JSON.stringify({ category: 'technical', origin: 'provider', code: 'generic', message: 'x', attributes: {} });
    await expect(insert('completed-up-to-date', err)).rejects.toThrow(/ck_connections_error_iff_error_state/);
    await expect(insert('creation-failed', null)).rejects.toThrow(/ck_connections_error_iff_error_state/);
    await expect(insert('creation-failed', err)).resolves.toBeDefined();
    await expect(insert('completed-up-to-date', null)).resolves.toBeDefined();
  });
});
