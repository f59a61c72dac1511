import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreparedStatement, preparedOnFirstRun } from '../../src/db/prepared-statement.ts';
import { createDataSource } from '../../src/db/data-source.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

// A PreparedStatement is parsed once per pooled connection and then only executed; it still runs through
// TypeORM's query(), in the caller's transaction, with TypeORM's errors.

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

describe('PreparedStatement', () => {
  it('is prepared once on a connection and answers like query()', async () => {
    const single = createDataSource({ url: database.url, poolSize: 1, logging: false });
    await single.initialize();
    try {
      const statement = new PreparedStatement('SELECT $1::int + 1 AS n');
      for (let i = 0; i < 7; i++) expect(await statement.run(single, [i])).toEqual([{ n: i + 1 }]);
      const prepared: { name: string }[] = await single.query(`SELECT name FROM pg_prepared_statements WHERE name = $1`, [statement.name]);
      expect(prepared).toEqual([{ name: statement.name }]);
    } finally {
      await single.destroy();
    }
  });

  it('names each text by its digest, so two statements never collide on one connection', () => {
    const a = new PreparedStatement('SELECT 1');
    expect(new PreparedStatement('SELECT 1').name).toBe(a.name);
    expect(new PreparedStatement('SELECT 2').name).not.toBe(a.name);
  });

  it("runs in the caller's transaction: a rollback undoes its write", async () => {
    const insert = new PreparedStatement(`INSERT INTO applications (name, api_key_hash, api_key_prefix) VALUES ($1, 'h', 'p')`);
    await expect(
      database.db.transaction(async (m) => {
        await insert.run(m, ['prepared-rollback']);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await database.db.query(`SELECT 1 FROM applications WHERE name = 'prepared-rollback'`)).toEqual([]);
  });

  it("fails with TypeORM's QueryFailedError, carrying PostgreSQL's code", async () => {
    const bad = new PreparedStatement('SELECT 1 / $1::int AS n');
    await expect(bad.run(database.db, [0])).rejects.toMatchObject({ name: 'QueryFailedError', code: '22012' });
  });

  it('preparedOnFirstRun builds its text once, on the first run, from the database it runs on', async () => {
    let builds = 0;
    const statement = preparedOnFirstRun((db) => {
      builds++;
      return `SELECT count(*)::int AS n FROM ${db.getRepository('Application').metadata.tableName}`;
    });
    expect(builds).toBe(0);
    for (let i = 0; i < 3; i++) expect(await statement.run(database.db, [])).toEqual([{ n: expect.any(Number) }]);
    expect(builds).toBe(1);
  });
});
