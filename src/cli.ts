import { bootstrap } from './bootstrap.ts';
import { ConfigError, loadConfig } from './config.ts';
import { AppError } from './errors.ts';
import { createLogger } from './logger.ts';

// The admin command line: npm run cli -- <command> [args]. Output is JSON, one line per result, for scripts.

const HELP = `Usage: npm run cli -- <command> [args]

Commands:
  apps:create <name>      create an app; prints {"id","name","apiKey"} (the key is shown only here)
  apps:list               list apps (id, name, key prefix, created time), one JSON line each
  apps:rotate-key <id>    issue a new key for an app; the old key stops working at once
  apps:get <id>           one app with its redirect URIs
  apps:add-redirect-uri <id> <uri>
                          register a redirect URI for Hosted Connect (https, or http on loopback; matched exactly)
  apps:remove-redirect-uri <id> <uri>
                          unregister one; sessions already created with it still finish
  --help                  this text

Uses DATABASE_URL, or the embedded PostgreSQL in DATA_DIR (joining it if the service is running).`;

const [command, ...args] = process.argv.slice(2);

if (!command || command === '--help' || command === '-h' || command === 'help') {
  console.log(HELP);
  process.exit(command ? 0 : 1);
}

const commands: Record<string, { args: string[]; run: (rt: Awaited<ReturnType<typeof bootstrap>>) => Promise<void> }> = {
  'apps:create': {
    args: ['name'],
    async run(rt) {
      const { app, apiKey } = await rt.services.apps.create(args[0]!);
      console.log(JSON.stringify({ id: app.id, name: app.name, apiKey }));
    },
  },
  'apps:list': {
    args: [],
    async run(rt) {
      for (const app of await rt.services.apps.list()) console.log(JSON.stringify(app));
    },
  },
  'apps:rotate-key': {
    args: ['id'],
    async run(rt) {
      const { app, apiKey } = await rt.services.apps.rotateKey(args[0]!);
      console.log(JSON.stringify({ id: app.id, name: app.name, apiKey }));
    },
  },
  'apps:get': {
    args: ['id'],
    async run(rt) {
      console.log(JSON.stringify(await rt.services.apps.find(args[0]!)));
    },
  },
  'apps:add-redirect-uri': {
    args: ['id', 'uri'],
    async run(rt) {
      console.log(JSON.stringify(await rt.services.apps.addRedirectUri(args[0]!, args[1]!)));
    },
  },
  'apps:remove-redirect-uri': {
    args: ['id', 'uri'],
    async run(rt) {
      console.log(JSON.stringify(await rt.services.apps.removeRedirectUri(args[0]!, args[1]!)));
    },
  },
};

const spec = commands[command];
if (!spec) {
  console.error(`Unknown command "${command}".\n\n${HELP}`);
  process.exit(1);
}
if (args.length !== spec.args.length) {
  console.error(`${command} takes ${spec.args.map((a) => `<${a}>`).join(' ') || 'no arguments'}.\n\n${HELP}`);
  process.exit(1);
}

let exitCode = 0;
try {
  const config = loadConfig();
  // Logs go to stderr so stdout stays the command's JSON.
  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, 2);
  const rt = await bootstrap(config, logger);
  try {
    await spec.run(rt);
  } finally {
    await rt.database.close();
  }
} catch (error) {
  exitCode = 1;
  if (error instanceof ConfigError || error instanceof AppError) console.error(error.message);
  else console.error(error);
}
process.exit(exitCode);
