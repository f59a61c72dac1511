import { clusterReadings } from './cluster-readings.ts';
import { systemClock, type Clock } from './clock.ts';
import { connectSettingsFrom, quotasFrom, webhookSettingsFrom, type Config } from './config.ts';
import { sandboxBankUrlOf, type ConnectSettings } from './connect/connect-settings.ts';
import { loadInstitutionsFile } from './institutions/institutions-file.ts';
import { openDatabase, type OpenDatabase } from './db/open-database.ts';
import type { Deps } from './deps.ts';
import type { Logger } from './logger.ts';
import { Metrics } from './observability/metrics.ts';
import { ProviderRegistry } from './providers/provider-registry.ts';
import { DEFAULT_SANDBOX_OPTIONS } from './providers/sandbox/sandbox.provider.ts';
import { CredentialCipher, loadOrCreateDevKey } from './security/credential-cipher.ts';
import { createServices, type Services, type WebhookRuntime } from './services.ts';
import { createWebhookSender } from './webhooks/webhook.settings.ts';

export interface Runtime {
  deps: Deps;
  services: Services;
  database: OpenDatabase;
  providers: ProviderRegistry;
  webhooks: WebhookRuntime;
  connect: ConnectSettings;
}

/** Config → database (migrated) → services: what the service, the CLI and the benchmarks all start from. */
export async function bootstrap(config: Config, logger: Logger, clock: Clock = systemClock): Promise<Runtime> {
  // A bad institutions file stops start-up before anything is opened or written.
  const institutions = config.INSTITUTIONS_FILE ? loadInstitutionsFile(config.INSTITUTIONS_FILE) : null;
  const keys = config.CREDENTIALS_KEYS ?? [loadOrCreateDevKey(config.DATA_DIR)];
  const cipher = new CredentialCipher(keys);
  const database = await openDatabase(config, logger, { migrate: true });
  const metrics = new Metrics({ defaultMetrics: true });
  metrics.observeDatabase(clusterReadings(database.db), clock);
  const deps: Deps = { db: database.db, clock, cipher, logger, metrics };
  const webhookSettings = webhookSettingsFrom(config);
  const webhooks: WebhookRuntime = { settings: webhookSettings, sender: createWebhookSender(webhookSettings) };
  const connect = connectSettingsFrom(config);
  const services = createServices(deps, webhooks, quotasFrom(config), connect);
  if (config.SANDBOX_INSTITUTIONS) await services.institutions.seed(config.SANDBOX_PLUGIN_URL);
  // After the sandbox, so that the file can change or disable a sandbox institution too.
  if (institutions) await services.institutions.apply(institutions);
  const providers = new ProviderRegistry({
    http: {
      connectTimeoutMs: config.PROVIDER_CONNECT_TIMEOUT_MS,
      timeoutMs: config.PROVIDER_TIMEOUT_MS,
      token: config.PLUGIN_PROVIDER_TOKEN,
    },
    sandbox: { ...DEFAULT_SANDBOX_OPTIONS, bankUrl: sandboxBankUrlOf(connect) },
  });
  return { deps, services, database, providers, webhooks, connect };
}
