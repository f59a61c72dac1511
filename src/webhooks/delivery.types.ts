import type { DeliveryStatus, Event, WebhookEndpoint } from '../../entities/index.ts';
import type { SendOutcome } from './webhook-sender.ts';

/** The types the delivery worker, the attempter, the service and the settings share (none of them owns the others). */

export interface DeliveryContext {
  events: Map<string, Event>;
  endpoints: Map<string, WebhookEndpoint>;
}

/** What sends a signed request; the real one is WebhookSender (SSRF-safe got). */
export interface Sender {
  send(url: string, headers: Record<string, string>, body: string): Promise<SendOutcome>;
}

export interface DeliverySettings {
  /** Waits between attempts after the first (Standard Webhooks' schedule by default). */
  retryScheduleMs: number[];
  /** An endpoint with no success for this long is disabled. */
  disableAfterMs: number;
  leaseMs: number;
}

export interface AttemptResult {
  deliveryId: string;
  status: DeliveryStatus;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  nextAttemptAt: Date | null;
}

/** Another worker took the delivery over (this one's lease ran out): its outcome is not ours to record. */
export class DeliveryLeaseLost extends Error {
  constructor(id: string) {
    super(`lease on delivery ${id} lost`);
    this.name = 'DeliveryLeaseLost';
  }
}
