import { JOB_PRIORITIES } from '../../entities/index.ts';
import { ConnectionRepository } from '../connections/connection.repository.ts';
import type { Deps } from '../deps.ts';
import { InstitutionRepository } from '../institutions/institution.repository.ts';
import { JobRepository } from '../jobs/job.repository.ts';
import { plannedSteps } from '../jobs/job.steps.ts';

export interface SweepResult {
  queued: number;
  batches: number;
}

/**
 * Queues a refresh for each connection that is due: auto-refresh on, ACTIVE, not waiting for its user, no job
 * queued or running, nextRefreshAt passed. Works in batches of `batchSize`, each one transaction: the due rows are
 * locked with SKIP LOCKED (so replicas sweeping at once share the work), moved to their next slot
 * (ConnectionRepository.scheduleDueRefreshes), and given their jobs. The scan walks the partial index of refreshable
 * connections by nextRefreshAt, so its cost follows the number of due connections, not the size of the table.
 */
export async function sweepDueRefreshes(deps: Deps, options: { batchSize: number; maxBatches: number }): Promise<SweepResult> {
  // Disabled institutions too: their existing connections keep refreshing.
  const institutions = new Map((await new InstitutionRepository(deps.db.manager).list({ includeDisabled: true })).map((i) => [i.id, i]));
  let queued = 0;
  let batches = 0;
  while (batches < options.maxBatches) {
    const now = deps.clock.now();
    const n = await deps.db.transaction(async (m) => {
      const rows = await new ConnectionRepository(m).scheduleDueRefreshes(now, options.batchSize);
      if (rows.length === 0) return 0;
      // Scheduled: a user's own job, queued at any moment, is claimed before all of these.
      await new JobRepository(m).insertQueued(
        rows.map((r) => {
          const institution = institutions.get(r.institutionId)!;
          return {
            appId: r.appId,
            connectionId: r.id,
            kind: 'refresh' as const,
            providerKey: institution.providerKey,
            institutionId: r.institutionId,
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
