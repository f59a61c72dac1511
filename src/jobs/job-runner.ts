import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import {
  Connection,
  Institution,
  type ConnectionError,
  type Dataset,
  type Job,
  type JobStep,
  type StepTitle,
} from '../../entities/index.ts';
import type { EntityManager } from 'typeorm';
import { FinancialDataRepository, type AccountUpsert } from '../accounts/financial-data.repository.ts';
import { recordExtraction, type FailureEffect, type LifecycleEvent } from '../connections/connection.lifecycle.ts';
import { applyTransition } from '../connections/connection.transitions.ts';
import { firstRefreshAt, refreshAfterFailure, refreshIntervalMs } from '../connections/refresh-schedule.ts';
import { DEFAULT_RUNNER_OPTIONS, type JobRunnerOptions } from './job-runner.options.ts';
import { ConnectionRepository } from '../connections/connection.repository.ts';
import { challengeBinding, credentialBinding } from '../security/credential-cipher.ts';
import { ClaimLoop } from '../db/claim-loop.ts';
import type { Deps } from '../deps.ts';
import type { JobOutcome } from '../observability/metrics.ts';
import {
  ChallengeRequired,
  type Provider,
  type ProviderAccount,
  type ProviderContext,
  type ProviderSession,
  type ProviderTransaction,
} from '../providers/provider.ts';
import { compareDecimal, presentMoney } from '../providers/money.ts';
import { recordEvent } from '../webhooks/event.recorder.ts';
import { MAX_IDS, type TransactionFact } from '../webhooks/notification-rule.matcher.ts';
import { recordJobEvent } from './job.events.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import { backoffMs, CONSENT_LAPSED, decideFailure, exhausted } from './job-failure.ts';
import { followJob } from '../connect/connect-session.lifecycle.ts';
import { hashState, newState } from '../security/oauth-state.ts';
import { JOBS_CHANNEL, JobRepository, LeaseLost } from './job.repository.ts';
import { applyJobTransition } from './job.transitions.ts';

const STEP_DATASETS: Record<StepTitle, Dataset[]> = {
  'verify-credentials': ['USER_INFO'],
  'retrieve-accounts': ['BANK_ACCOUNT', 'BANK_BALANCE'],
  'retrieve-transactions': ['BANK_TRANSACTION'],
};

/**
 * Claims jobs and runs their steps through the connection's provider. Knows no particular provider. Any number of
 * runners, in any number of processes, may share one database.
 */
export class JobRunner {
  readonly workerId: string;
  private readonly options: JobRunnerOptions;
  private readonly jobs: JobRepository;
  private readonly loop: ClaimLoop<Job>;

  constructor(
    private readonly deps: Deps,
    private readonly providers: ProviderRegistry,
    options: Partial<JobRunnerOptions> = {},
  ) {
    this.options = { ...DEFAULT_RUNNER_OPTIONS, ...options };
    this.workerId = this.options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.jobs = new JobRepository(deps.db);
    this.loop = new ClaimLoop<Job>({
      db: deps.db,
      logger: deps.logger,
      channel: JOBS_CHANNEL,
      pollMs: this.options.pollMs,
      concurrency: this.options.concurrency,
      what: 'jobs',
      onListenerState: (listening) => deps.metrics.listenerState(JOBS_CHANNEL, listening),
      claim: (free, inFlight) => this.claim(free, inFlight),
      execute: (job) => this.execute(job),
    });
  }

  /** Starts claiming: on every NOTIFY of a new job, when a slot frees up, and every pollMs. */
  start(): Promise<void> {
    return this.loop.start();
  }

  /**
   * Stops claiming, waits up to `graceMs` for jobs in flight, then hands the rest back to the queue so another
   * worker takes them at once (without waiting for their leases to run out).
   */
  async stop(graceMs = 10_000): Promise<void> {
    const left = await this.loop.stop(graceMs);
    if (left > 0) {
      const released = await this.jobs.releaseAll(this.workerId, this.deps.clock.now());
      this.deps.logger.warn({ released }, 'released unfinished jobs to the queue');
    }
  }

  /** Claims what fits and runs it to the end; for tests and tools that want no background loop. */
  runOnce(): Promise<number> {
    return this.loop.runOnce();
  }

  /** Runs until no job is due (jobs that wait on time or a user stay queued). */
  drain(maxRounds = 1000): Promise<number> {
    return this.loop.drain(maxRounds);
  }

  get activeJobs(): number {
    return this.loop.size;
  }

  private async claim(free: number, inFlight: readonly Job[]): Promise<Job[]> {
    const perProvider = new Map<string, number>();
    for (const j of inFlight) perProvider.set(j.providerKey, (perProvider.get(j.providerKey) ?? 0) + 1);
    const full = [...perProvider].filter(([, n]) => n >= this.options.perProviderConcurrency).map(([k]) => k);
    const claimed = await this.jobs.claim({
      workerId: this.workerId,
      limit: free,
      leaseMs: this.options.leaseMs,
      now: this.deps.clock.now(),
      excludeProviders: full,
    });
    // One claim may return several jobs of a provider with few free slots: hand the excess straight back.
    const kept: Job[] = [];
    for (const job of claimed) {
      const n = perProvider.get(job.providerKey) ?? 0;
      if (n < this.options.perProviderConcurrency) {
        perProvider.set(job.providerKey, n + 1);
        kept.push(job);
      } else {
        await this.jobs.unclaim(job.id, this.workerId);
      }
    }
    return kept;
  }

  /** Runs one claimed job, renewing its lease while it runs. Never throws. */
  private async execute(job: Job): Promise<void> {
    const log = this.deps.logger.child({ jobId: job.id, connectionId: job.connectionId, appId: job.appId });
    let leaseHeld = true;
    const renew = setInterval(
      () => {
        const until = new Date(this.deps.clock.now().getTime() + this.options.leaseMs);
        this.jobs.renewLease(job.id, this.workerId, until).then(
          (ok) => {
            if (!ok) leaseHeld = false;
          },
          (error: unknown) => log.warn({ err: error }, 'lease renewal failed'),
        );
      },
      Math.max(50, Math.floor(this.options.leaseMs / 3)),
    );
    const started = performance.now();
    const execution = new JobExecution(this.deps, this.jobs, this.providers, this.options, this.workerId, job, () => leaseHeld);
    try {
      await execution.run();
      if (execution.outcome) {
        const seconds = (performance.now() - started) / 1000;
        this.deps.metrics.jobRun(job.kind, execution.outcome, seconds);
        log.info({ kind: job.kind, outcome: execution.outcome, attempt: job.attempts, ms: Math.round(seconds * 1000) }, 'job run ended');
      }
    } catch (error) {
      if (error instanceof LeaseLost) log.warn('lost the lease on a job; another worker has it now');
      else log.error({ err: error }, 'job execution failed unexpectedly');
    } finally {
      clearInterval(renew);
    }
  }
}

/** One run of one job: its steps, then exactly one outcome (done, waiting on a challenge, requeued or failed). */
class JobExecution {
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

  constructor(
    private readonly deps: Deps,
    private readonly jobs: JobRepository,
    private readonly providers: ProviderRegistry,
    private readonly options: JobRunnerOptions,
    private readonly workerId: string,
    private readonly job: Job,
    private readonly leaseHeld: () => boolean,
  ) {
    this.steps = job.steps.map((s) => ({ ...s }));
  }

  private now(): Date {
    return this.deps.clock.now();
  }

  async run(): Promise<void> {
    const connection = await this.deps.db
      .getRepository(Connection)
      .createQueryBuilder('c')
      .addSelect('c.credentialsCiphertext')
      .where('c.app_id = :appId AND c.id = :id', { appId: this.job.appId, id: this.job.connectionId })
      .getOne();
    if (!connection) return; // deleted with its jobs; nothing left to do
    const institution = await this.deps.db.getRepository(Institution).findOneByOrFail({ id: connection.institutionId });
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
        () => this.verify(provider, ctx, resuming),
        async (_m, s) => s,
      );
      let accounts: AccountUpsert[] = [];
      if (this.has('retrieve-accounts')) {
        accounts = await this.step(
          'retrieve-accounts',
          datasets,
          () => provider.listAccounts(ctx, session),
          (m, fetched) => this.writeAccounts(m, connection, fetched),
        );
      }
      if (this.has('retrieve-transactions')) {
        const lastSuccess = connection.datasetState.BANK_TRANSACTION?.lastSuccess;
        const since = lastSuccess ? new Date(new Date(lastSuccess).getTime() - this.options.transactionOverlapMs) : null;
        await this.step(
          'retrieve-transactions',
          datasets,
          async () => {
            const perAccount: { account: AccountUpsert; transactions: ProviderTransaction[] }[] = [];
            for (const account of accounts) {
              perAccount.push({ account, transactions: await provider.listTransactions(ctx, session, account.providerAccountId, since) });
            }
            return perAccount;
          },
          (m, fetched) => this.writeTransactions(m, connection, fetched),
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

  private async verify(provider: Provider, ctx: ProviderContext, resuming: boolean): Promise<ProviderSession> {
    if (!resuming) return provider.verifyCredentials(ctx);
    const { response } = this.deps.cipher.open(
      { ciphertext: this.job.challengeResponseCiphertext!, keyId: this.job.challengeResponseKeyId! },
      challengeBinding(this.job.appId, this.job.id),
    ) as { response: string };
    const challenge = { ...this.job.challenge!, expiresAt: new Date(this.job.challenge!.expiresAt) };
    return provider.answerChallenge(ctx, challenge, response);
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
    if (!this.leaseHeld()) throw new LeaseLost(this.job.id);
    this.current = title;
    const resumedVerify = title === 'verify-credentials' && this.stepOf(title).status === 'in-progress';
    this.setStep(title, {
      status: 'in-progress',
      startedAt: resumedVerify ? this.stepOf(title).startedAt : this.now(),
      finishedAt: null,
      error: null,
    });
    await this.deps.db.transaction((m) =>
      this.jobs.fencedUpdate(m, this.job.id, this.workerId, { steps: this.steps as never, updatedAt: this.now() }),
    );
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

  /** Upserts accounts and announces the new ones and every changed balance. */
  private async writeAccounts(m: EntityManager, connection: Connection, fetched: ProviderAccount[]): Promise<AccountUpsert[]> {
    const now = this.now();
    const upserted = await new FinancialDataRepository(m).upsertAccounts(connection.appId, connection.id, fetched, now);
    const currency = new Map(fetched.map((a) => [a.id, a.currency]));
    const facts = upserted.map((a) => ({
      accountId: a.id,
      currency: currency.get(a.providerAccountId) ?? '',
      balance: presentMoney(a.balance),
      previousBalance: a.previousBalance === null ? null : presentMoney(a.previousBalance),
    }));
    const base = { appId: connection.appId, userId: connection.userId, connectionId: connection.id, occurredAt: now };
    const created = facts.filter((_, i) => upserted[i]!.inserted);
    if (created.length) {
      await recordEvent(m, {
        ...base,
        type: 'accounts.new',
        data: { jobId: this.job.id, count: created.length, accountIds: created.map((a) => a.accountId), accounts: created },
        facts: { accounts: created },
      });
    }
    for (const fact of facts) {
      if (fact.previousBalance === null || compareDecimal(fact.previousBalance, fact.balance) === 0) continue;
      await recordEvent(m, {
        ...base,
        type: 'account.balance_changed',
        data: { jobId: this.job.id, ...fact },
        facts: { accounts: [fact] },
      });
    }
    return upserted;
  }

  /** Upserts transactions and announces the new ones (counts and ids; amounts go to notification rules only). */
  private async writeTransactions(
    m: EntityManager,
    connection: Connection,
    fetched: { account: AccountUpsert; transactions: ProviderTransaction[] }[],
  ): Promise<void> {
    const data = new FinancialDataRepository(m);
    const created: TransactionFact[] = [];
    let updated = 0;
    const byAccount: { accountId: string; count: number }[] = [];
    for (const { account, transactions } of fetched) {
      const result = await data.upsertTransactions(connection.appId, connection.id, account.id, transactions);
      updated += result.updated.length;
      const byProviderId = new Map(transactions.map((t) => [t.id, t]));
      for (const row of result.inserted) {
        const t = byProviderId.get(row.providerTransactionId)!;
        created.push({
          id: row.id,
          accountId: account.id,
          amount: t.amount,
          currency: t.currency,
          description: t.description,
          bookedAt: new Date(t.bookedAt).toISOString(),
          status: t.status,
        });
      }
      if (result.inserted.length) byAccount.push({ accountId: account.id, count: result.inserted.length });
    }
    if (created.length === 0) return;
    const ids = created.slice(0, MAX_IDS).map((t) => t.id);
    await recordEvent(m, {
      appId: connection.appId,
      userId: connection.userId,
      connectionId: connection.id,
      occurredAt: this.now(),
      type: 'transactions.new',
      data: {
        jobId: this.job.id,
        count: created.length,
        updatedCount: updated,
        byAccount,
        transactionIds: ids,
        truncated: ids.length < created.length,
      },
      facts: { transactions: created },
    });
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
