// A client as another app in the monorepo would write it: @trpc/client typed by AppRouter, the API key from
// `npm start`'s first run. Creates, gets, lists (filtered and paginated), refreshes, updates and deletes connections.
//   API_KEY=csk_… npm run demo            (SERVICE_URL defaults to http://127.0.0.1:3000)
import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../src/api/app-router.ts';

const url = process.env.SERVICE_URL ?? 'http://127.0.0.1:3000';
const apiKey = process.env.API_KEY;
if (!apiKey) {
  console.error('Set API_KEY to the key `npm start` printed on its first run (or one from `npm run cli -- apps:create <name>`).');
  process.exit(1);
}

const client = createTRPCClient<AppRouter>({
  links: [httpLink({ url: `${url}/trpc`, transformer: superjson, headers: { authorization: `Bearer ${apiKey}` } })],
});
const show = (label: string, value: unknown) => console.log(`${label} ${JSON.stringify(value)}`);

async function waitForJob(id: string) {
  for (let i = 0; i < 300; i++) {
    const job = await client.jobs.get.query({ id });
    if (job.status === 'succeeded' || job.status === 'failed' || job.status === 'awaiting-challenge') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

const userId = `demo-user-${Date.now()}`;
const [institution] = await client.institutions.list.query({ country: 'AU', search: 'Hooli' });
show('institution', { id: institution!.id, name: institution!.name });

const created = [];
for (const loginId of ['gavin', 'richard', 'monica']) {
  const { connection, job } = await client.connections.create.mutate({
    userId,
    institutionId: institution!.id,
    credentials: { loginId, password: 'sandbox' },
    name: `${loginId}'s bank`,
  });
  created.push(connection);
  show('created', { id: connection.id, status: connection.status, state: connection.state, job: job.id });
  const done = await waitForJob(job.id);
  show('job', { id: done.id, status: done.status, steps: done.steps.map((s) => `${s.title}:${s.status}`) });
}

const got = await client.connections.get.query({ id: created[0]!.id });
show('get', { id: got.id, status: got.status, state: got.state, connectedAt: got.connectionState.connectedAt });

const page1 = await client.connections.list.query({ userId, filter: { status: 'ACTIVE' }, limit: 2 });
const page2 = await client.connections.list.query({ userId, filter: { status: 'ACTIVE' }, limit: 2, cursor: page1.nextCursor! });
show('list', { page1: page1.items.map((c) => c.id), page2: page2.items.map((c) => c.id), end: page2.nextCursor === null });

const accounts = await client.accounts.list.query({ connectionId: got.id });
show(
  'accounts',
  accounts.map((a) => `${a.name} ${a.balance} ${a.currency}`),
);

const refreshed = await client.connections.refresh.mutate({ id: got.id });
show('refresh', { job: refreshed.job.id, alreadyRunning: refreshed.alreadyRunning });
await waitForJob(refreshed.job.id);

const { connection: updated } = await client.connections.update.mutate({
  id: got.id,
  name: 'Everyday banking',
  version: (await client.connections.get.query({ id: got.id })).version,
});
show('updated', { id: updated.id, name: updated.name, version: updated.version });

show('deleted', await client.connections.delete.mutate({ id: created[2]!.id }));
show('deleteAll', await client.connections.deleteAll.mutate({ userId }));
console.log('demo complete');
