import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { inject } from 'vitest';
import { createDataSource } from '../../src/db/data-source.ts';
import { withDatabase } from './pg-urls.ts';

export interface TestDatabase {
  name: string;
  url: string;
  db: DataSource;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database for one test file: a clone of the migrated template, or empty when `empty` is set. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  // The global setup's pid prefixes every clone so its teardown can find leftovers.
  const template = inject('templateDatabase');
  const pid = template.replace('cs_template_', '');
  const name = `cs_test_${pid}_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(options.empty ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${template}`));
  const url = withDatabase(inject('pgAdminUrl'), name);
  // Tests assert on errors they provoke; TypeORM's own logging of them is noise.
  const db = createDataSource({ url, poolSize: 10, logging: false });
  await db.initialize();
  return {
    name,
    url,
    db,
    async drop() {
      if (db.isInitialized) await db.destroy();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
