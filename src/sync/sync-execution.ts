import type { Connection, ConnectionError, Dataset, Job, JobStep, StepTitle } from '../../entities/index.ts';
import type { EntityManager } from 'typeorm';
import type { AccountUpsert } from '../accounts/financial-data.repository.ts';
import { recordExtraction, type LifecycleEvent } from '../connections/connection.lifecycle.ts';
import { applyTransition } from '../connections/connection.transitions.ts';
import { firstRefreshAt, refreshAfterFailure, refreshIntervalMs } from '../connections/refresh-schedule.ts';
import { ConnectionRepository } from '../connections/connection.repository.ts';
import { recordJobEvent } from '../connections/job.events.ts';
import { followJob } from '../connect/connect-session.lifecycle.ts';
import type { Deps } from '../deps.ts';
import { backoffMs, CONSENT_LAPSED, decideFailure, exhausted, type FailureEffect } from '../jobs/job-failure.ts';
import { DEFAULT_RUNNER_OPTIONS, type JobRunnerOptions } from '../jobs/job-runner.options.ts';
import type { JobHandler, JobLease } from '../jobs/job-handler.ts';
import { JobRepository, LeaseLost } from '../jobs/job.repository.ts';
import { applyJobTransition } from '../jobs/job.transitions.ts';
import type { JobOutcome } from '../observability/metrics.ts';
import { InstitutionRepository } from '../institutions/institution.repository.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import { ChallengeRequired, type ProviderContext, type ProviderSession } from '../providers/provider.ts';
import { credentialBinding } from '../security/credential-cipher.ts';
import { hashState, newState } from '../security/oauth-state.ts';
import { fetchAccounts, writeAccounts } from './retrieve-accounts.step.ts';
import { fetchTransactions, writeTransactions } from './retrieve-transactions.step.ts';
import { verifyCredentials } from './verify-credentials.step.ts';

/** The datasets each step records the extraction state of (seed 000). */
const STEP_DATASETS: Record<StepTitle, Dataset[]> = {
  'verify-credentials': ['USER_INFO'],
  'retrieve-accounts': ['BANK_ACCOUNT', 'BANK_BALANCE'],
  'retrieve-transactions': ['BANK_TRANSACTION'],
};

/**
 * The refresh of a connection as the job runner dispatches it: each claimed job runs one SyncExecution. The runner
 * owns the claim and the lease; this module owns what a run does.
 */
export function syncJobs(deps: Deps, providers: ProviderRegistry, options: Partial<JobRunnerOptions> = {}): JobHandler {
  const merged = { ...DEFAULT_RUNNER_OPTIONS, ...options };
  return async (job, lease) => {
    const execution = new SyncExecution(deps, providers, merged, job, lease);
    await execution.run();
    return execution.outcome;
  };
}

/** One run of one job: its steps, then exactly one outcome (done, waiting on a challenge, requeued or failed). */
export class SyncExecution {
  /** How this run ended, once it has (for metrics). */
  outcome: JobOutcome | null = null;
  private steps: JobStep[];
  private current: StepTitle | null = null;
  private datasetState: Connection['datasetState'] = {};
  /** The connection's effective datasets (its own, or all its institution offers). */
  private datasets: Dataset[] = [];
  /** The connection's refresh interval, never below its institution's minimum. */
  private intervalMs = 0;
  /** The OAuth state handed to the provider for this run (a redirect sign-in brings it back). */
  private readonly state = newState();
  private readonly jobs: JobRepository;
  private readonly workerId: string;

  constructor(
    private readonly deps: Deps,
    private readonly providers: ProviderRegistry,
    private readonly options: JobRunnerOptions,
    private readonly job: Job,
    private readonly lease: JobLease,
  ) {
    this.jobs = new JobRepository(deps.db);
    this.workerId = lease.workerId;
    this.steps = job.steps.map((s) => ({ ...s }));
  }

  private now(): Date {
    return this.deps.clock.now();
  }

  async run(): Promise<void> {
    const connection = await new ConnectionRepository(this.deps.db.manager).findWithCredentials(this.job.appId, this.job.connectionId);
    if (!connection) return; // deleted with its jobs; nothing left to do
    const institution = await new InstitutionRepository(this.deps.db.manager).findByIdOrFail(connection.institutionId);
    const datasets = connection.datasets ?? institution.datasets;
    this.datasets = datasets;
    this.datasetState = connection.datasetState;
    this.intervalMs = refreshIntervalMs(connection.refreshIntervalMinutes, institution.minRefreshIntervalMinutes);
    const resuming = this.job.challenge !== null && this.job.challengeResponseCiphertext !== null;

    await this.deps.db.transaction(async (m) => {
      // A fresh run starts its steps over (upserts make repeating them harmless); a resumed one continues. A step
      // that an earlier run left interrupted says so until this run reaches it.
      if (!resuming) {
        this.steps = this.steps.map((s) =>
          s.status === 'interrupted' ? s : { ...s, status: 'pending', startedAt: null, finishedAt: null, error: null },
        );
      }
      await this.jobs.fencedUpdate(m, this.job.id, this.workerId, { steps: this.steps as never, updatedAt: this.now() });
      await applyTransition(m, this.job.appId, this.job.connectionId, { type: 'job-started', kind: this.job.kind }, this.now());
    });

    try {
      if (connection.consentExpiresAt && connection.consentExpiresAt <= this.now()) {
        await this.fail(CONSENT_LAPSED, 'consent-expired');
        return;
      }
      const ctx: ProviderContext = {
        institution: { id: institution.id, providerKey: institution.providerKey, providerUrl: institution.providerUrl },
        connection: { id: connection.id, reference: connection.reference, name: connection.name },
        credentials: connection.credentialsCiphertext
          ? this.deps.cipher.open(
              { ciphertext: connection.credentialsCiphertext, keyId: connection.credentialsKeyId! },
              credentialBinding(connection.appId, connection.id),
            )
          : {},
        secretCredentials: institution.credentialFields.filter((f) => f.secret).map((f) => f.name),
        ...(this.options.callbackUrl ? { authorization: { callbackUrl: this.options.callbackUrl, state: this.state } } : {}),
        consentDays: connection.consentDays,
        // A scheduled refresh has nobody to sign in; a create or an update has the user who asked for it.
        userPresent: this.job.kind !== 'refresh',
        attempt: this.job.attempts,
        now: this.now(),
      };
      const provider = this.providers.forInstitution(institution);

      const session = await this.step(
        'verify-credentials',
        datasets,
        () => verifyCredentials(this.deps.cipher, provider, ctx, this.job, resuming),
        async (_m, s) => s,
      );
      let accounts: AccountUpsert[] = [];
      if (this.has('retrieve-accounts')) {
        accounts = await this.step(
          'retrieve-accounts',
          datasets,
          () => fetchAccounts(provider, ctx, session),
          (m, fetched) => writeAccounts(m, connection, this.job.id, fetched, this.now()),
        );
      }
      if (this.has('retrieve-transactions')) {
        const lastSuccess = connection.datasetState.BANK_TRANSACTION?.lastSuccess;
        const since = lastSuccess ? new Date(new Date(lastSuccess).getTime() - this.options.transactionOverlapMs) : null;
        await this.step(
          'retrieve-transactions',
          datasets,
          () => fetchTransactions(provider, ctx, session, accounts, since),
          (m, fetched) => writeTransactions(m, connection, this.job.id, fetched, () => this.now()),
        );
      }
      await this.succeed(session);
    } catch (thrown) {
      if (thrown instanceof LeaseLost) throw thrown;
      if (thrown instanceof ChallengeRequired) {
        await this.awaitChallenge(thrown);
        return;
      }
      await this.handleFailure(thrown);
    }
  }

  private has(title: StepTitle): boolean {
    return this.steps.some((s) => s.title === title);
  }

  /**
   * Marks a step in progress, fetches from the provider, then in one transaction writes what was fetched, the
   * events it implies, and the step's success (and its datasets' extraction state). The write is fenced: a worker
   * that lost its lease writes nothing, so a job taken over after a crash never announces the same rows twice.
   */
  private async step<F, T>(
    title: StepTitle,
    datasets: Dataset[],
    fetch: () => Promise<F>,
    write: (m: EntityManager, fetched: F) => Promise<T>,
  ): Promise<T> {
    if (!this.lease.held()) throw new LeaseLost(this.job.id);
    this.current = title;
    const resumedVerify = title === 'verify-credentials' && this.stepOf(title).status === 'in-progress';
    this.setStep(title, {
      status: 'in-progress',
      startedAt: resumedVerify ? this.stepOf(title).startedAt : this.now(),
      finishedAt: null,
      error: null,
    });
    // One fenced UPDATE is atomic by itself: no BEGIN and COMMIT round trips around it.
    await this.jobs.fencedUpdate(this.deps.db.manager, this.job.id, this.workerId, { steps: this.steps as never, updatedAt: this.now() });
    const fetched = await fetch();
    const now = this.now();
    const steps = this.steps.map((s) => (s.title === title ? { ...s, status: 'success' as const, finishedAt: now } : s));
    const datasetState = recordExtraction(
      this.datasetState,
      STEP_DATASETS[title].filter((d) => datasets.includes(d)),
      'SUCCESS',
      this.job.id,
      now,
    );
    const result = await this.deps.db.transaction(async (m) => {
      await this.jobs.fencedUpdate(m, this.job.id, this.workerId, { steps: steps as never, updatedAt: now });
      const written = await write(m, fetched);
      await new ConnectionRepository(m).update(this.job.appId, this.job.connectionId, { datasetState });
      return written;
    });
    this.steps = steps;
    this.datasetState = datasetState;
    this.current = null;
    return result;
  }

  private stepOf(title: StepTitle): JobStep {
    return this.steps.find((s) => s.title === title)!;
  }

  private setStep(title: StepTitle, patch: Partial<JobStep>): void {
    this.steps = this.steps.map((s) => (s.title === title ? { ...s, ...patch } : s));
  }

  private async succeed(session: ProviderSession): Promise<void> {
    const now = this.now();
    this.outcome = 'succeeded';
    await this.finish(
      'succeeded',
      null,
      { type: 'job-succeeded' },
      (locked) => ({
        reference: session.reference,
        providerStatus: session.providerStatus,
        consentExpiresAt: session.consentExpiresAt,
        lastRefreshedAt: now,
        // A first import, or the first success after failures, starts the rhythm afresh; otherwise the sweep keeps it.
        nextRefreshAt:
          locked.nextRefreshAt === null || locked.failingSince !== null
            ? firstRefreshAt(now, this.intervalMs, this.options.refreshPolicy)
            : locked.nextRefreshAt,
      }),
      now,
    );
  }

  /**
   * Ends the job (succeeded or failed) and moves its connection on, in one transaction. locked_by stays, as the
   * record of which worker ran the job; the lease ends.
   */
  private async finish(
    status: 'succeeded' | 'failed',
    error: ConnectionError | null,
    event: LifecycleEvent,
    alongside: (locked: Connection) => Partial<Connection>,
    now: Date,
  ): Promise<void> {
    await this.deps.db.transaction(async (m) => {
      await applyJobTransition(
        m,
        this.job,
        status === 'succeeded' ? { type: 'succeed', steps: this.steps } : { type: 'fail', error: error!, steps: this.steps },
        now,
        this.workerId,
      );
      const changed = await applyTransition(m, this.job.appId, this.job.connectionId, event, now, alongside);
      if (changed) await recordJobEvent(m, status === 'succeeded' ? 'job.completed' : 'job.failed', this.job.id, changed.after, now);
      // A connect session waiting on this job learns its outcome in the same transaction.
      await followJob(m, this.job.id, status === 'succeeded' ? { type: 'job-succeeded' } : { type: 'job-failed', error: error! }, now);
    });
  }

  private async awaitChallenge(required: ChallengeRequired): Promise<void> {
    const now = this.now();
    this.outcome = 'awaiting-challenge';
    await this.deps.db.transaction(async (m) => {
      await applyJobTransition(
        m,
        this.job,
        {
          type: 'await-challenge',
          challenge: required.challenge,
          challengeStateHash: required.challenge.type === 'REDIRECT' ? hashState(this.state) : null,
        },
        now,
        this.workerId,
      );
      const connection = await new ConnectionRepository(m).lockOne(this.job.appId, this.job.connectionId);
      // A DECOUPLED challenge that is asked again is the same wait: no new event for it.
      const repeated = required.challenge.type === 'DECOUPLED' && this.job.challenge?.id === required.challenge.id;
      if (connection && !repeated) await recordJobEvent(m, 'job.challenge_required', this.job.id, connection, now);
      await followJob(m, this.job.id, { type: 'job-awaiting-user' }, now);
    });
  }

  private async handleFailure(thrown: unknown): Promise<void> {
    const decision = decideFailure(thrown);
    const now = this.now();
    if (decision.action === 'fail') {
      await this.fail(decision.error, decision.effect);
      return;
    }
    if (decision.action === 'retry' && this.job.failures + 1 >= this.options.maxFailures) {
      await this.fail(exhausted(decision.error, this.job.failures + 1), 'none');
      return;
    }
    if (decision.action === 'retry' && !(thrown instanceof Error && thrown.name === 'ProviderError')) {
      this.deps.logger.error({ err: thrown, jobId: this.job.id }, 'unexpected error in a job; it will be retried');
    }
    // Back to the queue: the step that was running starts again next time; the connection is not marked broken.
    if (this.current) this.setStep(this.current, { status: 'pending', startedAt: null, finishedAt: null, error: null });
    this.outcome = decision.action === 'rate-limited' ? 'rate-limited' : 'retried';
    const delay =
      decision.action === 'rate-limited'
        ? decision.retryAfterMs
        : backoffMs(this.job.failures + 1, this.options.backoffBaseMs, this.options.backoffMaxMs);
    await this.deps.db.transaction(async (m) => {
      await applyJobTransition(
        m,
        this.job,
        {
          type: decision.action,
          runAt: new Date(now.getTime() + delay),
          failures: decision.action === 'retry' ? this.job.failures + 1 : this.job.failures,
          error: decision.error,
          steps: this.steps,
        },
        now,
        this.workerId,
      );
      // A limit on this connection alone needs no pause: the job itself waits (runAt above).
      if (decision.action === 'rate-limited' && decision.scope !== 'connection') {
        const scope = decision.scope === 'provider' ? `provider:${this.job.providerKey}` : `institution:${this.job.institutionId}`;
        await this.jobs.pause(m, scope, new Date(now.getTime() + delay), decision.error.message);
      }
    });
  }

  /** The job fails: its step and datasets record the failure, and the lifecycle decides what it means. */
  private async fail(error: ConnectionError, effect: FailureEffect): Promise<void> {
    const now = this.now();
    const failedStep = this.current;
    if (failedStep) this.setStep(failedStep, { status: 'failed', finishedAt: now, error });
    const datasets = failedStep ? STEP_DATASETS[failedStep].filter((d) => this.datasets.includes(d)) : [];
    this.outcome = 'failed';
    await this.finish(
      'failed',
      error,
      { type: 'job-failed', error, effect },
      (locked) => ({
        datasetState: recordExtraction(this.datasetState, datasets, 'FAILURE', this.job.id, now),
        // Automatic refreshes of a connection that keeps failing back off (the sweep skips those needing the user).
        nextRefreshAt:
          locked.nextRefreshAt && refreshAfterFailure(now, this.intervalMs, locked.consecutiveFailures + 1, this.options.refreshPolicy),
      }),
      now,
    );
  }
}
