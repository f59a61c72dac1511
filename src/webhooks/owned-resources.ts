import type { EntityManager } from 'typeorm';

/**
 * What endpoints and notification rules ask before naming a connection or an account: which of these ids are the
 * app's own (another app's look exactly like missing ones). The owning folders answer it, wired at the composition
 * root (src/owned-resources.ts), so webhooks/ imports neither connections/ nor accounts/. Each question runs on the
 * caller's manager, inside the transaction of the write it guards.
 */
export interface OwnedResources {
  connectionIds(m: EntityManager, appId: string, ids: readonly string[]): Promise<Set<string>>;
  accountIds(m: EntityManager, appId: string, ids: readonly string[]): Promise<Set<string>>;
}
