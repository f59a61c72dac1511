import type { Event } from '../../entities/index.ts';
import { signatureHeaders } from './webhook-signer.ts';

/** The envelope subscribers receive: Standard Webhooks' type/timestamp/data, plus the event's identity. */
export function envelope(event: Event): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    appId: event.appId,
    userId: event.userId,
    connectionId: event.connectionId,
    sequence: event.sequence,
    data: event.data,
  });
}

/**
 * The request one attempt sends: the envelope as body, signed with the endpoint's secrets at `sentAt`. `bodies`
 * keeps each event's envelope for the other endpoints it goes to.
 */
export function signedEnvelope(
  event: Event,
  sentAt: Date,
  secrets: readonly string[],
  bodies?: WeakMap<Event, string>,
): { body: string; headers: Record<string, string> } {
  let body = bodies?.get(event);
  if (body === undefined) {
    body = envelope(event);
    bodies?.set(event, body);
  }
  return { body, headers: signatureHeaders(event.id, sentAt, body, secrets) };
}
