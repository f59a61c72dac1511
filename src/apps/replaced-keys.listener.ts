import type { DataSource } from 'typeorm';
import { NotificationListener } from '../db/notification-listener.ts';
import type { Logger } from '../logger.ts';
import { API_KEYS_CHANNEL, type ApiKeyCache } from './api-key-cache.ts';

/**
 * Keeps an API process's remembered keys honest: every replaced key (apps:rotate-key, from any process) clears them,
 * and while the listening connection is down nothing is remembered. Null when the cache is off (API_KEY_CACHE_MS=0)
 * or the data source has no URL to listen on; the cache then stays untrusted and looks every key up.
 */
export function replacedKeysListener(cache: ApiKeyCache, db: DataSource, logger: Logger): NotificationListener | null {
  const { url } = db.options as { url?: string };
  if (!url || !cache.caches) return null;
  return new NotificationListener({
    url,
    channel: API_KEYS_CHANNEL,
    what: 'replaced API keys',
    logger,
    onNotification: () => cache.clear(),
    onStateChange: (listening) => cache.setTrusted(listening),
  });
}
