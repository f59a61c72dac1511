import { createHash } from 'node:crypto';
import superjson from 'superjson';
import type { Deps } from '../deps.ts';
import { AppError, ErrorCode } from '../errors.ts';
import { IdempotencyRepository } from './idempotency.repository.ts';

/** How long a key is remembered (Stripe's 24 h): the same key after that is a new request. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 3_600_000;
/** A request in progress holds its key this long; after that it is taken to have died with its process. */
const IN_PROGRESS_LOCK_MS = 60_000;
/** A second request with a key still in progress waits this long for the first one's answer, then gets CONFLICT. */
const WAIT_FOR_FIRST_MS = 10_000;

/** The header's rule: 1 to 255 printable ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

export interface IdempotentOutcome<T> {
  value: T;
  /** The answer is the first request's, given again; nothing was done this time. */
  replayed: boolean;
}

/**
 * Idempotency-Key for mutations, per app: the same key with the same request within 24 h answers what the first
 * request answered, without doing the work again, and two concurrent requests with one key run it once (the second
 * waits for the first's answer). The same key with a different request is CONFLICT. A request that fails is
 * forgotten, so the same key may be tried again.
 *
 * The work commits in its own transactions before its answer is stored: if the process dies in between, the key
 * stays in progress for a minute, after which the request runs again.
 */
export class IdempotencyService {
  private readonly keys: IdempotencyRepository;

  constructor(private readonly deps: Deps) {
    this.keys = new IdempotencyRepository(deps.db);
  }

  async run<T>(appId: string, key: string, procedure: string, input: unknown, work: () => Promise<T>): Promise<IdempotentOutcome<T>> {
    const requestHash = hashRequest(procedure, input);
    const waitUntil = Date.now() + WAIT_FOR_FIRST_MS;
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      const now = this.deps.clock.now();
      const lockedUntil = new Date(now.getTime() + IN_PROGRESS_LOCK_MS);
      if (await this.keys.claim(appId, key, procedure, requestHash, now, lockedUntil))
        return { value: await this.runClaimed(appId, key, work), replayed: false };
      const stored = await this.keys.find(appId, key);
      if (!stored) continue; // forgotten a moment ago: claim it
      if (now.getTime() - new Date(stored.createdAt).getTime() >= IDEMPOTENCY_RETENTION_MS) {
        await this.keys.forget(appId, key);
        continue;
      }
      if (stored.procedure !== procedure || stored.requestHash !== requestHash) {
        throw new AppError(
          ErrorCode.CONFLICT,
          `Idempotency-Key ${JSON.stringify(key)} was used for another request (${stored.procedure === procedure ? 'other input' : stored.procedure}); use a new key for a new request`,
          { idempotencyKey: key },
        );
      }
      if (stored.status === 'completed' && stored.response) return { value: this.open<T>(appId, key, stored.response), replayed: true };
      if (
        stored.lockedUntil &&
        new Date(stored.lockedUntil) <= now &&
        (await this.keys.takeOver(appId, key, new Date(stored.lockedUntil), now, lockedUntil))
      ) {
        return { value: await this.runClaimed(appId, key, work), replayed: false };
      }
      if (Date.now() >= waitUntil) {
        throw new AppError(
          ErrorCode.CONFLICT,
          `a request with Idempotency-Key ${JSON.stringify(key)} is still in progress; retry when it has finished`,
          {
            idempotencyKey: key,
            inProgress: true,
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  /** An answer at rest is sealed like credentials, bound to its app and key. */
  private seal(appId: string, key: string, value: unknown): { ciphertext: Buffer; keyId: string } {
    return this.deps.cipher.seal({ answer: JSON.stringify(superjson.serialize(value)) }, `${appId}:${key}:idempotency`);
  }

  private open<T>(appId: string, key: string, sealed: { ciphertext: Buffer; keyId: string }): T {
    const { answer } = this.deps.cipher.open(sealed, `${appId}:${key}:idempotency`);
    return superjson.deserialize(JSON.parse(answer!)) as T;
  }

  private async runClaimed<T>(appId: string, key: string, work: () => Promise<T>): Promise<T> {
    let value: T;
    try {
      value = await work();
    } catch (error) {
      await this.keys.forget(appId, key).catch(() => {}); // if even this fails, the lock runs out in a minute
      throw error;
    }
    // The work is done and committed: answer it even if its answer cannot be stored (the key then stays in
    // progress, and a retry within the minute is told to wait).
    await this.keys.complete(appId, key, this.seal(appId, key, value)).catch((error: unknown) => {
      this.deps.logger.warn({ err: error, appId }, 'could not store the answer of an idempotent request');
    });
    return value;
  }
}

/** The procedure and its input, in a form that does not depend on key order. */
export function hashRequest(procedure: string, input: unknown): string {
  return createHash('sha256').update(procedure).update('\n').update(canonical(input)).digest('hex');
}

function canonical(value: unknown): string {
  if (value instanceof Date) return JSON.stringify({ $date: value.toISOString() });
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}
