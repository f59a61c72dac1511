import { In, type DataSource, type EntityManager } from 'typeorm';
import {
  ACTIVE_JOB_STATUSES,
  FINISHED_JOB_STATUSES,
  Job,
  JOB_PRIORITIES,
  sqlList,
  type JobKind,
  type JobPriority,
  type JobStep,
} from '../../entities/index.ts';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { preparedOnFirstRun } from '../db/prepared-statement.ts';
import { selectList } from '../db/select-list.ts';
import { storableText } from '../storable-text.ts';
import { JOB_TRANSITIONS } from './job.lifecycle.ts';

/** Workers LISTEN here; Postgres delivers a NOTIFY only when the enqueueing transaction commits. */
export const JOBS_CHANNEL = 'cs_jobs_queued';

/** A status from the lifecycle's table as a SQL literal (a literal, not a parameter, so the partial indexes apply). */
const lit = (status: string) => sqlList([status]);
const QUEUED = lit(JOB_TRANSITIONS.claim.from[0]);
const RUNNING = lit(JOB_TRANSITIONS.claim.to);
const AWAITING_CHALLENGE = lit(JOB_TRANSITIONS['await-challenge'].to);

/**
 * Releases a job's lease and returns it to the queue (a SET list): the one release, shared by the graceful stop,
 * the recovery tick and the unclaim of an excess job.
 */
const RELEASE_TO_QUEUE = `status = ${lit(JOB_TRANSITIONS['hand-back'].to)}, locked_by = NULL, locked_until = NULL`;

/**
 * `<connection alias>` has no job queued, running or awaiting a challenge (a SQL condition for statements on
 * connections: the refresh and consent sweeps).
 */
export const noActiveJob = (connection: string) =>
  `NOT EXISTS (SELECT 1 FROM jobs j WHERE j.connection_id = ${connection}.id AND j.status IN (${sqlList(ACTIVE_JOB_STATUSES)}))`;

/** A job to queue (the enqueue transition): everything else takes the column's default. */
export interface QueuedJobRow {
  appId: string;
  connectionId: string;
  kind: JobKind;
  providerKey: string;
  institutionId: string;
  priority: JobPriority;
  steps: JobStep[];
  runAt: Date;
}

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

/**
 * The claim (see JobRepository.claim), prepared: it returns every column the entity selects, plus the challenge
 * answer the run needs.
 */
const CLAIM = preparedOnFirstRun(
  (db) => `WITH due AS (
         SELECT id, priority, run_at AS at FROM jobs
         WHERE status = ${QUEUED} AND run_at <= $1 AND provider_key <> ALL($4::text[]) AND ${NOT_PAUSED}
         ORDER BY priority, run_at, id
         LIMIT $3
         FOR UPDATE SKIP LOCKED),
       expired AS (
         SELECT id, priority, locked_until AS at FROM jobs
         WHERE status = ${RUNNING} AND locked_until < $1 AND provider_key <> ALL($4::text[]) AND ${NOT_PAUSED}
         ORDER BY locked_until
         LIMIT $3
         FOR UPDATE SKIP LOCKED),
       picked AS (SELECT id FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) c ORDER BY priority, at LIMIT $3)
       UPDATE jobs j SET status = ${RUNNING}, locked_by = $2, locked_until = $5, attempts = j.attempts + 1,
                         started_at = coalesce(j.started_at, $1), updated_at = $1,
                         -- Taken over from a worker whose lease ran out: its step in progress was interrupted.
                         steps = CASE WHEN j.status = ${RUNNING} THEN ${interruptedSteps('$1')} ELSE j.steps END
       FROM picked WHERE j.id = picked.id
       RETURNING ${selectList(db.getRepository(Job).metadata, 'j', ['challengeResponseCiphertext'])}`,
);

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
  constructor(private readonly db: DataSource | EntityManager) {}

  /** Enqueue: inserts queued jobs in one statement and wakes the workers (at commit). Returns their ids, in order. */
  async insertQueued(rows: readonly QueuedJobRow[]): Promise<string[]> {
    if (rows.length === 0) return [];
    const inserted: { id: string }[] = await this.db.query(
      `INSERT INTO jobs (app_id, connection_id, kind, provider_key, institution_id, priority, status, steps, run_at)
       SELECT j.app_id, j.connection_id, j.kind, j.provider_key, j.institution_id, j.priority, ${lit(JOB_TRANSITIONS.enqueue.to)}, j.steps, j.run_at
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::jsonb[], $8::timestamptz[])
         WITH ORDINALITY AS j(app_id, connection_id, kind, provider_key, institution_id, priority, steps, run_at, n)
       ORDER BY j.n
       RETURNING id`,
      [
        rows.map((r) => r.appId),
        rows.map((r) => r.connectionId),
        rows.map((r) => r.kind),
        rows.map((r) => r.providerKey),
        rows.map((r) => r.institutionId),
        rows.map((r) => r.priority),
        rows.map((r) => JSON.stringify(r.steps)),
        rows.map((r) => r.runAt),
      ],
    );
    await this.notifyQueued();
    return inserted.map((r) => r.id);
  }

  /** Wakes the job workers once the caller's transaction commits. */
  /** Jobs queued, running or awaiting a challenge, by status (the queue-depth metric). */
  async countActiveByStatus(): Promise<{ state: string; n: number }[]> {
    return this.db.query(
      `SELECT status AS state, count(*)::int AS n FROM jobs WHERE status IN (${sqlList(ACTIVE_JOB_STATUSES)}) GROUP BY status`,
    );
  }

  async notifyQueued(): Promise<void> {
    await this.db.query(`SELECT pg_notify($1, '')`, [JOBS_CHANNEL]);
  }

  findById(id: string): Promise<Job> {
    return this.db.getRepository(Job).findOneByOrFail({ id });
  }

  findForApp(appId: string, id: string): Promise<Job | null> {
    return this.db.getRepository(Job).findOneBy({ appId, id });
  }

  /** A connection's jobs, newest first. */
  listForConnection(appId: string, connectionId: string, limit: number): Promise<Job[]> {
    return this.db.getRepository(Job).find({
      where: { appId, connectionId },
      order: { createdAt: 'DESC', id: 'DESC' },
      take: limit,
    });
  }

  /** The queued, running or awaiting job of each given connection (at most one each). */
  async activeByConnection(appId: string, connectionIds: readonly string[]): Promise<Map<string, Job>> {
    if (connectionIds.length === 0) return new Map();
    const jobs = await this.db.getRepository(Job).findBy({
      appId,
      connectionId: In([...connectionIds]),
      status: In([...ACTIVE_JOB_STATUSES]),
    });
    return new Map(jobs.map((j) => [j.connectionId, j]));
  }

  /** Moves these jobs to the interactive priority. */
  async prioritize(ids: readonly string[]): Promise<void> {
    await this.db.query(`UPDATE jobs SET priority = $2 WHERE id = ANY($1::uuid[])`, [ids, JOB_PRIORITIES.interactive]);
  }

  /** Locks one job of an app for a challenge answer (with its OAuth state hash). */
  lockForApp(appId: string, id: string): Promise<Job | null> {
    return this.lockOne('j.app_id = :appId AND j.id = :id', { appId, id });
  }

  /** Locks the job awaiting a challenge whose run handed out the OAuth state with this hash. */
  lockAwaitingByStateHash(hash: string): Promise<Job | null> {
    return this.lockOne(`j.challenge_state_hash = :hash AND j.status = ${AWAITING_CHALLENGE}`, { hash });
  }

  /** Locks a job if it still awaits a challenge answer. */
  lockAwaiting(id: string): Promise<Job | null> {
    return this.lockOne(`j.id = :id AND j.status = ${AWAITING_CHALLENGE}`, { id });
  }

  private lockOne(where: string, params: Record<string, unknown>): Promise<Job | null> {
    return this.db
      .getRepository(Job)
      .createQueryBuilder('j')
      .addSelect('j.challengeStateHash')
      .setLock('pessimistic_write')
      .where(where, params)
      .getOne();
  }

  /** Jobs awaiting a DECOUPLED challenge last looked at before `before` (due a re-check). */
  async decoupledChallengesDue(before: Date, limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.db.query(
      `SELECT id FROM jobs WHERE status = ${AWAITING_CHALLENGE} AND challenge ->> 'type' = 'DECOUPLED' AND updated_at <= $1 LIMIT $2`,
      [before, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Locks (skipping those locked elsewhere) up to `limit` jobs whose challenge expired by `now`. */
  lockExpiredChallenges(now: Date, limit: number): Promise<Job[]> {
    return this.db
      .getRepository(Job)
      .createQueryBuilder('j')
      .setLock('pessimistic_write')
      .setOnLocked('skip_locked')
      .where(`j.status = ${AWAITING_CHALLENGE} AND (j.challenge ->> 'expiresAt')::timestamptz <= :now`, { now })
      .limit(limit)
      .getMany();
  }

  /** A write to a job the caller has locked (a job awaiting a challenge: no worker holds it). */
  async updateLocked(jobId: string, patch: QueryDeepPartialEntity<Job>): Promise<void> {
    await this.db.getRepository(Job).update({ id: jobId }, patch);
  }

  async claim(o: ClaimOptions): Promise<Job[]> {
    if (o.limit <= 0) return [];
    const leaseUntil = new Date(o.now.getTime() + o.leaseMs);
    // For UPDATE, TypeORM's query() answers [rows, affectedCount].
    // Two ordered scans, each on its own partial index and each stopping after $3 rows: due jobs by priority then
    // run_at (someone waiting goes before any number of scheduled refreshes), and jobs whose lease ran out by
    // locked_until. (One scan with an OR of the two could use neither index and would
    // sort the whole queue on every claim.)
    const [rows]: [Partial<Job>[], number] = await CLAIM.run(this.db, [o.now, o.workerId, o.limit, o.excludeProviders, leaseUntil]);
    // The claimed rows come back whole, so the claim is one round trip: a job starts one query after its NOTIFY.
    const jobs = this.db.getRepository(Job).create(rows);
    return jobs.sort((a, b) => a.runAt.getTime() - b.runAt.getTime());
  }

  /** Extends the lease; false when it is no longer ours. */
  async renewLease(jobId: string, workerId: string, until: Date): Promise<boolean> {
    const [, affected] = await this.db.query(`UPDATE jobs SET locked_until = $3 WHERE id = $1 AND locked_by = $2 AND status = ${RUNNING}`, [
      jobId,
      workerId,
      until,
    ]);
    return affected > 0;
  }

  /** A write to a job this worker holds; throws LeaseLost when it does not hold it any more. */
  async fencedUpdate(manager: EntityManager, jobId: string, workerId: string, patch: QueryDeepPartialEntity<Job>): Promise<void> {
    // The SET list from the entity's metadata, each value prepared by the driver as the query builder would (JSON
    // for jsonb), and updated_at defaulting to now as @UpdateDateColumn does. Plain SQL because the query builder's
    // SQL generation was the largest part of the service's CPU per finished job in the queue benchmark's profile.
    const metadata = manager.connection.getMetadata(Job);
    const values: unknown[] = [jobId, workerId];
    const set: string[] = [];
    let setsUpdatedAt = false;
    for (const [property, value] of Object.entries(patch)) {
      if (value === undefined) continue; // as the query builder: an undefined property is not written
      const column = metadata.findColumnWithPropertyName(property);
      if (!column || typeof value === 'function') throw new Error(`fencedUpdate: ${property} is not a column value of jobs`);
      values.push(manager.connection.driver.preparePersistentValue(value, column));
      set.push(`${column.databaseName} = $${values.length}`);
      if (column === metadata.updateDateColumn) setsUpdatedAt = true;
    }
    if (metadata.updateDateColumn && !setsUpdatedAt) set.push(`${metadata.updateDateColumn.databaseName} = CURRENT_TIMESTAMP`);
    const [, affected]: [unknown, number] = await manager.query(
      `UPDATE jobs SET ${set.join(', ')} WHERE id = $1 AND locked_by = $2 AND status = ${RUNNING}`,
      values,
    );
    if (!affected) throw new LeaseLost(jobId);
  }

  /**
   * Hands this worker's running jobs back to the queue at once (a graceful stop that cannot wait for them); the
   * step each was on shows `interrupted`.
   */
  async releaseAll(workerId: string, now: Date): Promise<number> {
    const [, affected] = await this.db.query(
      `UPDATE jobs SET ${RELEASE_TO_QUEUE}, run_at = $2, updated_at = $2, steps = ${interruptedSteps('$2')}
       WHERE locked_by = $1 AND status = ${RUNNING}`,
      [workerId, now],
    );
    return affected;
  }

  /** Returns running jobs whose lease ran out (their worker died) to the queue, their step marked `interrupted`. */
  async releaseExpired(now: Date): Promise<number> {
    const [, affected]: [unknown, number] = await this.db.query(
      `UPDATE jobs SET ${RELEASE_TO_QUEUE}, run_at = $1, updated_at = $1, steps = ${interruptedSteps('$1')}
       WHERE id IN (SELECT id FROM jobs WHERE status = ${RUNNING} AND locked_until < $1 FOR UPDATE SKIP LOCKED)`,
      [now],
    );
    return affected;
  }

  /** Gives back a job this worker claimed but has no slot for (its provider's slots filled in the same claim). */
  async unclaim(jobId: string, workerId: string): Promise<void> {
    await this.db.query(`UPDATE jobs SET ${RELEASE_TO_QUEUE}, attempts = attempts - 1 WHERE id = $1 AND locked_by = $2`, [jobId, workerId]);
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
