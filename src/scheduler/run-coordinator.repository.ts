import type { EntityManager } from 'typeorm';

/** Keys are stored cut to the column's 200 characters. */
const storedKey = (key: string) => key.slice(0, 200);

/** Every statement on scheduler_runs: one row per tick slot, claimed by the first replica to insert it. */
export class RunCoordinatorRepository {
  constructor(private readonly manager: EntityManager) {}

  /** Inserts the slot's row unless another replica has; true when this replica claimed it. */
  async claimSlot(key: string, replicaId: string): Promise<boolean> {
    const rows: unknown[] = await this.manager.query(
      `INSERT INTO scheduler_runs (key, claimed_by, claimed_at) VALUES ($1, $2, now()) ON CONFLICT (key) DO NOTHING RETURNING key`,
      [storedKey(key), replicaId],
    );
    return rows.length === 1;
  }

  /** Stamps the slot's tick as finished. */
  async markFinished(key: string): Promise<void> {
    await this.manager.query(`UPDATE scheduler_runs SET finished_at = now() WHERE key = $1`, [storedKey(key)]);
  }

  /** Forgets the slots claimed before `cutoff` (a slot's row only matters for the tick it names). */
  async deleteClaimedBefore(cutoff: Date): Promise<void> {
    await this.manager.query(`DELETE FROM scheduler_runs WHERE claimed_at < $1`, [cutoff]);
  }
}
