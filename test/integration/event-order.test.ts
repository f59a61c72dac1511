import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEvent } from '../../src/webhooks/event.recorder.ts';
import { connectionInput, createTestApp, type TestApp } from '../helpers/factories.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

// A connection's events are numbered under its row lock; their times must agree with that order. A writer reads
// its clock, then may wait for the lock while another writer records a later time first.

let service: TestService;
let app: TestApp;

beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
});
afterAll(() => service.close());

describe('event order', () => {
  it('an event whose time was read before it got the lock is never dated before the event numbered before it', async () => {
    const { connection } = await app.client.connections.create.mutate(connectionInput());
    const [created] = (await app.client.events.list.query({ connectionId: connection.id })).items;
    const early = new Date(created!.occurredAt.getTime() - 10_000);
    const late = new Date(created!.occurredAt.getTime() + 10_000);
    const record = (occurredAt: Date) =>
      service.database.db.transaction((m) =>
        recordEvent(m, {
          appId: app.id,
          userId: connection.userId,
          connectionId: connection.id,
          type: 'connection.error',
          occurredAt,
          data: {},
        }),
      );
    // The one that got the lock first had read the later time.
    await record(late);
    await record(early);
    const events = (await app.client.events.list.query({ connectionId: connection.id })).items;
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3]);
    const times = events.map((e) => e.occurredAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(events[2]!.occurredAt).toEqual(late);
  });
});
