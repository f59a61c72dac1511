import type { DataSource } from 'typeorm';
import type { IdempotencyStatus } from '../../entities/index.ts';

export interface StoredKey {
  procedure: string;
  requestHash: string;
  status: IdempotencyStatus;
  response: { ciphertext: Buffer; keyId: string } | null;
  createdAt: Date;
  lockedUntil: Date | null;
}

/** The SQL of idempotency keys: one row per (app, key), claimed while its request runs, then holding the answer. */
export class IdempotencyRepository {
  constructor(private readonly db: DataSource) {}

  /** Claims the key for a request that starts now; false when the key is already there. */
  async claim(appId: string, key: string, procedure: string, requestHash: string, now: Date, lockedUntil: Date): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `INSERT INTO idempotency_keys (app_id, key, procedure, request_hash, status, created_at, locked_until)
       VALUES ($1, $2, $3, $4, 'in-progress', $5, $6) ON CONFLICT (app_id, key) DO NOTHING RETURNING key`,
      [appId, key, procedure, requestHash, now, lockedUntil],
    );
    return rows.length === 1;
  }

  async find(appId: string, key: string): Promise<StoredKey | null> {
    const [row]: StoredKey[] = await this.db.query(
      `SELECT procedure, request_hash AS "requestHash", status, response_ciphertext, response_key_id,
              created_at AS "createdAt", locked_until AS "lockedUntil"
       FROM idempotency_keys WHERE app_id = $1 AND key = $2`,
      [appId, key],
    );
    if (!row) return null;
    const {
      response_ciphertext: ciphertext,
      response_key_id: keyId,
      ...rest
    } = row as StoredKey & { response_ciphertext: Buffer | null; response_key_id: string | null };
    return { ...rest, response: ciphertext && keyId ? { ciphertext, keyId } : null };
  }

  /** Takes over a request whose process died with it in progress (its lock ran out); false if someone else did. */
  async takeOver(appId: string, key: string, seenLockedUntil: Date, now: Date, lockedUntil: Date): Promise<boolean> {
    const [, affected]: [unknown, number] = await this.db.query(
      `UPDATE idempotency_keys SET locked_until = $5, created_at = $4
       WHERE app_id = $1 AND key = $2 AND status = 'in-progress' AND locked_until = $3`,
      [appId, key, seenLockedUntil, now, lockedUntil],
    );
    return affected === 1;
  }

  async complete(appId: string, key: string, response: { ciphertext: Buffer; keyId: string }): Promise<void> {
    await this.db.query(
      `UPDATE idempotency_keys SET status = 'completed', response_ciphertext = $3, response_key_id = $4, locked_until = NULL WHERE app_id = $1 AND key = $2`,
      [appId, key, response.ciphertext, response.keyId],
    );
  }

  /** Forgets a key whose request failed (or expired), so the same key may be used again. */
  async forget(appId: string, key: string): Promise<void> {
    await this.db.query(`DELETE FROM idempotency_keys WHERE app_id = $1 AND key = $2`, [appId, key]);
  }

  /** Retention: keys older than the cutoff, in batches. */
  async deleteCreatedBefore(cutoff: Date, limit: number): Promise<number> {
    const [, affected]: [unknown, number] = await this.db.query(
      `DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`,
      [cutoff, limit],
    );
    return affected;
  }
}
