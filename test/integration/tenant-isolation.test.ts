import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, settleJobs, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

// Every procedure, called by app B on app A's rows: NOT_FOUND (ids don't leak) or an empty result, and A's rows untouched.

let service: TestService;
let owner: TestApp;
let intruder: TestApp;
let connectionId: string;
let idleConnectionId: string;
const userId = 'shared-user-ref';

beforeAll(async () => {
  service = await startTestService();
  owner = await createTestApp(service, 'owner');
  intruder = await createTestApp(service, 'intruder');
  connectionId = (await owner.client.connections.create.mutate(connectionInput({ userId }))).connection.id;
  idleConnectionId = (await owner.client.connections.create.mutate(connectionInput({ userId }))).connection.id;
  await settleJobs(service, [idleConnectionId]);
});
afterAll(() => service.close());

async function ownerStillSees() {
  const { items } = await owner.client.connections.list.query({ userId });
  expect(items.map((c) => c.id).sort()).toEqual([connectionId, idleConnectionId].sort());
  expect((await owner.client.connections.get.query({ id: idleConnectionId })).version).toBe(1);
}

describe('tenant isolation', () => {
  it('connections.get: NOT_FOUND', async () => {
    const e = await rejection(intruder.client.connections.get.query({ id: idleConnectionId }));
    expect(e.data?.code).toBe('NOT_FOUND');
  });

  it('connections.list: empty, with or without filters', async () => {
    expect((await intruder.client.connections.list.query()).items).toEqual([]);
    expect((await intruder.client.connections.list.query({ userId })).items).toEqual([]);
    expect((await intruder.client.connections.list.query({ filter: { ids: [connectionId, idleConnectionId] } })).items).toEqual([]);
    expect((await intruder.client.connections.list.query({ filter: { institutionId: 'AU00000', state: 'pending' } })).items).toEqual([]);
  });

  it('connections.update: NOT_FOUND (not CONFLICT, even on a busy connection), nothing changed', async () => {
    for (const id of [connectionId, idleConnectionId]) {
      const e = await rejection(intruder.client.connections.update.mutate({ id, name: 'pwned', credentials: { loginId: 'a', password: 'b' } }));
      expect(e.data?.code).toBe('NOT_FOUND');
    }
    await ownerStillSees();
  });

  it('connections.delete: NOT_FOUND, nothing deleted', async () => {
    for (const id of [connectionId, idleConnectionId]) {
      expect((await rejection(intruder.client.connections.delete.mutate({ id }))).data?.code).toBe('NOT_FOUND');
    }
    await ownerStillSees();
  });

  it("connections.deleteAll: the same userId in another app is another user; nothing of A's is deleted", async () => {
    expect(await intruder.client.connections.deleteAll.mutate({ userId })).toEqual({ deletedIds: [] });
    await ownerStillSees();
  });

  it('connections.create: the same userId creates a separate connection in the caller app only', async () => {
    const { connection } = await intruder.client.connections.create.mutate(connectionInput({ userId }));
    expect(connection.appId).toBe(intruder.id);
    expect((await intruder.client.connections.list.query({ userId })).items.map((c) => c.id)).toEqual([connection.id]);
    await ownerStillSees();
  });

  it('institutions are shared reference data: both apps see the same list', async () => {
    expect(await intruder.client.institutions.list.query()).toEqual(await owner.client.institutions.list.query());
    expect((await intruder.client.institutions.get.query({ id: 'AU00000' })).id).toBe('AU00000');
  });

  it('a missing or wrong key is UNAUTHORIZED on every procedure', async () => {
    for (const client of [service.client(), service.client('csk_' + 'x'.repeat(43)), service.client('not-a-key')]) {
      const calls = [
        () => client.institutions.list.query(),
        () => client.institutions.get.query({ id: 'AU00000' }),
        () => client.connections.get.query({ id: connectionId }),
        () => client.connections.list.query(),
        () => client.connections.create.mutate(connectionInput()),
        () => client.connections.update.mutate({ id: idleConnectionId, name: 'x' }),
        () => client.connections.delete.mutate({ id: idleConnectionId }),
        () => client.connections.deleteAll.mutate({ userId }),
      ];
      for (const call of calls) expect((await rejection(call())).data?.code).toBe('UNAUTHORIZED');
    }
    await ownerStillSees();
  });
});
