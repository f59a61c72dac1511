import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { register } from 'tsx/esm/api';
import type { TestProject } from 'vitest/node';
import { createDataSource } from '../../src/db/data-source.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { freePort } from './free-port.ts';
import { withDatabase } from './pg-urls.ts';
import { ROOT } from './run-process.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL on the test server with rights to CREATE DATABASE. */
    pgAdminUrl: string;
    /** A migrated database each test file clones (CREATE DATABASE … TEMPLATE). */
    templateDatabase: string;
  }
}

/**
 * One PostgreSQL for the whole run: DATABASE_URL when set, otherwise a throwaway embedded cluster. Migrations run
 * once, into a template database; every test file clones it, which takes milliseconds and isolates files fully.
 */
export default async function setup(project: TestProject) {
  // The service's processes in tests run the compiled code, as production does: build it once, here, when dist/ is
  // missing or older than the sources (tsc takes seconds).
  const build = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed (see above): the service processes of the tests run dist/');
  // TypeORM imports the migrations/*.ts files itself, outside Vite's transform: let Node load TypeScript here too.
  const unregister = register();
  let adminUrl: string;
  let stopServer = async () => {};
  let tmp: string | null = null;
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
  } else {
    tmp = mkdtempSync(path.join(tmpdir(), 'cs-test-pg-'));
    // mkdtemp makes it 0700; as root, postgres runs as the `postgres` user, which must be able to enter it.
    chmodSync(tmp, 0o755);
    const server = await startEmbeddedPostgres({
      databaseDir: path.join(tmp, 'pg'),
      port: await freePort(),
      database: 'postgres',
      persistent: false,
    });
    adminUrl = server.adminUrl;
    stopServer = () => server.stop();
  }

  const templateDatabase = `cs_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase}`);
  await admin.query(`CREATE DATABASE ${templateDatabase}`);
  const template = createDataSource({ url: withDatabase(adminUrl, templateDatabase), poolSize: 1 });
  await template.initialize();
  await template.runMigrations({ transaction: 'each' });
  await template.destroy();
  await unregister();

  project.provide('pgAdminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    // Clones left behind by a crashed file would otherwise pile up on a shared DATABASE_URL server.
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'cs_test_${process.pid}_%' OR datname = $1`,
      [templateDatabase],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await admin.end();
    await stopServer();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
}
