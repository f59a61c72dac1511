import type { Logger as TypeOrmLogger } from 'typeorm';
import type { Logger } from '../logger.ts';

/**
 * TypeORM's log lines as pino JSON on the service's logger, instead of TypeORM's coloured text on stdout. Query
 * parameters are never passed on: they hold ciphertexts and user data. A failed query is not logged here at all:
 * it reaches its caller as an error, and the caller decides whether it is worth a line.
 */
export class PinoTypeOrmLogger implements TypeOrmLogger {
  private readonly out: Logger;

  constructor(logger: Logger) {
    this.out = logger.child({ component: 'typeorm' });
  }

  logQuery(query: string): void {
    this.out.trace({ query }, 'query');
  }

  logQueryError(error: string | Error, query: string): void {
    this.out.debug({ query, error: typeof error === 'string' ? error : error.message }, 'query failed');
  }

  logQuerySlow(time: number, query: string): void {
    this.out.warn({ query, ms: time }, 'slow query');
  }

  logSchemaBuild(message: string): void {
    this.out.debug(message);
  }

  logMigration(message: string): void {
    this.out.info(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    // TypeORM's 'info' lines are about its own workings (which files it loaded): debug for us.
    if (level === 'warn') this.out.warn(text);
    else this.out.debug(text);
  }
}
