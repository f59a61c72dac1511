import type { Config } from '../config.ts';
import type { DeliverySettings } from './delivery.types.ts';
import { WebhookSender } from './webhook-sender.ts';

/** Everything the webhook side is configured by (README's WEBHOOK_* variables). */
export interface WebhookSettings extends DeliverySettings {
  allowHttp: boolean;
  allowedAddresses: string[];
  connectTimeoutMs: number;
  timeoutMs: number;
  secretOverlapMs: number;
  concurrency: number;
  perEndpointConcurrency: number;
  pollMs: number;
}

export function webhookSettingsFrom(config: Config): WebhookSettings {
  return {
    allowHttp: config.WEBHOOK_ALLOW_HTTP,
    allowedAddresses: config.WEBHOOK_ALLOWED_ADDRESSES,
    connectTimeoutMs: config.WEBHOOK_CONNECT_TIMEOUT_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    retryScheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
    disableAfterMs: config.WEBHOOK_DISABLE_AFTER_MS,
    leaseMs: config.WEBHOOK_LEASE_MS,
    secretOverlapMs: config.WEBHOOK_SECRET_OVERLAP_MS,
    concurrency: config.WEBHOOK_CONCURRENCY,
    perEndpointConcurrency: config.WEBHOOK_ENDPOINT_CONCURRENCY,
    pollMs: config.WEBHOOK_POLL_MS,
  };
}

/** The SSRF-safe sender for these settings (64 KiB of any response read, at most). */
export function createWebhookSender(s: WebhookSettings): WebhookSender {
  return new WebhookSender({
    connectTimeoutMs: s.connectTimeoutMs,
    timeoutMs: s.timeoutMs,
    maxResponseBytes: 64 * 1024,
    allowHttp: s.allowHttp,
    allowedAddresses: s.allowedAddresses,
  });
}
