import type { AppSummary } from './app.service.ts';
import { hashApiKey, looksLikeApiKey } from '../security/api-key.ts';

/** How long an API process trusts a key it has looked up (API_KEY_CACHE_MS's default). */
export const DEFAULT_API_KEY_CACHE_MS = 5_000;
/** The channel a replaced key is announced on (the NOTIFY commits with the new key; see AppRepository.replaceKey). */
export const API_KEYS_CHANNEL = 'cs_api_keys';
/** Keys remembered at most: past it, the oldest lookup is forgotten first. */
export const API_KEY_CACHE_ENTRIES = 10_000;

interface Entry {
  app: Promise<AppSummary | null>;
  expiresAt: number;
}

/**
 * The app a key belongs to, remembered for `ttlMs` so that an API process does not look its callers' keys up in
 * PostgreSQL on every request (the API benchmark found that query a large part of a read's cost). A replaced key stops
 * working at once: the rotation's commit carries a NOTIFY on API_KEYS_CHANNEL, and every API process that hears it
 * forgets what it remembered (`clear`). While a process does not hear those notifications (before its listener is up,
 * or after it lost its connection, `setTrusted(false)`), it remembers nothing and looks every key up, so a missed
 * notification can never leave an old key working. Only keys that were found are remembered: a key created a moment
 * ago works on its first call, and a wrong key always reaches the database. Entries are held by the key's sha256,
 * never the key itself; concurrent first calls with one key share one lookup. `ttlMs` (API_KEY_CACHE_MS; 0 looks
 * every key up) bounds how long an entry lives even when no key changes.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly lookup: (presentedKey: string) => Promise<AppSummary | null>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private trusted = true,
  ) {}

  /** Whether this cache remembers anything at all (API_KEY_CACHE_MS above 0). */
  get caches(): boolean {
    return this.ttlMs > 0;
  }

  /** Forgets every remembered key (a key was replaced, by this process or another). */
  clear(): void {
    this.entries.clear();
  }

  /** Whether this process hears of replaced keys; while it does not, nothing is remembered. */
  setTrusted(trusted: boolean): void {
    this.trusted = trusted;
    this.entries.clear();
  }

  authenticate(presentedKey: string): Promise<AppSummary | null> {
    if (this.ttlMs <= 0 || !this.trusted || !looksLikeApiKey(presentedKey)) return this.lookup(presentedKey);
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
