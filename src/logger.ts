import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Fields of an error that can carry data rather than a description of the fault: TypeORM's QueryFailedError keeps
 * the query's `parameters` (encrypted secrets, credentials' ciphertext, user ids) and the driver's error, whose
 * `detail` repeats key values; got's errors keep the request `options` (headers, bodies). None of them is logged.
 */
const DATA_BEARING_FIELDS = [
  'parameters',
  'driverError',
  'detail',
  'where',
  'internalQuery',
  'options',
  'request',
  'response',
  'timings',
  'input',
];

/** pino's error serializer, minus anything that could hold a query's parameters or a request's contents. */
export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const serialized = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  for (const field of DATA_BEARING_FIELDS) delete serialized[field];
  // The driver's SQLSTATE is the useful part of driverError; keep it.
  const code =
    (error as { code?: unknown; driverError?: { code?: unknown } }).code ??
    (error as { driverError?: { code?: unknown } }).driverError?.code;
  if (typeof code === 'string' || typeof code === 'number') serialized.code = code;
  return serialized;
}

/**
 * JSON logs, one object per line. Anything that could carry a secret is redacted by path, as a second line of
 * defence: the code never passes credentials or keys to the logger in the first place.
 */
export function createLogger(level: string = 'info', fd: 1 | 2 | { write(line: string): void } = 1): Logger {
  return pino(
    {
      level,
      base: { service: 'connections-service', pid: process.pid, hostname: hostname() },
      serializers: { err: serializeError, error: serializeError },
      redact: {
        paths: [
          'credentials',
          '*.credentials',
          'apiKey',
          '*.apiKey',
          'password',
          '*.password',
          'req.headers.authorization',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    // A stream of our own (tests that read what was logged), or stdout/stderr.
    typeof fd === 'object' ? fd : pino.destination({ fd, sync: fd === 2 }),
  );
}

/**
 * What Node itself would print as text: process warnings (deprecations, listener leaks) and a crash's stack
 * trace. As JSON lines on the logger instead; a crash still ends the process with code 1.
 */
export function routeProcessOutput(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn({ err: warning }, `node warning: ${warning.message}`));
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception; exiting');
    logger.flush();
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection; exiting');
    logger.flush();
    process.exit(1);
  });
}
