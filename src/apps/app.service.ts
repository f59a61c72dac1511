import { Application } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { AppError, ErrorCode } from '../errors.ts';
import { MAX_REDIRECT_URIS, redirectUriProblem } from './redirect-uris.ts';
import { hashApiKey, issueApiKey, looksLikeApiKey } from '../security/api-key.ts';

export interface AppSummary {
  id: string;
  name: string;
  apiKeyPrefix: string;
  createdAt: Date;
  keyRotatedAt: Date | null;
}

/** What an app knows about itself (apps.get): its summary and where Hosted Connect may send its users back. */
export interface AppView extends AppSummary {
  redirectUris: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const summary = (a: Application): AppSummary => ({
  id: a.id,
  name: a.name,
  apiKeyPrefix: a.apiKeyPrefix,
  createdAt: a.createdAt,
  keyRotatedAt: a.keyRotatedAt,
});

/** Client apps and their API keys. Keys are returned only when issued; only their hash is stored. */
export class AppService {
  constructor(private readonly deps: Deps) {}

  private get repo() {
    return this.deps.db.getRepository(Application);
  }

  async create(name: string): Promise<{ app: AppSummary; apiKey: string }> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 200) throw AppError.validation(['name'], 'must be 1 to 200 characters');
    const issued = issueApiKey();
    const app = await this.repo.save(
      this.repo.create({ name: trimmed, apiKeyHash: issued.hash, apiKeyPrefix: issued.displayPrefix, keyRotatedAt: null }),
    );
    return { app: summary(app), apiKey: issued.key };
  }

  async list(): Promise<AppSummary[]> {
    return (await this.repo.find({ order: { createdAt: 'ASC' } })).map(summary);
  }

  async count(): Promise<number> {
    return this.repo.count();
  }

  /** Issues a new key; the old one stops working at once. */
  async rotateKey(id: string): Promise<{ app: AppSummary; apiKey: string }> {
    if (!UUID.test(id)) throw AppError.notFound('app', id);
    const issued = issueApiKey();
    const result = await this.repo.update(
      { id },
      { apiKeyHash: issued.hash, apiKeyPrefix: issued.displayPrefix, keyRotatedAt: this.deps.clock.now() },
    );
    if (!result.affected) throw AppError.notFound('app', id);
    return { app: summary(await this.repo.findOneByOrFail({ id })), apiKey: issued.key };
  }

  async find(id: string): Promise<AppView> {
    const app = UUID.test(id) ? await this.repo.findOneBy({ id }) : null;
    if (!app) throw AppError.notFound('app', id);
    return { ...summary(app), redirectUris: app.redirectUris };
  }

  /** Registers a redirect URI (matched exactly later, as OAuth requires). Adding one already there changes nothing. */
  async addRedirectUri(id: string, uri: string): Promise<AppView> {
    const problem = redirectUriProblem(uri);
    if (problem) throw AppError.validation(['uri'], problem);
    await this.deps.db.transaction(async (m) => {
      const [app]: { redirect_uris: string[] }[] = await m.query(`SELECT redirect_uris FROM applications WHERE id = $1 FOR UPDATE`, [id]);
      if (!app) throw AppError.notFound('app', id);
      if (app.redirect_uris.includes(uri)) return;
      if (app.redirect_uris.length >= MAX_REDIRECT_URIS) {
        throw new AppError(ErrorCode.QUOTA_EXCEEDED, `the app has ${MAX_REDIRECT_URIS} redirect URIs, the most allowed`, {
          quota: 'redirectUrisPerApp',
          limit: MAX_REDIRECT_URIS,
        });
      }
      await m.query(`UPDATE applications SET redirect_uris = array_append(redirect_uris, $2) WHERE id = $1`, [id, uri]);
    });
    return this.find(id);
  }

  async removeRedirectUri(id: string, uri: string): Promise<AppView> {
    await this.find(id);
    await this.deps.db.query(`UPDATE applications SET redirect_uris = array_remove(redirect_uris, $2) WHERE id = $1`, [id, uri]);
    return this.find(id);
  }

  /** The app a presented key belongs to, or null. */
  async authenticate(presentedKey: string): Promise<AppSummary | null> {
    if (!looksLikeApiKey(presentedKey)) return null;
    // Every request: one indexed lookup, in plain SQL.
    const [app]: Application[] = await this.deps.db.query(
      `SELECT id, name, api_key_prefix AS "apiKeyPrefix", created_at AS "createdAt", key_rotated_at AS "keyRotatedAt"
       FROM applications WHERE api_key_hash = $1`,
      [hashApiKey(presentedKey)],
    );
    return app ? summary(app) : null;
  }
}
