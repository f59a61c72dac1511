import { systemClock } from '../../src/clock.ts';
import type { Config } from '../../src/config.ts';
import { loadConfig, webhookSettingsFrom } from '../../src/config.ts';
import { createDataSource } from '../../src/db/data-source.ts';
import type { Deps } from '../../src/deps.ts';
import { createLogger } from '../../src/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { CredentialCipher } from '../../src/security/credential-cipher.ts';
import { createServices, type Services } from '../../src/services.ts';
import { createWebhookSender } from '../../src/webhooks/webhook.settings.ts';

/** The service's domain in this process, on a bench database: for seeding through the real code paths. */
export async function inProcessService(
  url: string,
  credentialKeysEnv: string,
  env: Record<string, string> = {},
): Promise<{
  deps: Deps;
  services: Services;
  config: Config;
  close(): Promise<void>;
}> {
  const config = loadConfig({ DATABASE_URL: url, CREDENTIALS_KEYS: credentialKeysEnv, ...env });
  const db = createDataSource({ url, poolSize: 8, logging: false });
  await db.initialize();
  const deps: Deps = {
    db,
    clock: systemClock,
    cipher: new CredentialCipher(config.CREDENTIALS_KEYS!),
    logger: createLogger('warn'),
    metrics: new Metrics(),
  };
  const settings = webhookSettingsFrom(config);
  const sender = createWebhookSender(settings);
  const services = createServices(deps, { settings, sender });
  await services.institutions.seed(config.SANDBOX_PLUGIN_URL);
  return {
    deps,
    services,
    config,
    async close() {
      sender.close();
      await db.destroy();
    },
  };
}
