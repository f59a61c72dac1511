import type { Client } from '../helpers/test-service.ts';
import type { FuzzFixtures } from './fuzzer.ts';

/**
 * What the fuzzer's valid inputs point at: an imported connection (with accounts and events), a busy one (its job
 * queued, so mutations on it are refused rather than done), a finished job, an endpoint with a delivery, a rule,
 * and another app's connection. `settle` runs the queued jobs (an in-process runner, or a worker process).
 */
export async function createFuzzFixtures(client: Client, foreign: Client, settle: () => Promise<void>): Promise<FuzzFixtures> {
  const { endpoint } = await client.webhooks.endpoints.create.mutate({
    url: 'http://127.0.0.1:9/fuzz-fixture',
    eventTypes: ['connection.created'],
  });
  const imported = await client.connections.create.mutate({
    userId: 'fuzz-imported',
    institutionId: 'AU00000',
    credentials: { loginId: 'gavinBelson', password: 'pw' },
  });
  const foreignConnection = await foreign.connections.create.mutate({ userId: 'fuzz-foreign', institutionId: 'DE00000' });
  await settle();
  const busy = await client.connections.create.mutate({ userId: 'fuzz-busy', institutionId: 'DE00000' });
  const [account] = await client.accounts.list.query({ connectionId: imported.connection.id });
  const rule = await client.notificationRules.create.mutate({ triggerEvent: 'CONNECTION_STATUS_CHANGED', endpointId: endpoint.id });
  const [event] = (await client.events.list.query({ connectionId: imported.connection.id, limit: 1 })).items;
  const [delivery] = (await client.webhooks.deliveries.list.query({ endpointId: endpoint.id, limit: 1 })).items;
  if (!account || !event || !delivery) throw new Error('fuzz fixtures: the imported connection has no account, event or delivery');
  return {
    connectionId: imported.connection.id,
    busyConnectionId: busy.connection.id,
    userId: 'fuzz-busy',
    jobId: imported.job!.id,
    accountId: account.id,
    endpointId: endpoint.id,
    deliveryId: delivery.id,
    ruleId: rule.id,
    eventId: event.id,
    foreignConnectionId: foreignConnection.connection.id,
  };
}
