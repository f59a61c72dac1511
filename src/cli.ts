import { bootstrap } from './bootstrap.ts';
import { ConfigError, loadConfig } from './config.ts';
import { readFileSync } from 'node:fs';
import { AppError } from './errors.ts';
import { InstitutionsFileError } from './institutions/institutions-file.ts';
import { createLogger } from './logger.ts';

// The admin command line: npm run cli -- <command> [args]. Output is JSON, one line per result, for scripts.

const HELP = `Usage: npm run cli -- <command> [args]

Commands:
  apps:create <name>      create an app; prints {"id","name","apiKey"} (the key is shown only here)
  apps:list               list apps (id, name, key prefix, created time), one JSON line each
  apps:rotate-key <id>    issue a new key for an app; the old key stops working at once, on every API process
  apps:get <id>           one app with its redirect URIs
  apps:add-redirect-uri <id> <uri>
                          register a redirect URI for Hosted Connect (https, or http on loopback; matched exactly)
  apps:remove-redirect-uri <id> <uri>
                          unregister one; sessions already created with it still finish
  institutions:list       every institution, disabled ones included, one JSON line each
  institutions:get <id>   one institution
  institutions:add <json|@file>
                          add an institution (docs/institutions.md: the fields, as in INSTITUTIONS_FILE)
  institutions:update <id> <json|@file>
                          change some of its fields, e.g. '{"minRefreshIntervalMinutes":120}'
  institutions:disable <id>
                          no new connections and not listed to apps; existing connections keep refreshing
  institutions:enable <id>
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
  'institutions:list': {
    args: [],
    async run(rt) {
      for (const institution of await rt.services.institutions.list({ includeDisabled: true })) console.log(JSON.stringify(institution));
    },
  },
  'institutions:get': {
    args: ['id'],
    async run(rt) {
      console.log(JSON.stringify(await rt.services.institutions.get(args[0]!)));
    },
  },
  'institutions:add': {
    args: ['json|@file'],
    async run(rt) {
      console.log(JSON.stringify(await rt.services.institutions.add(jsonArgument(args[0]!))));
    },
  },
  'institutions:update': {
    args: ['id', 'json|@file'],
    async run(rt) {
      console.log(JSON.stringify(await rt.services.institutions.update(args[0]!, jsonArgument(args[1]!))));
    },
  },
  'institutions:disable': {
    args: ['id'],
    async run(rt) {
      console.log(JSON.stringify(await rt.services.institutions.setEnabled(args[0]!, false)));
    },
  },
  'institutions:enable': {
    args: ['id'],
    async run(rt) {
      console.log(JSON.stringify(await rt.services.institutions.setEnabled(args[0]!, true)));
    },
  },
};

/** A JSON argument, or `@path` to read it from a file. */
function jsonArgument(arg: string): unknown {
  let text = arg;
  if (arg.startsWith('@')) {
    try {
      text = readFileSync(arg.slice(1), 'utf8');
    } catch (error) {
      throw new AppError('VALIDATION', `(input): cannot read ${arg.slice(1)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppError('VALIDATION', `(input): not JSON (${(error as Error).message})`);
  }
}

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
  if (error instanceof ConfigError || error instanceof AppError || error instanceof InstitutionsFileError) console.error(error.message);
  else console.error(error);
}
process.exit(exitCode);
