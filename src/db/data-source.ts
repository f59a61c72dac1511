import { fileURLToPath } from 'node:url';
import { DataSource, type LoggerOptions } from 'typeorm';
import { entities } from '../../entities/index.ts';
import { SnakeNamingStrategy } from './naming-strategy.ts';

const migrationsGlob = fileURLToPath(new URL('../../migrations/*.{ts,js}', import.meta.url));

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  logging?: LoggerOptions;
  applicationName?: string;
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
    poolSize: options.poolSize ?? 10,
    applicationName: options.applicationName ?? 'connections-service',
    extra: {
      // Fail fast instead of queueing forever when the pool is exhausted or the server is gone.
      connectionTimeoutMillis: 10_000,
    },
  });
}
