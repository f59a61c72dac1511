import { QueryFailedError } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/database-errors.ts';

describe('telling "the database is away" from a fault', () => {
  it('connection failures and a server going away are unavailability', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const shutdown = new QueryFailedError(
      'SELECT 1',
      [],
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    );
    const released = Object.assign(new Error('Query runner already released. Cannot run queries anymore.'), {
      name: 'QueryRunnerAlreadyReleasedError',
    });
    for (const e of [
      refused,
      shutdown,
      released,
      new Error('Connection terminated unexpectedly'),
      new Error('wrapped', { cause: refused }),
    ]) {
      expect(isDatabaseUnavailable(e), String(e)).toBe(true);
    }
  });

  it('a bad query or a constraint is a fault, not unavailability', () => {
    const unique = new QueryFailedError('INSERT …', [], Object.assign(new Error('duplicate key value'), { code: '23505' }));
    const syntax = new QueryFailedError('SELEC 1', [], Object.assign(new Error('syntax error'), { code: '42601' }));
    for (const e of [unique, syntax, new TypeError('x is undefined'), null, 'text']) expect(isDatabaseUnavailable(e)).toBe(false);
  });
});
