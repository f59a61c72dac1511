import type { EntityManager } from 'typeorm';
import { Application } from '../../entities/index.ts';
import { API_KEYS_CHANNEL } from './api-key-cache.ts';

/** Every query on applications (client apps): their keys and their redirect URIs. */
export class AppRepository {
  constructor(private readonly manager: EntityManager) {}

  private get repo() {
    return this.manager.getRepository(Application);
  }

  /** Inserts a new app and returns the saved row (id and timestamps filled in by the database). */
  insert(app: Pick<Application, 'name' | 'apiKeyHash' | 'apiKeyPrefix' | 'keyRotatedAt'>): Promise<Application> {
    return this.repo.save(this.repo.create(app));
  }

  /** Every app, oldest first. */
  listOldestFirst(): Promise<Application[]> {
    return this.repo.find({ order: { createdAt: 'ASC' } });
  }

  count(): Promise<number> {
    return this.repo.count();
  }

  findById(id: string): Promise<Application | null> {
    return this.repo.findOneBy({ id });
  }

  findByIdOrFail(id: string): Promise<Application> {
    return this.repo.findOneByOrFail({ id });
  }

  /**
   * Replaces the app's key (hash, prefix, rotation time); false when there is no such app. The NOTIFY commits with it,
   * so every API process forgets the keys it remembered as the new one becomes the only one (ApiKeyCache).
   */
  async replaceKey(id: string, key: { apiKeyHash: string; apiKeyPrefix: string; keyRotatedAt: Date }): Promise<boolean> {
    return this.manager.transaction(async (m) => {
      const result = await m.getRepository(Application).update({ id }, key);
      if (result.affected) await m.query(`SELECT pg_notify($1, $2)`, [API_KEYS_CHANNEL, id]);
      return Boolean(result.affected);
    });
  }

  /** The app's redirect URIs, its row locked until the transaction ends (so a concurrent add sees this one's). */
  async lockRedirectUris(id: string): Promise<string[] | null> {
    const [app]: { redirect_uris: string[] }[] = await this.manager.query(
      `SELECT redirect_uris FROM applications WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return app ? app.redirect_uris : null;
  }

  async appendRedirectUri(id: string, uri: string): Promise<void> {
    await this.manager.query(`UPDATE applications SET redirect_uris = array_append(redirect_uris, $2) WHERE id = $1`, [id, uri]);
  }

  /** Removes every occurrence of `uri`; a URI not there changes nothing. */
  async removeRedirectUri(id: string, uri: string): Promise<void> {
    await this.manager.query(`UPDATE applications SET redirect_uris = array_remove(redirect_uris, $2) WHERE id = $1`, [id, uri]);
  }

  /** The app a key hash belongs to. Runs on every request: one indexed lookup, in plain SQL. */
  async findSummaryByKeyHash(
    apiKeyHash: string,
  ): Promise<Pick<Application, 'id' | 'name' | 'apiKeyPrefix' | 'createdAt' | 'keyRotatedAt'> | null> {
    const [app]: Application[] = await this.manager.query(
      `SELECT id, name, api_key_prefix AS "apiKeyPrefix", created_at AS "createdAt", key_rotated_at AS "keyRotatedAt"
       FROM applications WHERE api_key_hash = $1`,
      [apiKeyHash],
    );
    return app ?? null;
  }
}
