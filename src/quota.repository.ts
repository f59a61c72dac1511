import type { EntityManager } from 'typeorm';

/** The statement behind quotas: the lock that makes "count, then add" safe against a concurrent create. */
export class QuotaRepository {
  constructor(private readonly manager: EntityManager) {}

  /** Takes the transaction-scoped advisory lock for `key`; it holds until the caller's transaction ends. */
  async lockScope(key: string): Promise<void> {
    await this.manager.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [key]);
  }
}
