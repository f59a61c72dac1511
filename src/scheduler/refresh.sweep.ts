import { Institution, JOB_PRIORITIES, type Dataset } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { JobRepository, noActiveJob } from '../jobs/job.repository.ts';
import { plannedSteps } from '../jobs/job.steps.ts';
import { refreshDueSql } from '../connections/refresh-schedule.ts';

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
           WHERE ${refreshDueSql('$1', { alias: 'c' })}
             AND ${noActiveJob('c')}
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
      // Scheduled: a user's own job, queued at any moment, is claimed before all of these.
      await new JobRepository(m).insertQueued(
        rows.map((r) => {
          const institution = institutions.get(r.institution_id)!;
          return {
            appId: r.app_id,
            connectionId: r.id,
            kind: 'refresh' as const,
            providerKey: institution.providerKey,
            institutionId: r.institution_id,
            priority: JOB_PRIORITIES.scheduled,
            steps: plannedSteps(r.datasets ?? institution.datasets),
            runAt: now,
          };
        }),
      );
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
