// Starts the embedded PostgreSQL from DATA_DIR (as `npm start` would) and prints its DATABASE_URL, so the
// migration commands can run without a Postgres install:  npm run db:embedded  (then, in another shell,
// DATABASE_URL=<printed url> npm run migration:generate -- migrations/Name). Ctrl-C stops it.
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';

const config = loadConfig();
const db = await startEmbeddedPostgres({
  databaseDir: path.join(config.DATA_DIR, 'pg'),
  port: config.EMBEDDED_PG_PORT,
  database: process.argv[2] ?? 'connections',
  persistent: true,
});
console.log(db.url);
if (db.reused) process.exit(0);
const stop = () => void db.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
