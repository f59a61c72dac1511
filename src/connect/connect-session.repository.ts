import type { EntityManager } from 'typeorm';
import { ConnectSession, FINISHED_CONNECT_SESSION_STATUSES, sqlList } from '../../entities/index.ts';

/** Every query on connect sessions. App-side reads filter by the app; the user's side finds a session by its token. */
export class ConnectSessionRepository {
  constructor(private readonly manager: EntityManager) {}

  private get repo() {
    return this.manager.getRepository(ConnectSession);
  }

  async insert(session: Partial<ConnectSession>): Promise<void> {
    await this.repo.insert(session);
  }

  findForApp(appId: string, id: string): Promise<ConnectSession | null> {
    return this.repo.findOneBy({ appId, id });
  }

  /** The session a URL's token opens, locked for the rest of the transaction (the user's clicks come one at a time). */
  lockByToken(tokenHash: string): Promise<ConnectSession | null> {
    return this.repo.createQueryBuilder('s').setLock('pessimistic_write').where('s.token_hash = :tokenHash', { tokenHash }).getOne();
  }

  lockForApp(appId: string, id: string): Promise<ConnectSession | null> {
    return this.repo.createQueryBuilder('s').setLock('pessimistic_write').where('s.app_id = :appId AND s.id = :id', { appId, id }).getOne();
  }

  /** Sessions following a job that have not finished, locked: the job's outcome moves them on. */
  lockFollowing(jobId: string): Promise<ConnectSession[]> {
    return this.repo
      .createQueryBuilder('s')
      .setLock('pessimistic_write')
      .where(`s.job_id = :jobId AND s.status NOT IN (${sqlList(FINISHED_CONNECT_SESSION_STATUSES)})`, { jobId })
      .getMany();
  }

  /** The newest session following a job (the one the bank's callback sends the user back to). */
  async latestForJob(appId: string, jobId: string): Promise<ConnectSession | null> {
    const [session] = await this.repo.find({ where: { appId, jobId }, order: { createdAt: 'DESC' }, take: 1 });
    return session ?? null;
  }

  /** The sealed URL token, for sending the user back to the session from the bank's callback. */
  async sealedToken(id: string): Promise<{ ciphertext: Buffer; keyId: string } | null> {
    const row = await this.repo.createQueryBuilder('s').addSelect('s.tokenCiphertext').where('s.id = :id', { id }).getOne();
    return row ? { ciphertext: row.tokenCiphertext, keyId: row.tokenKeyId } : null;
  }

  async update(id: string, patch: Partial<ConnectSession>): Promise<void> {
    await this.repo.update({ id }, patch);
  }
}
