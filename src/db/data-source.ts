import { fileURLToPath } from 'node:url';
import { DataSource, type LoggerOptions } from 'typeorm';
import { entities } from '../../entities/index.ts';
import type { Logger } from '../logger.ts';
import { SnakeNamingStrategy } from './naming-strategy.ts';
import { PinoTypeOrmLogger } from './typeorm-logger.ts';

// The migrations beside this file's own tree: migrations/*.ts when running the sources (tsx, the tests), and
// dist/migrations/*.js when running the build, which must not pick up the emitted .d.ts files.
const migrationsGlob = fileURLToPath(new URL(`../../migrations/*.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  logging?: LoggerOptions;
  applicationName?: string;
  /** Where TypeORM's own lines go, as JSON (the service's processes). Without it, TypeORM's console logger. */
  logger?: Logger;
}

/** The one DataSource definition, shared by the service, the CLI, the TypeORM CLI and the tests. */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    entities,
    migrations: [migrationsGlob],
    migrationsTableName: 'typeorm_migrations',
    // The schema only ever changes through reviewed migrations.
    synchronize: false,
    migrationsRun: false,
    namingStrategy: new SnakeNamingStrategy(),
    uuidExtension: 'pgcrypto',
    logging: options.logging ?? ['error', 'warn'],
    ...(options.logger
      ? {
          logger: new PinoTypeOrmLogger(options.logger),
          // An idle pooled connection that dies (the server restarted) is dropped from the pool; say so once, as JSON.
          poolErrorHandler: (error: Error) =>
            options.logger!.warn({ err: error, component: 'pg-pool' }, 'a pooled database connection failed'),
        }
      : {}),
    poolSize: options.poolSize ?? 10,
    applicationName: options.applicationName ?? 'connections-service',
    extra: {
      // Fail fast instead of queueing forever when the pool is exhausted or the server is gone.
      connectionTimeoutMillis: 10_000,
    },
  });
}
