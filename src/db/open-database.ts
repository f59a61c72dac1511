import path from 'node:path';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.ts';
import { createDataSource } from './data-source.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';

export interface OpenDatabase {
  db: DataSource;
  /** Whether the embedded server was used. */
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL in DATA_DIR/pg (started, or joined if another local
 * process already runs it). Migrations are applied when `migrate` is set.
 */
/** What opening the database reads of the configuration (config.ts's Config has these). */
export interface DatabaseSettings {
  DATABASE_URL?: string | undefined;
  DATA_DIR: string;
  EMBEDDED_PG_PORT: number;
  DB_POOL_SIZE: number;
}

export async function openDatabase(config: DatabaseSettings, logger: Logger, options: { migrate: boolean }): Promise<OpenDatabase> {
  let url = config.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | null = null;
  if (!url) {
    const started = Date.now();
    const pg = await startEmbeddedPostgres({
      databaseDir: path.join(config.DATA_DIR, 'pg'),
      port: config.EMBEDDED_PG_PORT,
      database: 'connections',
      persistent: true,
      onLog: (line) => logger.debug({ component: 'embedded-postgres' }, line),
      onNotice: (message) => logger.info({ component: 'embedded-postgres' }, message),
    });
    url = pg.url;
    stopEmbedded = () => pg.stop();
    logger.info(
      { dataDir: path.resolve(config.DATA_DIR), port: config.EMBEDDED_PG_PORT, reused: pg.reused, ms: Date.now() - started },
      pg.reused ? 'joined the embedded PostgreSQL already running on DATA_DIR' : 'embedded PostgreSQL started',
    );
  }
  const db = createDataSource({ url, poolSize: config.DB_POOL_SIZE, logger });
  try {
    await db.initialize();
    if (options.migrate) {
      const applied = await withMigrationLock(url, () => db.runMigrations({ transaction: 'each' }));
      if (applied.length) logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
    }
  } catch (error) {
    if (db.isInitialized) await db.destroy();
    await stopEmbedded?.();
    throw error;
  }
  return {
    db,
    embedded: stopEmbedded !== null,
    async close() {
      if (db.isInitialized) await db.destroy();
      await stopEmbedded?.();
    },
  };
}

/** Any key will do, as long as every process uses the same one. */
const MIGRATION_LOCK_KEY = 7_248_311_001;

/**
 * Replicas that start together must not apply the same migration twice (TypeORM takes no lock): the first holds a
 * session-level advisory lock while it migrates, the others wait for it and then find nothing pending.
 */
export async function withMigrationLock<T>(url: string, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}
