// Entry point for the TypeORM CLI (`npm run migration:*`). It works against DATABASE_URL only, never an embedded server,
// so that a migration is always generated and applied against the database you meant.
import { createDataSource } from './data-source.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is required for migration commands (e.g. DATABASE_URL=postgres://user:pass@localhost:5432/db).');
  process.exit(1);
}

export default createDataSource({ url, logging: ['error', 'warn', 'migration'] });
