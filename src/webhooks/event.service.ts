import type { EventType } from '../../entities/index.ts';
import type { Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import { EventRepository } from './event.repository.ts';
import type { ListEventsInput } from './webhook.schemas.ts';

export interface EventView {
  id: string;
  type: EventType;
  userId: string | null;
  connectionId: string | null;
  /** 1, 2, 3 … per connection: a gap means a missed event. */
  sequence: number | null;
  occurredAt: Date;
  data: Record<string, unknown>;
}

const encode = (position: string) => Buffer.from(`events:${position}`).toString('base64url');
/** Positions are bigint identities: a forged cursor past the type's range is refused like any other bad cursor. */
const MAX_POSITION = 9_223_372_036_854_775_807n;
function decode(cursor: string): string {
  const m = /^events:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || BigInt(m[1]!) > MAX_POSITION)
    throw AppError.validation(['cursor'], 'is not a cursor this service issued (pass nextCursor back unchanged)');
  return m[1]!;
}

/** The event stream, for apps catching up after an outage (or that prefer polling to webhooks). */
export class EventService {
  constructor(private readonly deps: Deps) {}

  /**
   * Oldest first, in the order they were recorded. `nextCursor` is always a place to continue from (the last event
   * returned, or the cursor given when nothing is new), so a consumer can keep polling with it; `hasMore` says
   * whether more events are already waiting.
   */
  async list(appId: string, input: ListEventsInput): Promise<{ items: EventView[]; nextCursor: string | null; hasMore: boolean }> {
    const afterPosition = input.cursor ? decode(input.cursor) : undefined;
    // One more than the page, to tell whether more are waiting.
    const rows = await new EventRepository(this.deps.db.manager).listForApp(
      appId,
      { since: input.since, types: input.types, connectionId: input.connectionId, afterPosition },
      input.limit + 1,
    );
    const items = rows.slice(0, input.limit);
    const last = items.at(-1);
    return {
      items: items.map((e) => ({
        id: e.id,
        type: e.type,
        userId: e.userId,
        connectionId: e.connectionId,
        sequence: e.sequence,
        occurredAt: e.occurredAt,
        data: e.data,
      })),
      nextCursor: last ? encode(last.position) : (input.cursor ?? null),
      hasMore: rows.length > input.limit,
    };
  }
}
