import type { Server } from 'node:http';
import { createHttpApp } from './api/http-app.ts';
import { bootstrap } from './bootstrap.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';

// Boot: config → database → API → graceful stop.

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
const logger = createLogger(config.LOG_LEVEL);

const runtime = await bootstrap(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'start-up failed');
  process.exit(1);
});

if (config.CREATE_DEMO_APP && (await runtime.services.apps.count()) === 0) {
  const { app, apiKey } = await runtime.services.apps.create('demo');
  // Printed once, on stdout, for the person who just ran `npm start`; only its hash is stored.
  console.log(`\nCreated app "demo" (${app.id}). Its API key, shown only this once:\n\n  ${apiKey}\n`);
}

const app = createHttpApp({ services: runtime.services, db: runtime.deps.db, logger });
const server: Server = app.listen(config.PORT, config.HOST, () => {
  logger.info({ port: config.PORT, host: config.HOST }, `connections service listening on http://${config.HOST}:${config.PORT}`);
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  server.close();
  server.closeAllConnections();
  await runtime.database.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
