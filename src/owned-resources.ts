import { FinancialDataRepository } from './accounts/financial-data.repository.ts';
import { ConnectionRepository } from './connections/connection.repository.ts';
import type { OwnedResources } from './webhooks/owned-resources.ts';

/** The webhooks' ownership checks, each the owning repository's statement (see webhooks/owned-resources.ts). */
export const ownedResources: OwnedResources = {
  connectionIds: (m, appId, ids) => new ConnectionRepository(m).ownedIds(appId, ids),
  accountIds: (m, appId, ids) => new FinancialDataRepository(m).ownedAccountIds(appId, ids),
};
