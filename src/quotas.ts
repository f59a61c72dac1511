import type { EntityManager } from 'typeorm';
import { AppError, ErrorCode } from './errors.ts';
import { QuotaRepository } from './quota.repository.ts';

/**
 * How much one app (or one of its users) may hold. Without them, one app could create 10,000 webhook endpoints and
 * make every event of its write 10,000 delivery rows inside an API call. README lists each with its variable.
 */
export interface Quotas {
  endpointsPerApp: number;
  notificationRulesPerApp: number;
  connectionsPerUser: number;
}

export const DEFAULT_QUOTAS: Quotas = { endpointsPerApp: 50, notificationRulesPerApp: 200, connectionsPerUser: 50 };

/** The variable that sets each quota, for messages. */
const VARIABLE: Record<keyof Quotas, string> = {
  endpointsPerApp: 'MAX_ENDPOINTS_PER_APP',
  notificationRulesPerApp: 'MAX_NOTIFICATION_RULES_PER_APP',
  connectionsPerUser: 'MAX_CONNECTIONS_PER_USER',
};

/**
 * Refuses to add one more when `count()` has reached `limit`, with nothing written. Call it in the transaction
 * that adds the row: the advisory lock on `scope` holds until that transaction ends, so two concurrent creates
 * cannot both slip under the limit.
 */
export async function requireRoomFor(
  manager: EntityManager,
  quota: keyof Quotas,
  limit: number,
  scope: string,
  count: () => Promise<number>,
  what: string,
): Promise<void> {
  await new QuotaRepository(manager).lockScope(`quota:${quota}:${scope}`);
  const n = await count();
  if (n >= limit) {
    throw new AppError(ErrorCode.QUOTA_EXCEEDED, `${what} has ${n} already, the most allowed (${VARIABLE[quota]}=${limit})`, {
      quota,
      limit,
    });
  }
}
