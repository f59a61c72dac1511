import type { WebhookEndpoint } from '../../entities/index.ts';

/** An endpoint as the API returns it. The secret appears only in the answers to create and rotateSecret. */
export interface EndpointView {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  connectionIds: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  /** Failing without a success since then; the endpoint is disabled when this lasts too long. */
  failingSince: Date | null;
  lastSuccessAt: Date | null;
  /** While set, the previous secret still signs too (after rotateSecret). */
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export function presentEndpoint(e: WebhookEndpoint): EndpointView {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: e.eventTypes,
    connectionIds: e.connectionIds,
    enabled: e.enabled,
    disabledReason: e.disabledReason,
    failingSince: e.failingSince,
    lastSuccessAt: e.lastSuccessAt,
    previousSecretExpiresAt: e.previousSecretExpiresAt,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}
