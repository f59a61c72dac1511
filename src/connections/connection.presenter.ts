import type {
  Connection,
  ConnectionError,
  ConnectionStatus,
  ConnectionSyncState,
  Dataset,
  DatasetExtraction,
  InstitutionMethod,
} from '../../entities/index.ts';

/** A connection as the API returns it. Credentials are not part of it, ever; `hasCredentials` says whether any are stored. */
export interface ConnectionView {
  id: string;
  appId: string;
  userId: string;
  institutionId: string;
  method: InstitutionMethod;
  serviceProvider: string;
  reference: string | null;
  name: string | null;
  scopes: string[] | null;
  datasets: Dataset[] | null;
  status: ConnectionStatus;
  state: ConnectionSyncState;
  providerStatus: string | null;
  error: ConnectionError | null;
  connectionState: {
    status: ConnectionStatus;
    connectedAt: Date | null;
    disconnectedAt: Date | null;
  } & Record<Dataset, DatasetExtraction | null>;
  consentExpiresAt: Date | null;
  /** How long a consent should last when the user gives one (days), as the app asked; null: the provider's default. */
  consentDays: number | null;
  autoRefresh: boolean;
  refreshIntervalMinutes: number;
  lastRefreshedAt: Date | null;
  nextRefreshAt: Date | null;
  hasCredentials: boolean;
  /** Only the user can move the connection on (new credentials, a renewed consent); automatic refreshes wait. */
  userActionRequired: boolean;
  /** Since when its jobs have been failing (null when its last job succeeded); cleared by connection.repaired. */
  failingSince: Date | null;
  /** Jobs failed in a row; automatic refreshes back off on it. */
  consecutiveFailures: number;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

// jsonb holds dates as strings; the API promises Date objects.
const extraction = (e: DatasetExtraction | undefined): DatasetExtraction | null =>
  e
    ? {
        status: e.status,
        referenceId: e.referenceId ?? null,
        lastSuccess: e.lastSuccess ? new Date(e.lastSuccess) : null,
        lastUpdated: new Date(e.lastUpdated),
      }
    : null;

export function presentConnection(c: Connection): ConnectionView {
  const ds = c.datasetState ?? {};
  return {
    id: c.id,
    appId: c.appId,
    userId: c.userId,
    institutionId: c.institutionId,
    method: c.method,
    serviceProvider: c.serviceProvider,
    reference: c.reference,
    name: c.name,
    scopes: c.scopes,
    datasets: c.datasets,
    status: c.status,
    state: c.state,
    providerStatus: c.providerStatus,
    error: c.error,
    connectionState: {
      status: c.status,
      connectedAt: c.connectedAt,
      disconnectedAt: c.disconnectedAt,
      BANK_ACCOUNT: extraction(ds.BANK_ACCOUNT),
      BANK_BALANCE: extraction(ds.BANK_BALANCE),
      BANK_TRANSACTION: extraction(ds.BANK_TRANSACTION),
      USER_INFO: extraction(ds.USER_INFO),
    },
    consentExpiresAt: c.consentExpiresAt,
    consentDays: c.consentDays,
    autoRefresh: c.autoRefresh,
    refreshIntervalMinutes: c.refreshIntervalMinutes,
    lastRefreshedAt: c.lastRefreshedAt,
    nextRefreshAt: c.nextRefreshAt,
    hasCredentials: c.credentialsKeyId !== null,
    userActionRequired: c.userActionRequired,
    failingSince: c.failingSince,
    consecutiveFailures: c.consecutiveFailures,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    version: c.version,
  };
}
