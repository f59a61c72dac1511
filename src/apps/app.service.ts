import type { Application } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { AppRepository } from './app.repository.ts';
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

const summary = (a: Pick<Application, keyof AppSummary>): AppSummary => ({
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
    return new AppRepository(this.deps.db.manager);
  }

  async create(name: string): Promise<{ app: AppSummary; apiKey: string }> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 200) throw AppError.validation(['name'], 'must be 1 to 200 characters');
    const issued = issueApiKey();
    const app = await this.repo.insert({ name: trimmed, apiKeyHash: issued.hash, apiKeyPrefix: issued.displayPrefix, keyRotatedAt: null });
    return { app: summary(app), apiKey: issued.key };
  }

  async list(): Promise<AppSummary[]> {
    return (await this.repo.listOldestFirst()).map(summary);
  }

  async count(): Promise<number> {
    return this.repo.count();
  }

  /** Issues a new key; the old one stops working at once: the commit notifies every API process (ApiKeyCache). */
  async rotateKey(id: string): Promise<{ app: AppSummary; apiKey: string }> {
    if (!UUID.test(id)) throw AppError.notFound('app', id);
    const issued = issueApiKey();
    const replaced = await this.repo.replaceKey(id, {
      apiKeyHash: issued.hash,
      apiKeyPrefix: issued.displayPrefix,
      keyRotatedAt: this.deps.clock.now(),
    });
    if (!replaced) throw AppError.notFound('app', id);
    return { app: summary(await this.repo.findByIdOrFail(id)), apiKey: issued.key };
  }

  async find(id: string): Promise<AppView> {
    const app = UUID.test(id) ? await this.repo.findById(id) : null;
    if (!app) throw AppError.notFound('app', id);
    return { ...summary(app), redirectUris: app.redirectUris };
  }

  /** Registers a redirect URI (matched exactly later, as OAuth requires). Adding one already there changes nothing. */
  async addRedirectUri(id: string, uri: string): Promise<AppView> {
    const problem = redirectUriProblem(uri);
    if (problem) throw AppError.validation(['uri'], problem);
    await this.deps.db.transaction(async (m) => {
      const apps = new AppRepository(m);
      const redirectUris = await apps.lockRedirectUris(id);
      if (!redirectUris) throw AppError.notFound('app', id);
      if (redirectUris.includes(uri)) return;
      if (redirectUris.length >= MAX_REDIRECT_URIS) {
        throw new AppError(ErrorCode.QUOTA_EXCEEDED, `the app has ${MAX_REDIRECT_URIS} redirect URIs, the most allowed`, {
          quota: 'redirectUrisPerApp',
          limit: MAX_REDIRECT_URIS,
        });
      }
      await apps.appendRedirectUri(id, uri);
    });
    return this.find(id);
  }

  async removeRedirectUri(id: string, uri: string): Promise<AppView> {
    await this.find(id);
    await this.repo.removeRedirectUri(id, uri);
    return this.find(id);
  }

  /** The app a presented key belongs to, or null. */
  async authenticate(presentedKey: string): Promise<AppSummary | null> {
    if (!looksLikeApiKey(presentedKey)) return null;
    const app = await this.repo.findSummaryByKeyHash(hashApiKey(presentedKey));
    return app ? summary(app) : null;
  }
}
