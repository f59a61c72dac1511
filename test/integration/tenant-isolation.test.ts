import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, settleJobs, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

// Every procedure, called by app B on app A's rows: NOT_FOUND (ids don't leak) or an empty result, and A's rows untouched.

let service: TestService;
let owner: TestApp;
let intruder: TestApp;
let connectionId: string;
let idleConnectionId: string;
let jobId: string;
let challengeJobId: string;
let accountId: string;
const userId = 'shared-user-ref';

beforeAll(async () => {
  service = await startTestService();
  owner = await createTestApp(service, 'owner');
  intruder = await createTestApp(service, 'intruder');
  connectionId = (await owner.client.connections.create.mutate(connectionInput({ userId }))).connection.id;
  const idle = await owner.client.connections.create.mutate(connectionInput({ userId }));
  idleConnectionId = idle.connection.id;
  jobId = idle.job.id;
  // Run the idle connection's job for real, so it has accounts and transactions to protect.
  await service.runner().drain();
  accountId = (await owner.client.accounts.list.query({ connectionId: idleConnectionId }))[0]!.id;
  // connectionId keeps a job waiting on a challenge (so it stays busy, and answerChallenge has a target).
  await settleJobs(service, [connectionId]);
  const challenged = await owner.client.connections.create.mutate(
    connectionInput({ userId: 'challenge-owner', credentials: { loginId: 'challenge', password: 'pw' } }),
  );
  await service.runner().drain();
  challengeJobId = challenged.job.id;
});
afterAll(() => service.close());

async function ownerStillSees() {
  const { items } = await owner.client.connections.list.query({ userId });
  expect(items.map((c) => c.id).sort()).toEqual([connectionId, idleConnectionId].sort());
  expect((await owner.client.connections.get.query({ id: idleConnectionId })).state).toBe('completed-up-to-date');
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
      const e = await rejection(
        intruder.client.connections.update.mutate({ id, name: 'pwned', credentials: { loginId: 'a', password: 'b' } }),
      );
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

  it('connections.refresh: NOT_FOUND; refreshAll: nothing started for the same userId', async () => {
    expect((await rejection(intruder.client.connections.refresh.mutate({ id: idleConnectionId }))).data?.code).toBe('NOT_FOUND');
    // The intruder's own connection for this userId (made above) is all it can touch.
    const { jobs, skipped } = await intruder.client.connections.refreshAll.mutate({ userId });
    const own = (await intruder.client.connections.list.query({ userId })).items.map((c) => c.id);
    expect([...jobs, ...skipped].map((j) => j.connectionId)).toEqual(own);
    expect(own).not.toContain(idleConnectionId);
    const [{ n }] = await service.database.db.query(`SELECT count(*)::int AS n FROM jobs WHERE connection_id = $1`, [idleConnectionId]);
    expect(n).toBe(1);
  });

  it('jobs.get, jobs.list, jobs.answerChallenge: NOT_FOUND, and the challenge stays unanswered', async () => {
    expect((await rejection(intruder.client.jobs.get.query({ id: jobId }))).data?.code).toBe('NOT_FOUND');
    expect((await rejection(intruder.client.jobs.list.query({ connectionId: idleConnectionId }))).data?.code).toBe('NOT_FOUND');
    expect((await rejection(intruder.client.jobs.answerChallenge.mutate({ id: challengeJobId, response: '123456' }))).data?.code).toBe(
      'NOT_FOUND',
    );
    expect((await owner.client.jobs.get.query({ id: challengeJobId })).status).toBe('awaiting-challenge');
  });

  it('accounts.list and transactions.list: NOT_FOUND by id, empty by userId', async () => {
    expect((await rejection(intruder.client.accounts.list.query({ connectionId: idleConnectionId }))).data?.code).toBe('NOT_FOUND');
    expect(await intruder.client.accounts.list.query({ userId })).toEqual([]);
    expect((await rejection(intruder.client.transactions.list.query({ connectionId: idleConnectionId }))).data?.code).toBe('NOT_FOUND');
    expect((await rejection(intruder.client.transactions.list.query({ accountId }))).data?.code).toBe('NOT_FOUND');
    expect((await owner.client.transactions.list.query({ accountId })).items.length).toBeGreaterThan(0);
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
        () => client.connections.refresh.mutate({ id: idleConnectionId }),
        () => client.connections.refreshAll.mutate({ userId }),
        () => client.jobs.get.query({ id: jobId }),
        () => client.jobs.list.query({ connectionId: idleConnectionId }),
        () => client.jobs.answerChallenge.mutate({ id: challengeJobId, response: '123456' }),
        () => client.accounts.list.query({ userId }),
        () => client.transactions.list.query({ accountId }),
      ];
      for (const call of calls) expect((await rejection(call())).data?.code).toBe('UNAUTHORIZED');
    }
    await ownerStillSees();
  });
});
