import type { AppSummary } from './app.service.ts';
import { hashApiKey, looksLikeApiKey } from '../security/api-key.ts';

/** How long an API process trusts a key it has looked up (API_KEY_CACHE_MS's default). */
export const DEFAULT_API_KEY_CACHE_MS = 5_000;
/** Keys remembered at most: past it, the oldest lookup is forgotten first. */
export const API_KEY_CACHE_ENTRIES = 10_000;

interface Entry {
  app: Promise<AppSummary | null>;
  expiresAt: number;
}

/**
 * The app a key belongs to, remembered for `ttlMs` so that an API process does not look its callers' keys up in
 * PostgreSQL on every request (the API benchmark found that query a large part of a read's cost). Revocation stays
 * bounded: a key rotated by any process (keys are rotated by the CLI's apps:rotate-key, never through the API) stops
 * working on every API process within `ttlMs` (API_KEY_CACHE_MS; 0 looks every key up). Only keys that were found are remembered: a key
 * created a moment ago works on its first call, and a wrong key always reaches the database. Entries are held by the
 * key's sha256, never the key itself; concurrent first calls with one key share one lookup.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly lookup: (presentedKey: string) => Promise<AppSummary | null>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  authenticate(presentedKey: string): Promise<AppSummary | null> {
    if (this.ttlMs <= 0 || !looksLikeApiKey(presentedKey)) return this.lookup(presentedKey);
    const hash = hashApiKey(presentedKey);
    const now = this.now();
    const cached = this.entries.get(hash);
    if (cached && cached.expiresAt > now) return cached.app;
    if (cached) this.entries.delete(hash);
    const app = this.lookup(presentedKey);
    const entry: Entry = { app, expiresAt: now + this.ttlMs };
    this.entries.set(hash, entry);
    if (this.entries.size > API_KEY_CACHE_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    // A key not found, or a lookup that failed, is not remembered.
    const drop = () => this.entries.get(hash) === entry && this.entries.delete(hash);
    void app.then((found) => found ?? drop(), drop);
    return app;
  }
}
