import { QueryFailedError } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { serializeError } from '../../src/logger.ts';

describe('error serialization in logs', () => {
  it("never prints a failed query's parameters or the driver's detail", () => {
    const driverError = Object.assign(new Error('duplicate key value violates unique constraint "pk_x"'), {
      code: '23505',
      detail: 'Key (id)=(secret-id) already exists.',
    });
    const error = new QueryFailedError(
      'INSERT INTO x (id, secret) VALUES ($1, $2)',
      ['secret-id', Buffer.from('ciphertext-bytes')],
      driverError,
    );
    const logged = JSON.stringify(serializeError(error));
    expect(logged).toContain('duplicate key value');
    expect(logged).toContain('"code":"23505"');
    expect(logged).toContain('INSERT INTO x'); // the statement itself is fine to show
    expect(logged).not.toContain('secret-id');
    expect(logged).not.toContain('ciphertext');
    expect(logged).not.toMatch(/parameters|detail/);
  });

  it('keeps an ordinary error as pino would show it', () => {
    const logged = serializeError(new TypeError('bad thing')) as Record<string, unknown>;
    expect(logged).toMatchObject({ type: 'TypeError', message: 'bad thing' });
    expect(logged.stack).toContain('TypeError: bad thing');
  });
});
