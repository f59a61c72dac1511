import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { ConnectSession } from '../../entities/index.ts';
import type { Connection, Institution, Job } from '../../entities/index.ts';
import type { AppService } from '../apps/app.service.ts';
import { originsOf } from '../apps/redirect-uris.ts';
import { ConnectionRepository } from '../connections/connection.repository.ts';
import { institutionIdSchema } from '../connections/connection.schemas.ts';
import { requireAcceptsNewConnections, type ConnectionService } from '../connections/connection.service.ts';
import type { Deps } from '../deps.ts';
import { InstitutionRepository } from '../institutions/institution.repository.ts';
import { AppError, ErrorCode } from '../errors.ts';
import type { JobView } from '../jobs/job.presenter.ts';
import { DEFAULT_QUOTAS, requireRoomFor, type Quotas } from '../quotas.ts';
import type { ConnectSettings } from './connect-settings.ts';
import { applySessionEvent, IllegalSessionTransition, type SessionEvent } from './connect-session.lifecycle.ts';
import { effectiveStatus, isFinished, presentConnectSession, type ConnectSessionView } from './connect-session.presenter.ts';
import { ConnectSessionRepository } from './connect-session.repository.ts';
import type { CreateConnectSessionInput } from './connect-session.schemas.ts';
import type { JobService } from './job.service.ts';

/** What the hosted pages are drawn from: the session, whose it is, the bank, and the job under way. */
export interface ConnectPageModel {
  session: ConnectSession;
  app: { name: string; redirectOrigins: string[] };
  institution: Institution | null;
  job: JobView | null;
  /** The service's clock when the model was read (pages decide expiry by it, as the service does). */
  now: Date;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
const binding = (s: Pick<ConnectSession, 'appId' | 'id'>) => `${s.appId}:${s.id}:connect`;

/**
 * Hosted Connect sessions: the app's side (create, get, cancel) and the user's, one call per thing the user does on
 * the hosted pages. The user's side is reached by the URL's token alone. Connections and jobs are made by the
 * connections service as for any API call, with the session moved on in the same transaction, so a session can
 * never miss its job.
 */
export class ConnectSessionService {
  constructor(
    private readonly deps: Deps,
    private readonly apps: AppService,
    private readonly connections: ConnectionService,
    private readonly jobs: JobService,
    private readonly settings: ConnectSettings,
    private readonly quotas: Quotas = DEFAULT_QUOTAS,
  ) {}

  // ---- The app's side --------------------------------------------------------------------------------------------

  async create(appId: string, input: CreateConnectSessionInput): Promise<{ id: string; url: string; expiresAt: Date }> {
    const app = await this.apps.find(appId);
    if (input.redirectUri !== undefined && !app.redirectUris.includes(input.redirectUri)) {
      throw AppError.validation(
        ['redirectUri'],
        "is not one of the app's redirect URIs (register it with apps.addRedirectUri; it must match exactly)",
      );
    }
    const connection = input.connectionId ? await new ConnectionRepository(this.deps.db.manager).findOne(appId, input.connectionId) : null;
    if (input.connectionId && !connection) throw AppError.notFound('connection', input.connectionId, ['connectionId']);
    if (connection && connection.userId !== input.userId)
      throw AppError.validation(['userId'], `connection ${connection.id} belongs to another user`);
    if (connection && input.institutionId && input.institutionId !== connection.institutionId) {
      throw AppError.validation(['institutionId'], `connection ${connection.id} is at ${connection.institutionId}`);
    }
    const institutionId = input.institutionId ?? connection?.institutionId ?? null;
    if (institutionId) {
      const institution = await new InstitutionRepository(this.deps.db.manager).findById(institutionId);
      if (!institution) throw AppError.validation(['institutionId'], `no institution ${institutionId}`);
      // A repair reconnects an existing connection, which a disabled institution still serves.
      if (connection) {
        if (institution.status === 'unavailable')
          throw new AppError(ErrorCode.PRECONDITION_FAILED, `institution ${institutionId} is unavailable; try again later`);
      } else requireAcceptsNewConnections(institution);
      const unknown = (input.datasets ?? []).findIndex((d) => !institution.datasets.includes(d));
      if (unknown >= 0) throw AppError.validation(['datasets', unknown], `${input.datasets![unknown]} is not offered by ${institutionId}`);
    }

    const id = randomUUID();
    const token = randomBytes(32).toString('base64url');
    const now = this.deps.clock.now();
    const expiresAt = new Date(now.getTime() + this.settings.sessionTtlMs);
    const sealed = this.deps.cipher.seal({ token }, binding({ appId, id }));
    await this.deps.db.transaction(async (m) => {
      // A session that would create a connection counts against the user's quota now, not at its last step.
      if (!connection) {
        const connections = new ConnectionRepository(m);
        await requireRoomFor(
          m,
          'connectionsPerUser',
          this.quotas.connectionsPerUser,
          `${appId}:${input.userId}`,
          () => connections.countByUser(appId, input.userId),
          `user ${input.userId}`,
        );
      }
      await new ConnectSessionRepository(m).insert({
        id,
        appId,
        userId: input.userId,
        institutionId,
        connectionId: connection?.id ?? null,
        repair: connection !== null,
        jobId: null,
        datasets: input.datasets ?? null,
        redirectUri: input.redirectUri ?? null,
        consentDays: input.consentDays,
        locale: input.locale ?? null,
        status: 'created',
        step: 'consent',
        error: null,
        attemptsLeft: this.settings.maxAttempts,
        tokenHash: hashToken(token),
        tokenCiphertext: sealed.ciphertext,
        tokenKeyId: sealed.keyId,
        expiresAt,
        finishedAt: null,
      });
    });
    return { id, url: this.urlOf(token), expiresAt };
  }

  async get(appId: string, id: string): Promise<ConnectSessionView> {
    const session = await new ConnectSessionRepository(this.deps.db.manager).findForApp(appId, id);
    if (!session) throw AppError.notFound('connect session', id);
    return presentConnectSession(session, this.deps.clock.now());
  }

  /** Ends a session the user has not finished; its URL shows that it was cancelled. A job under way goes on. */
  async cancel(appId: string, id: string): Promise<ConnectSessionView> {
    await this.deps.db.transaction(async (m) => {
      const session = await new ConnectSessionRepository(m).lockForApp(appId, id);
      if (!session) throw AppError.notFound('connect session', id);
      const status = effectiveStatus(session, this.deps.clock.now());
      if (isFinished({ status })) throw new AppError(ErrorCode.PRECONDITION_FAILED, `connect session ${id} is ${status}`, { status });
      await applySessionEvent(m, session, { type: 'cancelled', by: 'app' }, this.deps.clock.now());
    });
    return this.get(appId, id);
  }

  // ---- The user's side (the hosted pages) ------------------------------------------------------------------------

  /** The page for a URL's token: the session as it is now (expired if its time ran out), or null for a token never issued. */
  async open(token: string): Promise<ConnectPageModel | null> {
    return this.withSession(token, (m, s) =>
      s.status === 'created' ? applySessionEvent(m, s, { type: 'opened' }, this.deps.clock.now()) : s,
    );
  }

  acceptConsent(token: string): Promise<ConnectPageModel | null> {
    return this.move(token, { type: 'consent-accepted' });
  }

  async chooseInstitution(token: string, institutionId: string): Promise<ConnectPageModel | null> {
    // What a form sent is anything at all: only an id that could be one is looked up.
    const parsed = institutionIdSchema.safeParse(institutionId);
    const institution = parsed.success ? await new InstitutionRepository(this.deps.db.manager).findById(parsed.data) : null;
    if (!institution || !institution.enabled || institution.status === 'unavailable')
      throw AppError.validation(['institutionId'], 'is not a bank you can connect now');
    return this.move(token, { type: 'institution-chosen', institutionId });
  }

  /** The banks the user can choose from, matching what they typed. */
  searchInstitutions(query: string | undefined): Promise<Institution[]> {
    // Typed into a search box: control characters (NUL, which PostgreSQL refuses, among them) dropped, 100 kept.
    const text = (query ?? '')
      .replace(/[\u0000-\u001f\u007f]/g, '')
      .trim()
      .slice(0, 100);
    return new InstitutionRepository(this.deps.db.manager).searchConnectable(text);
  }

  /**
   * The sign-in form: a first connection is created with the credentials, an existing one (repair mode, or a
   * second try after a wrong password) gets them as an update. Either way a job is queued and the session follows it.
   * A credential problem is a VALIDATION error naming the field, for the page to show beside it.
   */
  async submitCredentials(token: string, credentials: Record<string, string>): Promise<void> {
    const { session } = await this.requireSignIn(token, 'credentials');
    const follow = this.followFrom(token);
    if (session.connectionId) {
      await this.connections.update(session.appId, { id: session.connectionId, credentials, consentDays: session.consentDays }, (m, r) =>
        follow(m, r.connection, r.job!),
      );
    } else {
      await this.connections.create(
        session.appId,
        {
          userId: session.userId,
          institutionId: session.institutionId!,
          credentials,
          ...(session.datasets ? { datasets: session.datasets } : {}),
          consentDays: session.consentDays,
        },
        (m, r) => follow(m, r.connection, r.job),
      );
    }
  }

  /** "Continue to <bank>": a job that will ask the bank for its sign-in page; the page then sends the user there. */
  async startRedirect(token: string): Promise<void> {
    const { session } = await this.requireSignIn(token, 'redirect');
    const follow = this.followFrom(token);
    if (session.connectionId) {
      await this.connections.reauthorize(session.appId, session.connectionId, session.consentDays, (m, r) =>
        follow(m, r.connection, r.job),
      );
    } else {
      await this.connections.create(
        session.appId,
        {
          userId: session.userId,
          institutionId: session.institutionId!,
          ...(session.datasets ? { datasets: session.datasets } : {}),
          consentDays: session.consentDays,
        },
        (m, r) => follow(m, r.connection, r.job),
      );
    }
  }

  /** The answer to a TEXT challenge, typed into the page. */
  async answerChallenge(token: string, response: string): Promise<void> {
    const model = await this.open(token);
    if (!model || isFinished(model.session) || !model.session.jobId)
      throw new AppError(ErrorCode.PRECONDITION_FAILED, 'nothing is waiting for an answer');
    await this.jobs.answerChallenge(model.session.appId, model.session.jobId, response);
  }

  /** The page polls while a job runs; a DECOUPLED challenge is checked again each time (the user may have approved). */
  async poll(token: string): Promise<ConnectPageModel | null> {
    const model = await this.open(token);
    if (model?.job?.status === 'awaiting-challenge' && model.job.challenge?.type === 'DECOUPLED')
      await this.jobs.recheckDecoupled(model.job.id);
    return model;
  }

  cancelByUser(token: string): Promise<ConnectPageModel | null> {
    return this.move(token, { type: 'cancelled', by: 'user' });
  }

  /**
   * The bank's redirect back: the job whose state it carries continues, and the user goes back to the session's
   * page (its URL rebuilt from the sealed token). Null when no job waits for that state (used, expired or forged).
   */
  async completeRedirect(query: string): Promise<{ sessionUrl: string | null } | null> {
    const answered = await this.jobs.answerRedirect(query).catch((error: unknown) => {
      if (error instanceof AppError) return null;
      throw error;
    });
    if (!answered) return null;
    const repo = new ConnectSessionRepository(this.deps.db.manager);
    const session = await repo.latestForJob(answered.appId, answered.jobId);
    if (!session) return { sessionUrl: null };
    const sealed = await repo.sealedToken(session.id);
    const { token } = this.deps.cipher.open(sealed!, binding(session));
    return { sessionUrl: this.urlOf(token!) };
  }

  // ---- Helpers ---------------------------------------------------------------------------------------------------

  private urlOf(token: string): string {
    return `${this.settings.publicUrl}/connect/${token}`;
  }

  /** The session at the sign-in step, at an institution that signs in as `mode`; otherwise a clear refusal. */
  private async requireSignIn(token: string, mode: Institution['signIn']): Promise<ConnectPageModel> {
    const model = await this.open(token);
    if (!model || isFinished(model.session)) throw new AppError(ErrorCode.PRECONDITION_FAILED, 'this session is over');
    if (model.session.step !== 'sign-in' || !model.institution)
      throw new AppError(ErrorCode.PRECONDITION_FAILED, 'not at the sign-in step');
    if (model.institution.signIn !== mode)
      throw new AppError(ErrorCode.PRECONDITION_FAILED, `${model.institution.name} does not sign in that way`);
    return model;
  }

  /**
   * What ties a new job to the session, inside the transaction that queued it: the session is locked and checked
   * again (a second click, or another tab, finds it already moved on).
   */
  private followFrom(token: string) {
    return async (m: EntityManager, connection: Connection, job: Job) => {
      const session = await new ConnectSessionRepository(m).lockByToken(hashToken(token));
      if (!session || isFinished(session) || session.step !== 'sign-in')
        throw new AppError(ErrorCode.CONFLICT, 'this session has moved on (another tab?)');
      await applySessionEvent(m, session, { type: 'job-queued', jobId: job.id, connectionId: connection.id }, this.deps.clock.now());
    };
  }

  /**
   * A step the user took on a page. One the session has already moved past (a second click, the browser's Back and
   * a form sent again, another tab) changes nothing: the user is shown where the session is.
   */
  private move(token: string, event: SessionEvent): Promise<ConnectPageModel | null> {
    return this.withSession(token, async (m, s) => {
      if (isFinished(s)) return s;
      try {
        return await applySessionEvent(m, s, event, this.deps.clock.now());
      } catch (error) {
        // Thrown by the table before anything is written.
        if (error instanceof IllegalSessionTransition) return s;
        throw error;
      }
    });
  }

  /** Runs `step` on the token's session, locked, after marking it expired if its time ran out. */
  private async withSession(
    token: string,
    step: (m: EntityManager, session: ConnectSession) => Promise<ConnectSession> | ConnectSession,
  ): Promise<ConnectPageModel | null> {
    const now = this.deps.clock.now();
    const session = await this.deps.db.transaction(async (m) => {
      const found = await new ConnectSessionRepository(m).lockByToken(hashToken(token));
      if (!found) return null;
      if (effectiveStatus(found, now) === 'expired' && found.status !== 'expired')
        return applySessionEvent(m, found, { type: 'expired' }, now);
      return step(m, found);
    });
    return session ? this.model(session) : null;
  }

  private async model(session: ConnectSession): Promise<ConnectPageModel> {
    const app = await this.apps.find(session.appId);
    const institution = session.institutionId
      ? await new InstitutionRepository(this.deps.db.manager).findById(session.institutionId)
      : null;
    const job = session.jobId ? await this.jobs.get(session.appId, session.jobId).catch(() => null) : null;
    return { session, app: { name: app.name, redirectOrigins: originsOf(app.redirectUris) }, institution, job, now: this.deps.clock.now() };
  }
}
