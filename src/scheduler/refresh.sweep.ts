import { Institution, JOB_PRIORITIES, type Dataset } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { JOBS_CHANNEL } from '../jobs/job.queue.ts';
import { plannedSteps } from '../jobs/job.steps.ts';

export interface SweepResult {
  queued: number;
  batches: number;
}

/**
 * Queues a refresh for each connection that is due: auto-refresh on, ACTIVE, not waiting for its user, no job
 * queued or running, nextRefreshAt passed. Works in batches of `batchSize`, each one transaction: the due rows are
 * locked with SKIP LOCKED (so replicas sweeping at once share the work), moved to their next slot, and given their
 * jobs. The scan walks the partial index of refreshable connections by nextRefreshAt, so its cost follows the
 * number of due connections, not the size of the table.
 */
export async function sweepDueRefreshes(deps: Deps, options: { batchSize: number; maxBatches: number }): Promise<SweepResult> {
  const institutions = new Map((await deps.db.getRepository(Institution).find()).map((i) => [i.id, i]));
  let queued = 0;
  let batches = 0;
  while (batches < options.maxBatches) {
    const now = deps.clock.now();
    const n = await deps.db.transaction(async (m) => {
      // The next slot keeps the connection's rhythm: one interval on from when it was due, or from now if it fell
      // behind by more than an interval. Intervals never go below the institution's minimum.
      const [rows]: [{ id: string; app_id: string; institution_id: string; datasets: Dataset[] | null }[], number] = await m.query(
        `WITH due AS (
           SELECT c.id FROM connections c
           WHERE c.auto_refresh AND c.status = 'ACTIVE' AND NOT c.user_action_required AND c.next_refresh_at <= $1
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.connection_id = c.id AND j.status IN ('queued', 'running', 'awaiting-challenge'))
           ORDER BY c.next_refresh_at
           LIMIT $2
           FOR UPDATE OF c SKIP LOCKED)
         UPDATE connections c
         SET next_refresh_at = CASE
               WHEN c.next_refresh_at + greatest(c.refresh_interval_minutes, i.min_refresh_interval_minutes) * interval '1 minute' > $1
               THEN c.next_refresh_at + greatest(c.refresh_interval_minutes, i.min_refresh_interval_minutes) * interval '1 minute'
               ELSE $1::timestamptz + greatest(c.refresh_interval_minutes, i.min_refresh_interval_minutes) * interval '1 minute' END
         FROM due, institutions i
         WHERE c.id = due.id AND i.id = c.institution_id
         RETURNING c.id, c.app_id, c.institution_id, c.datasets`,
        [now, options.batchSize],
      );
      if (rows.length === 0) return 0;
      const jobs = rows.map((r) => {
        const institution = institutions.get(r.institution_id)!;
        return { ...r, providerKey: institution.providerKey, steps: plannedSteps(r.datasets ?? institution.datasets) };
      });
      // Scheduled: a user's own job, queued at any moment, is claimed before all of these.
      await m.query(
        `INSERT INTO jobs (app_id, connection_id, kind, provider_key, institution_id, priority, status, steps, run_at)
         SELECT j.app_id, j.connection_id, 'refresh', j.provider_key, j.institution_id, $7, 'queued', j.steps, $6
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[]) AS j(app_id, connection_id, provider_key, institution_id, steps)`,
        [
          jobs.map((j) => j.app_id),
          jobs.map((j) => j.id),
          jobs.map((j) => j.providerKey),
          jobs.map((j) => j.institution_id),
          jobs.map((j) => JSON.stringify(j.steps)),
          now,
          JOB_PRIORITIES.scheduled,
        ],
      );
      await m.query(`SELECT pg_notify($1, '')`, [JOBS_CHANNEL]);
      return rows.length;
    });
    if (n === 0) break;
    deps.metrics.sweepBatchQueued(n);
    queued += n;
    batches += 1;
    if (n < options.batchSize) break;
  }
  return { queued, batches };
}
