import { randomUUID } from 'node:crypto';
import type { CreateConnectionInput } from '../../src/connections/connection.schemas.ts';
import type { Client, TestService } from './test-service.ts';

export interface TestApp {
  id: string;
  apiKey: string;
  client: Client;
}

export async function createTestApp(service: TestService, name = `app-${randomUUID().slice(0, 8)}`): Promise<TestApp> {
  const { app, apiKey } = await service.services.apps.create(name);
  return { id: app.id, apiKey, client: service.client(apiKey) };
}

/** A valid create input for the sandbox bank; override what a test cares about. */
export function connectionInput(overrides: Partial<CreateConnectionInput> = {}): CreateConnectionInput {
  return {
    userId: `user-${randomUUID().slice(0, 8)}`,
    institutionId: 'AU00000',
    credentials: { loginId: 'gavinBelson', password: `hooli-${randomUUID()}` },
    ...overrides,
  };
}

/**
 * Marks a connection's queued job finished, as a worker would, so the connection is no longer busy.
 * (Until the refresh engine exists there is no worker to do it.)
 */
export async function settleJobs(service: TestService, connectionIds: string[]): Promise<void> {
  await service.database.db.query(
    `UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE connection_id = ANY($1::uuid[]) AND status IN ('queued', 'running', 'awaiting-challenge')`,
    [connectionIds],
  );
}

/** Many connections at once, straight into the table (for pagination and scale tests). */
export async function insertConnections(
  service: TestService,
  appId: string,
  count: number,
  fields: { userId?: string; institutionId?: string; status?: string } = {},
): Promise<string[]> {
  const rows: { id: string }[] = await service.database.db.query(
    `INSERT INTO connections (id, app_id, user_id, institution_id, method, service_provider, status, state, version)
     SELECT gen_random_uuid(), $1, $2, $3, 'built-in', 'sandbox', $4, 'pending', 1 FROM generate_series(1, $5)
     RETURNING id`,
    [appId, fields.userId ?? 'bulk-user', fields.institutionId ?? 'AU00000', fields.status ?? 'INITIATED', count],
  );
  return rows.map((r) => r.id);
}
