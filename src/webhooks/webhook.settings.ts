import type { DeliverySettings } from './delivery.types.ts';
import { WebhookSender } from './webhook-sender.ts';

/** Everything the webhook side is configured by (the WEBHOOK_* variables; config.ts's webhookSettingsFrom reads them). */
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
