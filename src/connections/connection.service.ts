import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { Connection, Dataset, Institution, Job } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { InstitutionRepository } from '../institutions/institution.repository.ts';
import { DEFAULT_QUOTAS, requireRoomFor, type Quotas } from '../quotas.ts';
import { AppError, ErrorCode, type FieldIssue } from '../errors.ts';
import { credentialBinding } from '../security/credential-cipher.ts';
import { activeJobsByConnection, enqueueJob, prioritizeJobs } from '../jobs/job.queue.ts';
import { presentJob, type JobView } from '../jobs/job.presenter.ts';
import { recordEvent } from '../webhooks/event.recorder.ts';
import { removeConnectionsFromRules } from '../webhooks/notification-rule.repository.ts';
import { NEW_CONNECTION } from './connection.lifecycle.ts';
import { applyTransition } from './connection.transitions.ts';
import { presentConnection, type ConnectionView } from './connection.presenter.ts';
import { ConnectionRepository } from './connection.repository.ts';
import type { CreateConnectionInput, ListConnectionsInput, UpdateConnectionInput } from './connection.schemas.ts';

/** The rules for connections: what may be created, changed and deleted, and when. */
export class ConnectionService {
  constructor(
    private readonly deps: Deps,
    private readonly quotas: Quotas = DEFAULT_QUOTAS,
  ) {}

  /**
   * `within` runs in the creating transaction, with what was created: a connect session records its connection and
   * job there, so it can never miss the job's outcome.
   */
  async create(
    appId: string,
    input: CreateConnectionInput,
    within?: (m: EntityManager, created: { connection: Connection; job: Job }) => Promise<void>,
  ): Promise<{ connection: ConnectionView; job: JobView }> {
    const institution = await new InstitutionRepository(this.deps.db.manager).findById(input.institutionId);
    if (!institution) throw AppError.validation(['institutionId'], `no institution ${input.institutionId}`);
    requireAcceptsNewConnections(institution);
    throwIfAny([
      ...checkDatasets(institution, input.datasets),
      ...checkCredentials(institution, input.credentials, true),
      ...checkRefreshInterval(institution, input.refreshIntervalMinutes),
    ]);

    const id = randomUUID();
    const sealed = input.credentials ? this.deps.cipher.seal(input.credentials, credentialBinding(appId, id)) : null;
    return this.deps.db.transaction(async (manager) => {
      const connections = new ConnectionRepository(manager);
      await requireRoomFor(
        manager,
        'connectionsPerUser',
        this.quotas.connectionsPerUser,
        `${appId}:${input.userId}`,
        () => connections.countByUser(appId, input.userId),
        `user ${input.userId}`,
      );
      const connection = await connections.insert({
        id,
        appId,
        userId: input.userId,
        institutionId: institution.id,
        method: institution.method,
        serviceProvider: institution.providerKey,
        reference: null,
        name: input.name ?? null,
        scopes: input.scopes ?? null,
        datasets: input.datasets ?? null,
        ...NEW_CONNECTION,
        autoRefresh: input.autoRefresh ?? true,
        refreshIntervalMinutes: input.refreshIntervalMinutes ?? Math.max(1440, institution.minRefreshIntervalMinutes),
        consentDays: input.consentDays ?? null,
        credentialsCiphertext: sealed?.ciphertext ?? null,
        credentialsKeyId: sealed?.keyId ?? null,
      });
      await recordEvent(manager, {
        appId,
        userId: connection.userId,
        connectionId: id,
        occurredAt: this.deps.clock.now(),
        type: 'connection.created',
        data: { connection: presentConnection(connection) },
      });
      const job = await enqueueJob(manager, {
        appId,
        connectionId: id,
        kind: 'create',
        institution,
        datasets: effectiveDatasets(connection, institution),
        runAt: this.deps.clock.now(),
      });
      await within?.(manager, { connection, job });
      return { connection: presentConnection(connection), job: presentJob(job) };
    });
  }

  async get(appId: string, id: string): Promise<ConnectionView> {
    const found = await new ConnectionRepository(this.deps.db.manager).findOne(appId, id);
    if (!found) throw AppError.notFound('connection', id);
    return presentConnection(found);
  }

  async list(appId: string, input: ListConnectionsInput): Promise<{ items: ConnectionView[]; nextCursor: string | null }> {
    const page = await new ConnectionRepository(this.deps.db.manager).list(appId, input);
    return { items: page.items.map(presentConnection), nextCursor: page.nextCursor };
  }

  /**
   * Changes a connection's settings. Refused while a job is queued or running (finAPI's rule), and when `version`
   * is given but stale. New credentials are verified by an `update` job queued in the same transaction.
   */
  async update(
    appId: string,
    input: UpdateConnectionInput,
    within?: (m: EntityManager, updated: { connection: Connection; job: Job | null }) => Promise<void>,
  ): Promise<{ connection: ConnectionView; job: JobView | null }> {
    return this.deps.db.transaction(async (manager) => {
      const repo = new ConnectionRepository(manager);
      const current = await repo.lockOne(appId, input.id);
      if (!current) throw AppError.notFound('connection', input.id);
      if (input.version !== undefined && input.version !== current.version) {
        throw new AppError(
          ErrorCode.CONFLICT,
          `connection ${input.id} is at version ${current.version}, not ${input.version}; reload it and retry`,
          { currentVersion: current.version },
        );
      }
      await throwIfBusy(manager, appId, [input.id]);

      const institution = await new InstitutionRepository(manager).findByIdOrFail(current.institutionId);
      throwIfAny([
        ...checkDatasets(institution, input.datasets),
        ...(input.credentials !== undefined ? checkCredentials(institution, input.credentials, false) : []),
        ...checkRefreshInterval(institution, input.refreshIntervalMinutes),
      ]);

      const patch: Partial<Connection> = {};
      if (input.name !== undefined) patch.name = input.name;
      if (input.scopes !== undefined) patch.scopes = input.scopes;
      if (input.datasets !== undefined) patch.datasets = input.datasets;
      if (input.autoRefresh !== undefined) patch.autoRefresh = input.autoRefresh;
      if (input.refreshIntervalMinutes !== undefined) patch.refreshIntervalMinutes = input.refreshIntervalMinutes;
      if (input.consentDays !== undefined) patch.consentDays = input.consentDays;
      if (input.credentials !== undefined) {
        const sealed = this.deps.cipher.seal(input.credentials, credentialBinding(appId, input.id));
        patch.credentialsCiphertext = sealed.ciphertext;
        patch.credentialsKeyId = sealed.keyId;
        // New credentials are a new consent: the old expiry no longer applies (the job records the new one).
        patch.consentExpiresAt = null;
      }
      let connection = current;
      if (input.credentials !== undefined) {
        // New credentials are the user's action: a lifecycle transition, written (with its events) in one place.
        connection = (await applyTransition(manager, appId, input.id, { type: 'credentials-updated' }, this.deps.clock.now(), () => patch))!
          .after;
      } else if (Object.keys(patch).length) {
        connection = await repo.update(appId, input.id, patch);
      }

      let job: Job | null = null;
      if (input.credentials !== undefined) {
        job = await enqueueJob(manager, {
          appId,
          connectionId: input.id,
          kind: 'update',
          institution,
          datasets: effectiveDatasets(connection, institution),
          runAt: this.deps.clock.now(),
        });
      }
      await within?.(manager, { connection, job });
      return { connection: presentConnection(connection), job: job && presentJob(job) };
    });
  }

  /**
   * The user signs in at the bank again (a redirect institution's renewed consent, or a repair): like new
   * credentials, it is the user's action, clears the old consent and queues an `update` job, which sends the
   * user to the bank's page. Refused while busy.
   */
  async reauthorize(
    appId: string,
    id: string,
    consentDays: number | null,
    within?: (m: EntityManager, updated: { connection: Connection; job: Job }) => Promise<void>,
  ): Promise<{ connection: ConnectionView; job: JobView }> {
    return this.deps.db.transaction(async (manager) => {
      const current = await new ConnectionRepository(manager).lockOne(appId, id);
      if (!current) throw AppError.notFound('connection', id);
      await throwIfBusy(manager, appId, [id]);
      const institution = await new InstitutionRepository(manager).findByIdOrFail(current.institutionId);
      const now = this.deps.clock.now();
      const changed = await applyTransition(manager, appId, id, { type: 'credentials-updated' }, now, () => ({
        consentExpiresAt: null,
        consentDays,
      }));
      const job = await enqueueJob(manager, {
        appId,
        connectionId: id,
        kind: 'update',
        institution,
        datasets: effectiveDatasets(changed!.after, institution),
        runAt: now,
      });
      await within?.(manager, { connection: changed!.after, job });
      return { connection: presentConnection(changed!.after), job: presentJob(job) };
    });
  }

  /**
   * Starts a refresh, or returns the job already queued or running with `alreadyRunning: true` (Basiq's behaviour).
   * Refused (PRECONDITION_FAILED) when only the user can fix the connection: retrying known-bad credentials would
   * only lock the user out at the bank.
   */
  async refresh(appId: string, id: string): Promise<RefreshResult> {
    return this.deps.db.transaction(async (manager) => {
      const connection = await new ConnectionRepository(manager).lockOne(appId, id);
      if (!connection) throw AppError.notFound('connection', id);
      const active = (await activeJobsByConnection(manager, appId, [id])).get(id);
      if (active) {
        // The user now waits on it, even if the scheduler queued it.
        await prioritizeJobs(manager, [active]);
        return { connectionId: id, job: presentJob(active), alreadyRunning: true };
      }
      const blocked = refreshBlockedBecause(connection);
      if (blocked) throw new AppError(ErrorCode.PRECONDITION_FAILED, `connection ${id}: ${blocked}`, { reason: blocked });
      return { connectionId: id, job: presentJob(await this.enqueueRefresh(manager, connection)), alreadyRunning: false };
    });
  }

  /**
   * One refresh per connection of the user that is not busy; busy ones report their in-flight job, and those only
   * the user can fix are listed in `skipped` with the reason.
   */
  async refreshAll(appId: string, userId: string): Promise<{ jobs: RefreshResult[]; skipped: { connectionId: string; reason: string }[] }> {
    return this.deps.db.transaction(async (manager) => {
      const repo = new ConnectionRepository(manager);
      const ids = await repo.lockIdsByUser(appId, userId);
      const active = await activeJobsByConnection(manager, appId, ids);
      await prioritizeJobs(manager, [...active.values()]);
      const jobs: RefreshResult[] = [];
      const skipped: { connectionId: string; reason: string }[] = [];
      for (const id of ids) {
        const inFlight = active.get(id);
        if (inFlight) {
          jobs.push({ connectionId: id, job: presentJob(inFlight), alreadyRunning: true });
          continue;
        }
        const connection = (await repo.findOne(appId, id))!;
        const blocked = refreshBlockedBecause(connection);
        if (blocked) skipped.push({ connectionId: id, reason: blocked });
        else jobs.push({ connectionId: id, job: presentJob(await this.enqueueRefresh(manager, connection)), alreadyRunning: false });
      }
      return { jobs, skipped };
    });
  }

  /** Queues a refresh of a connection whose row lock the caller holds (used by the API and the scheduler). */
  async enqueueRefresh(manager: EntityManager, connection: Connection): Promise<Job> {
    const institution = await new InstitutionRepository(manager).findByIdOrFail(connection.institutionId);
    return enqueueJob(manager, {
      appId: connection.appId,
      connectionId: connection.id,
      // A connection that never completed is still being created.
      kind: connection.connectedAt ? 'refresh' : 'create',
      institution,
      datasets: effectiveDatasets(connection, institution),
      runAt: this.deps.clock.now(),
    });
  }

  /** Deletes a connection (and, through the schema, its jobs). Refused while busy. */
  async delete(appId: string, id: string): Promise<{ id: string }> {
    return this.deps.db.transaction(async (manager) => {
      const repo = new ConnectionRepository(manager);
      const connection = await repo.lockOne(appId, id);
      if (!connection) throw AppError.notFound('connection', id);
      await throwIfBusy(manager, appId, [id]);
      await this.deleteLocked(manager, [connection]);
      return { id };
    });
  }

  /** Deletes every connection of a user, or none: if any is busy the CONFLICT names them and nothing is deleted. */
  async deleteAll(appId: string, userId: string): Promise<{ deletedIds: string[] }> {
    return this.deps.db.transaction(async (manager) => {
      const repo = new ConnectionRepository(manager);
      const ids = await repo.lockIdsByUser(appId, userId);
      await throwIfBusy(manager, appId, ids);
      // One transaction is one database connection: its queries go one after another (pg@9 refuses them at once).
      const connections: Connection[] = [];
      for (const id of ids) connections.push((await repo.findOne(appId, id))!);
      await this.deleteLocked(manager, connections);
      return { deletedIds: ids };
    });
  }

  /**
   * Deletes connections whose row locks the caller holds: announces each (`connection.deleted` carries the
   * connection as it was), and narrows notification rules the way finAPI does: a rule scoped to these connections
   * alone goes, one scoped to several loses them.
   */
  private async deleteLocked(manager: EntityManager, connections: Connection[]): Promise<void> {
    if (connections.length === 0) return;
    const appId = connections[0]!.appId;
    const now = this.deps.clock.now();
    for (const c of connections) {
      await recordEvent(manager, {
        appId,
        userId: c.userId,
        connectionId: c.id,
        occurredAt: now,
        type: 'connection.deleted',
        data: { connection: presentConnection(c) },
      });
    }
    const ids = connections.map((c) => c.id);
    await removeConnectionsFromRules(manager, appId, ids);
    await new ConnectionRepository(manager).deleteByIds(appId, ids);
  }
}

export interface RefreshResult {
  connectionId: string;
  job: JobView;
  alreadyRunning: boolean;
}

/** Why only the user can move this connection on, or null. */
function refreshBlockedBecause(c: Connection): string | null {
  if (c.status === 'DISCONNECTED') return 'access was revoked at the institution; give new credentials with connections.update';
  if (c.status === 'EXPIRED') return 'the consent has expired; renew it with connections.update';
  if (c.userActionRequired)
    return `the user must act first (${c.error?.code ?? 'credentials'}); give new credentials with connections.update`;
  return null;
}

function effectiveDatasets(connection: Pick<Connection, 'datasets'>, institution: Institution): Dataset[] {
  return connection.datasets ?? institution.datasets;
}

async function throwIfBusy(manager: EntityManager, appId: string, connectionIds: string[]): Promise<void> {
  const active = await activeJobsByConnection(manager, appId, connectionIds);
  if (active.size === 0) return;
  const busy = [...active.keys()].sort();
  throw new AppError(
    ErrorCode.CONFLICT,
    `connection${busy.length > 1 ? 's' : ''} ${busy.join(', ')} ${busy.length > 1 ? 'have' : 'has'} a job in progress (queued, running or awaiting a challenge answer); retry when it finishes`,
    { busyConnectionIds: busy, jobIds: busy.map((id) => active.get(id)!.id) },
  );
}

function throwIfAny(issues: FieldIssue[]): void {
  if (issues.length === 0) return;
  const error = AppError.validation(issues[0]!.path, issues[0]!.message);
  error.details.issues = issues;
  throw error;
}

/**
 * A new connection (a create, a connect session choosing a bank) needs an institution that is enabled (not retired
 * by an operator) and not unavailable right now. Existing connections at a disabled one keep refreshing.
 */
export function requireAcceptsNewConnections(institution: Pick<Institution, 'id' | 'enabled' | 'status'>): void {
  if (!institution.enabled)
    throw new AppError(ErrorCode.PRECONDITION_FAILED, `institution ${institution.id} is disabled and takes no new connections`);
  if (institution.status === 'unavailable')
    throw new AppError(ErrorCode.PRECONDITION_FAILED, `institution ${institution.id} is unavailable; try again later`);
}

function checkDatasets(institution: Institution, datasets: Dataset[] | null | undefined): FieldIssue[] {
  if (!datasets) return [];
  return datasets.flatMap((d, i) =>
    institution.datasets.includes(d)
      ? []
      : [{ path: ['datasets', i], message: `${d} is not offered by ${institution.id} (offers ${institution.datasets.join(', ')})` }],
  );
}

/** Credentials against the institution's fields: every required one present and non-empty, none unknown. */
function checkCredentials(institution: Institution, credentials: Record<string, string> | undefined, creating: boolean): FieldIssue[] {
  const fields = institution.credentialFields;
  const required = fields.filter((f) => f.required);
  if (credentials === undefined) {
    return creating && required.length
      ? [{ path: ['credentials'], message: `${institution.id} requires ${required.map((f) => f.name).join(', ')}` }]
      : [];
  }
  const known = new Set(fields.map((f) => f.name));
  return [
    ...required
      .filter((f) => !credentials[f.name]?.trim())
      .map((f) => ({ path: ['credentials', f.name], message: `required by ${institution.id} (${f.label})` })),
    ...Object.keys(credentials)
      .filter((k) => !known.has(k))
      .map((k) => ({
        path: ['credentials', k],
        message: `not a credential of ${institution.id} (expects ${[...known].join(', ') || 'none'})`,
      })),
  ];
}

function checkRefreshInterval(institution: Institution, minutes: number | undefined): FieldIssue[] {
  return minutes !== undefined && minutes < institution.minRefreshIntervalMinutes
    ? [{ path: ['refreshIntervalMinutes'], message: `${institution.id} allows at least ${institution.minRefreshIntervalMinutes} minutes` }]
    : [];
}
