import type { EntityManager } from 'typeorm';
import { Event, type EventType } from '../../entities/index.ts';

/** A row of the event stream as the recorder writes it. */
export interface EventRow {
  appId: string;
  type: EventType;
  userId: string | null;
  connectionId: string | null;
  sequence: number | null;
  endpointId: string | null;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/** Which events to list: the stream's filters, after a position. */
export interface EventFilter {
  since?: Date | undefined;
  types?: readonly string[] | undefined;
  connectionId?: string | undefined;
  /** Only events recorded after this position (a bigint, as a string). */
  afterPosition?: string | undefined;
}

/**
 * The statements of the event stream: numbering and writing an event (the recorder, in the caller's transaction)
 * and reading the stream (events.list). Deleting old events is the retention's, in delivery.repository.ts, because
 * it keeps every event a delivery still waits for.
 */
export class EventRepository {
  constructor(private readonly manager: EntityManager) {}

  /**
   * The connection's next event number, taken under the connection's row lock (held until the transaction ends);
   * null when the app has no such connection. The counter is a column of connections, but only events use it.
   */
  async nextConnectionSequence(appId: string, connectionId: string): Promise<number | null> {
    const [rows]: [{ event_sequence: number }[], number] = await this.manager.query(
      `UPDATE connections SET event_sequence = event_sequence + 1 WHERE id = $1 AND app_id = $2 RETURNING event_sequence`,
      [connectionId, appId],
    );
    return rows[0]?.event_sequence ?? null;
  }

  /**
   * Inserts the event and returns its id. Its time is never before the connection's previous event: the time is
   * settled under the connection's lock, as the sequence is (callers read their clock before the lock; a writer that
   * waited for it would otherwise record an earlier time than the event numbered before its own, and across replicas
   * clocks differ anyway).
   */
  async insert(e: EventRow): Promise<string> {
    const [event]: { id: string }[] = await this.manager.query(
      `INSERT INTO events (app_id, type, user_id, connection_id, sequence, endpoint_id, occurred_at, data)
       VALUES ($1, $2, $3, $4, $5, $6,
               GREATEST($7::timestamptz, (SELECT p.occurred_at FROM events p WHERE p.app_id = $1 AND p.connection_id = $4 AND p.sequence = $5::int - 1)),
               $8)
       RETURNING id`,
      [e.appId, e.type, e.userId, e.connectionId, e.sequence, e.endpointId, e.occurredAt, e.data],
    );
    return event!.id;
  }

  /** The app's events matching the filter, oldest first (in the order they were recorded), at most `limit`. */
  listForApp(appId: string, filter: EventFilter, limit: number): Promise<Event[]> {
    const qb = this.manager.getRepository(Event).createQueryBuilder('e').where('e.app_id = :appId', { appId });
    if (filter.since) qb.andWhere('e.occurred_at >= :since', { since: filter.since });
    if (filter.types) qb.andWhere('e.type IN (:...types)', { types: filter.types });
    if (filter.connectionId) qb.andWhere('e.connection_id = :connectionId', { connectionId: filter.connectionId });
    if (filter.afterPosition) qb.andWhere('e.position > :after', { after: filter.afterPosition });
    return qb.orderBy('e.position', 'ASC').limit(limit).getMany();
  }
}
