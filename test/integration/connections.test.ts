import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionInput, createTestApp, settleJobs, type TestApp } from '../helpers/factories.ts';
import { rejection, startTestService, type TestService } from '../helpers/test-service.ts';

let service: TestService;
let app: TestApp;

beforeAll(async () => {
  service = await startTestService();
  app = await createTestApp(service);
});
afterAll(() => service.close());

describe('connections over tRPC/HTTP', () => {
  it('creates a connection in INITIATED/pending with a queued create job', async () => {
    const input = connectionInput({ name: 'Everyday banking', scopes: ['accounts'], datasets: ['BANK_ACCOUNT', 'BANK_TRANSACTION'] });
    const { connection, job } = await app.client.connections.create.mutate(input);

    expect(connection).toMatchObject({
      appId: app.id,
      userId: input.userId,
      institutionId: 'AU00000',
      method: 'built-in',
      serviceProvider: 'sandbox',
      name: 'Everyday banking',
      scopes: ['accounts'],
      datasets: ['BANK_ACCOUNT', 'BANK_TRANSACTION'],
      status: 'INITIATED',
      state: 'pending',
      error: null,
      autoRefresh: true,
      refreshIntervalMinutes: 1440,
      hasCredentials: true,
      version: 1,
    });
    expect(connection.createdAt).toBeInstanceOf(Date); // superjson keeps dates dates
    expect(connection.connectionState).toEqual({
      status: 'INITIATED',
      connectedAt: null,
      disconnectedAt: null,
      BANK_ACCOUNT: null,
      BANK_BALANCE: null,
      BANK_TRANSACTION: null,
      USER_INFO: null,
    });
    expect(job).toMatchObject({ connectionId: connection.id, kind: 'create', status: 'queued' });
    expect(job.steps.map((s) => [s.title, s.status])).toEqual([
      ['verify-credentials', 'pending'],
      ['retrieve-accounts', 'pending'],
      ['retrieve-transactions', 'pending'],
    ]);

    expect(await app.client.connections.get.query({ id: connection.id })).toEqual(connection);
  });

  it('plans only the steps the datasets need', async () => {
    const { job } = await app.client.connections.create.mutate(connectionInput({ datasets: ['USER_INFO'] }));
    expect(job.steps.map((s) => s.title)).toEqual(['verify-credentials']);
  });

  it("imports finAPI's demo bank (00000000) with no credentials", async () => {
    const [demo] = await app.client.institutions.list.query({ search: '00000000' });
    expect(demo).toMatchObject({ id: 'DE00000', bankCode: '00000000' });
    const { connection } = await app.client.connections.create.mutate({ userId: 'demo-user', institutionId: demo!.id });
    expect(connection.hasCredentials).toBe(false);
  });

  it('checks credentials against the institution: required fields and unknown ones, by path', async () => {
    const before = await countRows();
    const missing = await rejection(app.client.connections.create.mutate(connectionInput({ credentials: { loginId: 'x' } })));
    expect(missing.data?.code).toBe('BAD_REQUEST');
    expect(missing.data?.issues).toEqual([{ path: ['credentials', 'password'], message: expect.stringContaining('required') }]);

    const unknown = await rejection(
      app.client.connections.create.mutate(connectionInput({ credentials: { loginId: 'x', password: 'y', pin: '1' } })),
    );
    expect(unknown.data?.issues?.[0]?.path).toEqual(['credentials', 'pin']);

    const none = await rejection(app.client.connections.create.mutate(connectionInput({ credentials: undefined })));
    expect(none.data?.issues?.[0]?.path).toEqual(['credentials']);
    expect(await countRows()).toEqual(before);
  });

  it('refuses datasets the institution does not offer and intervals below its minimum', async () => {
    const ds = await rejection(
      app.client.connections.create.mutate(connectionInput({ institutionId: 'AU00001', datasets: ['BANK_ACCOUNT', 'USER_INFO'] })),
    );
    expect(ds.data?.issues?.[0]?.path).toEqual(['datasets', 1]);
    const interval = await rejection(
      app.client.connections.create.mutate(connectionInput({ institutionId: 'AU00001', refreshIntervalMinutes: 60 })),
    );
    expect(interval.data?.issues?.[0]?.path).toEqual(['refreshIntervalMinutes']);
    const institution = await rejection(app.client.connections.create.mutate(connectionInput({ institutionId: 'XX99999' })));
    expect(institution.data?.issues?.[0]?.path).toEqual(['institutionId']);
  });

  it('update is a CONFLICT while a job is queued, then applies and bumps the version', async () => {
    const { connection } = await app.client.connections.create.mutate(connectionInput());
    const busy = await rejection(app.client.connections.update.mutate({ id: connection.id, name: 'renamed' }));
    expect(busy.data?.code).toBe('CONFLICT');
    expect(busy.data?.details).toMatchObject({ busyConnectionIds: [connection.id] });

    await settleJobs(service, [connection.id]);
    const { connection: updated, job } = await app.client.connections.update.mutate({
      id: connection.id,
      name: 'renamed',
      autoRefresh: false,
      refreshIntervalMinutes: 720,
      version: connection.version,
    });
    expect(updated).toMatchObject({ name: 'renamed', autoRefresh: false, refreshIntervalMinutes: 720, version: 2 });
    expect(job).toBeNull();

    const stale = await rejection(app.client.connections.update.mutate({ id: connection.id, name: 'again', version: 1 }));
    expect(stale.data?.code).toBe('CONFLICT');
    expect(stale.data?.details).toMatchObject({ currentVersion: 2 });
    expect((await app.client.connections.get.query({ id: connection.id })).name).toBe('renamed');
  });

  it('new credentials are stored encrypted and queue an update job that verifies them', async () => {
    const { connection } = await app.client.connections.create.mutate(connectionInput());
    await settleJobs(service, [connection.id]);
    const { connection: updated, job } = await app.client.connections.update.mutate({
      id: connection.id,
      credentials: { loginId: 'gavinBelson', password: 'new-secret-password' },
    });
    expect(job).toMatchObject({ kind: 'update', status: 'queued', connectionId: connection.id });
    expect(JSON.stringify(updated)).not.toContain('new-secret-password');
    const [row] = await service.database.db.query('SELECT * FROM connections WHERE id = $1', [connection.id]);
    expect(Buffer.from(row.credentials_ciphertext).toString('latin1')).not.toContain('new-secret-password');
  });

  it('delete is a CONFLICT while busy; once idle it deletes the connection and its jobs', async () => {
    const { connection } = await app.client.connections.create.mutate(connectionInput());
    expect((await rejection(app.client.connections.delete.mutate({ id: connection.id }))).data?.code).toBe('CONFLICT');
    await settleJobs(service, [connection.id]);
    expect(await app.client.connections.delete.mutate({ id: connection.id })).toEqual({ id: connection.id });
    expect((await rejection(app.client.connections.get.query({ id: connection.id }))).data?.code).toBe('NOT_FOUND');
    const [{ count }] = await service.database.db.query('SELECT count(*)::int AS count FROM jobs WHERE connection_id = $1', [
      connection.id,
    ]);
    expect(count).toBe(0);
  });

  it('deleteAll with one busy connection: CONFLICT naming it, and nothing deleted', async () => {
    const userId = 'delete-all-user';
    const created = [];
    for (let i = 0; i < 3; i++) created.push((await app.client.connections.create.mutate(connectionInput({ userId }))).connection);
    const [busy, ...idle] = created;
    await settleJobs(
      service,
      idle.map((c) => c.id),
    );

    const error = await rejection(app.client.connections.deleteAll.mutate({ userId }));
    expect(error.data?.code).toBe('CONFLICT');
    expect(error.message).toContain(busy!.id);
    expect(error.data?.details).toMatchObject({ busyConnectionIds: [busy!.id] });
    const { items } = await app.client.connections.list.query({ userId });
    expect(items.map((c) => c.id).sort()).toEqual(created.map((c) => c.id).sort());

    await settleJobs(service, [busy!.id]);
    const { deletedIds } = await app.client.connections.deleteAll.mutate({ userId });
    expect(deletedIds.sort()).toEqual(created.map((c) => c.id).sort());
    expect((await app.client.connections.list.query({ userId })).items).toEqual([]);
  });

  it('lists with filters', async () => {
    const userId = 'filter-user';
    const a = (await app.client.connections.create.mutate(connectionInput({ userId, institutionId: 'AU00000' }))).connection;
    const b = (await app.client.connections.create.mutate(connectionInput({ userId, institutionId: 'GB00000' }))).connection;
    const byInstitution = await app.client.connections.list.query({ userId, filter: { institutionId: 'GB00000' } });
    expect(byInstitution.items.map((c) => c.id)).toEqual([b.id]);
    const byIds = await app.client.connections.list.query({ filter: { ids: [a.id, b.id] } });
    expect(byIds.items.map((c) => c.id)).toEqual([a.id, b.id]);
    const byStatus = await app.client.connections.list.query({ userId, filter: { status: ['ACTIVE', 'EXPIRED'] } });
    expect(byStatus.items).toEqual([]);
    const byState = await app.client.connections.list.query({ userId, filter: { state: 'pending', method: 'built-in' } });
    expect(byState.items).toHaveLength(2);
  });

  it('never returns credentials, and the raw row holds no plaintext', async () => {
    const secret = 'correct-horse-battery-staple-4242';
    const { connection } = await app.client.connections.create.mutate(
      connectionInput({ credentials: { loginId: 'plaintext-login-id-77', password: secret } }),
    );
    const responses = [
      connection,
      await app.client.connections.get.query({ id: connection.id }),
      await app.client.connections.list.query({ userId: connection.userId }),
    ];
    for (const r of responses) {
      const text = JSON.stringify(r);
      expect(text).not.toContain(secret);
      expect(text).not.toContain('plaintext-login-id-77');
      expect(text).not.toMatch(/credentials"/);
    }
    const [row] = await service.database.db.query('SELECT * FROM connections WHERE id = $1', [connection.id]);
    const raw = JSON.stringify(row) + Buffer.from(row.credentials_ciphertext).toString('latin1');
    expect(raw).not.toContain(secret);
    expect(raw).not.toContain('plaintext-login-id-77');
    expect(row.credentials_key_id).toBe('test1');
    // And it does open, with the right binding.
    const { credentialBinding } = await import('../../src/security/credential-cipher.ts');
    expect(
      service.deps.cipher.open(
        { ciphertext: row.credentials_ciphertext, keyId: row.credentials_key_id },
        credentialBinding(app.id, connection.id),
      ),
    ).toEqual({ loginId: 'plaintext-login-id-77', password: secret });
  });
});

async function countRows() {
  const [row] = await service.database.db.query(
    'SELECT (SELECT count(*) FROM connections)::int AS connections, (SELECT count(*) FROM jobs)::int AS jobs',
  );
  return row;
}
