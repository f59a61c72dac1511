import type { DataSource, EntityManager } from 'typeorm';
import { FINISHED_JOB_STATUSES, Job, sqlList, type ConnectionError, type JobStep } from '../../entities/index.ts';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { storableText } from '../storable-text.ts';

/** A job's provider and institution are not paused (`$1` is now). */
const NOT_PAUSED = `NOT EXISTS (SELECT 1 FROM provider_pauses p
  WHERE p.scope IN ('provider:' || jobs.provider_key, 'institution:' || jobs.institution_id) AND p.paused_until > $1)`;

/**
 * The job's steps with the one in progress marked `interrupted` at `now` (a SQL expression; `now` is a parameter
 * reference such as `$2`). Used wherever a job is taken from a worker that did not finish it.
 */
const interruptedSteps = (now: string) => `(
  SELECT coalesce(jsonb_agg(CASE WHEN s ->> 'status' = 'in-progress'
                                 THEN s || jsonb_build_object('status', 'interrupted', 'finishedAt', to_jsonb(${now}::timestamptz))
                                 ELSE s END ORDER BY n), '[]'::jsonb)
  FROM jsonb_array_elements(steps) WITH ORDINALITY AS e(s, n))`;

/** This worker no longer holds the job (its lease expired and another worker took it): stop writing. */
export class LeaseLost extends Error {
  constructor(jobId: string) {
    super(`lease on job ${jobId} lost`);
    this.name = 'LeaseLost';
  }
}

export interface ClaimOptions {
  workerId: string;
  limit: number;
  leaseMs: number;
  now: Date;
  /** Providers this worker has no free slot for. */
  excludeProviders: string[];
}

/**
 * The queue's SQL. Jobs are claimed with FOR UPDATE SKIP LOCKED, so any number of workers can claim at once and
 * each job goes to exactly one; a claim is a lease that the holder renews, and a job whose lease ran out (its
 * worker died) is claimable again. Every write of a running job is fenced by `locked_by`.
 */
export class JobRepository {
  constructor(private readonly db: DataSource) {}

  async claim(o: ClaimOptions): Promise<Job[]> {
    if (o.limit <= 0) return [];
    const leaseUntil = new Date(o.now.getTime() + o.leaseMs);
    // For UPDATE, TypeORM's query() answers [rows, affectedCount].
    // Two ordered scans, each on its own partial index and each stopping after $3 rows: due jobs by priority then
    // run_at (someone waiting goes before any number of scheduled refreshes), and jobs whose lease ran out by
    // locked_until. (One scan with an OR of the two could use neither index and would
    // sort the whole queue on every claim.)
    const [rows]: [{ id: string }[], number] = await this.db.query(
      `WITH due AS (
         SELECT id, priority, run_at AS at FROM jobs
         WHERE status = 'queued' AND run_at <= $1 AND provider_key <> ALL($4::text[]) AND ${NOT_PAUSED}
         ORDER BY priority, run_at, id
         LIMIT $3
         FOR UPDATE SKIP LOCKED),
       expired AS (
         SELECT id, priority, locked_until AS at FROM jobs
         WHERE status = 'running' AND locked_until < $1 AND provider_key <> ALL($4::text[]) AND ${NOT_PAUSED}
         ORDER BY locked_until
         LIMIT $3
         FOR UPDATE SKIP LOCKED),
       picked AS (SELECT id FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) c ORDER BY priority, at LIMIT $3)
       UPDATE jobs j SET status = 'running', locked_by = $2, locked_until = $5, attempts = j.attempts + 1,
                         started_at = coalesce(j.started_at, $1), updated_at = $1,
                         -- Taken over from a worker whose lease ran out: its step in progress was interrupted.
                         steps = CASE WHEN j.status = 'running' THEN ${interruptedSteps('$1')} ELSE j.steps END
       FROM picked WHERE j.id = picked.id
       RETURNING j.id`,
      [o.now, o.workerId, o.limit, o.excludeProviders, leaseUntil],
    );
    if (rows.length === 0) return [];
    return this.db
      .getRepository(Job)
      .createQueryBuilder('j')
      .addSelect(['j.challengeResponseCiphertext'])
      .where('j.id IN (:...ids)', { ids: rows.map((r) => r.id) })
      .orderBy('j.run_at', 'ASC')
      .getMany();
  }

  /** Extends the lease; false when it is no longer ours. */
  async renewLease(jobId: string, workerId: string, until: Date): Promise<boolean> {
    const [, affected] = await this.db.query(`UPDATE jobs SET locked_until = $3 WHERE id = $1 AND locked_by = $2 AND status = 'running'`, [
      jobId,
      workerId,
      until,
    ]);
    return affected > 0;
  }

  /** A write to a job this worker holds; throws LeaseLost when it does not hold it any more. */
  async fencedUpdate(manager: EntityManager, jobId: string, workerId: string, patch: QueryDeepPartialEntity<Job>): Promise<void> {
    const result = await manager
      .createQueryBuilder()
      .update(Job)
      .set(patch)
      .where('id = :jobId AND locked_by = :workerId AND status = :running', { jobId, workerId, running: 'running' })
      .execute();
    if (!result.affected) throw new LeaseLost(jobId);
  }

  /**
   * Hands this worker's running jobs back to the queue at once (a graceful stop that cannot wait for them); the
   * step each was on shows `interrupted`.
   */
  async releaseAll(workerId: string, now: Date): Promise<number> {
    const [, affected] = await this.db.query(
      `UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, run_at = $2, updated_at = $2, steps = ${interruptedSteps('$2')}
       WHERE locked_by = $1 AND status = 'running'`,
      [workerId, now],
    );
    return affected;
  }

  /** Returns running jobs whose lease ran out (their worker died) to the queue, their step marked `interrupted`. */
  async releaseExpired(now: Date): Promise<number> {
    const [, affected]: [unknown, number] = await this.db.query(
      `UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, run_at = $1, updated_at = $1, steps = ${interruptedSteps('$1')}
       WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND locked_until < $1 FOR UPDATE SKIP LOCKED)`,
      [now],
    );
    return affected;
  }

  /** Gives back a job this worker claimed but has no slot for (its provider's slots filled in the same claim). */
  async unclaim(jobId: string, workerId: string): Promise<void> {
    await this.db.query(
      `UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, attempts = attempts - 1 WHERE id = $1 AND locked_by = $2`,
      [jobId, workerId],
    );
  }

  /**
   * Deletes up to `limit` jobs that finished before `cutoff`, never a connection's latest job (what jobs.list shows
   * first, and what explains the connection's state). Returns how many went.
   */
  async deleteFinishedBefore(cutoff: Date, limit: number): Promise<number> {
    const [, affected]: [unknown, number] = await this.db.query(
      `DELETE FROM jobs WHERE id IN (
         SELECT j.id FROM jobs j
         WHERE j.status IN (${sqlList(FINISHED_JOB_STATUSES)}) AND j.finished_at < $1
           AND EXISTS (SELECT 1 FROM jobs later WHERE later.app_id = j.app_id AND later.connection_id = j.connection_id
                         AND (later.created_at, later.id) > (j.created_at, j.id))
         LIMIT $2)`,
      [cutoff, limit],
    );
    return affected;
  }

  /** No job in `scope` (`institution:<id>` or `provider:<key>`) is claimed before `until`. */
  async pause(manager: EntityManager, scope: string, until: Date, reason: string): Promise<void> {
    await manager.query(
      `INSERT INTO provider_pauses (scope, paused_until, reason) VALUES ($1, $2, $3)
       ON CONFLICT (scope) DO UPDATE SET paused_until = GREATEST(provider_pauses.paused_until, EXCLUDED.paused_until), reason = EXCLUDED.reason`,
      [scope, until, storableText(reason, 500)],
    );
  }
}

/**
 * The write that ends a job (succeeded or failed): its outcome and steps, the challenge gone, the lease over.
 * locked_by stays, as the record of which worker ran it.
 */
export function jobEndPatch(
  status: 'succeeded' | 'failed',
  error: ConnectionError | null,
  steps: JobStep[],
  now: Date,
): QueryDeepPartialEntity<Job> {
  return {
    status,
    error: error as never,
    steps: steps as never,
    challenge: null,
    challengeResponseCiphertext: null,
    challengeResponseKeyId: null,
    finishedAt: now,
    lockedUntil: null,
    updatedAt: now,
  };
}
