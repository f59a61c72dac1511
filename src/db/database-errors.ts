/**
 * Whether an error means "the database cannot be reached right now" (it is restarting, stopped, or out of
 * connections) rather than a fault in what was asked: the caller should try again shortly. Such errors reach API
 * clients as 503 SERVICE_UNAVAILABLE with Retry-After, never as 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (
    let e = error, depth = 0;
    e && depth < 8;
    e = (e as { cause?: unknown; driverError?: unknown }).cause ?? (e as { driverError?: unknown }).driverError, depth++
  ) {
    // TypeORM releases a transaction's connection when it fails; the transaction's next query then says only this.
    if (RELEASED_RUNNER_ERRORS.has(String((e as { name?: unknown }).name))) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.includes(m))) return true;
  }
  return false;
}

/** Network errors from connecting, and the SQLSTATEs of a server going away (57P0x) or full (53300). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown: the server is stopping
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '53300', // too_many_connections
]);

/** node-postgres' own words for a lost or unobtainable connection (these carry no code). */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'the database system is starting up',
  'the database system is shutting down',
];

/** What a client is told to wait before trying again while the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** TypeORM's errors for a transaction whose connection it already let go of, because the connection failed. */
const RELEASED_RUNNER_ERRORS = new Set(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError']);
