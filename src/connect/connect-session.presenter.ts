import type { ConnectSession, ConnectSessionError, ConnectSessionStatus, Dataset } from '../../entities/index.ts';

/** A connect session as the app sees it. Its URL (which carries the secret token) only comes back from create. */
export interface ConnectSessionView {
  id: string;
  userId: string;
  status: ConnectSessionStatus;
  institutionId: string | null;
  connectionId: string | null;
  jobId: string | null;
  /** Opened for an existing connection. */
  repair: boolean;
  datasets: Dataset[] | null;
  redirectUri: string | null;
  consentDays: number;
  locale: string | null;
  /** Why it failed (`code`, `message`), when it did; the last wrong-password message while the user retries. */
  error: ConnectSessionError | null;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

const FINISHED: ReadonlySet<ConnectSessionStatus> = new Set(['completed', 'failed', 'expired', 'cancelled']);
export const isFinished = (s: Pick<ConnectSession, 'status'>) => FINISHED.has(s.status);

/**
 * Past its expiry, a session that had not finished is `expired`, whether or not anything wrote that yet; except
 * one whose job is under way (the user did their part), which follows the job to its end.
 */
export function effectiveStatus(s: Pick<ConnectSession, 'status' | 'expiresAt' | 'step'>, now: Date): ConnectSessionStatus {
  return !FINISHED.has(s.status) && s.step !== 'progress' && s.expiresAt <= now ? 'expired' : s.status;
}

export function presentConnectSession(s: ConnectSession, now: Date): ConnectSessionView {
  return {
    id: s.id,
    userId: s.userId,
    status: effectiveStatus(s, now),
    institutionId: s.institutionId,
    connectionId: s.connectionId,
    jobId: s.jobId,
    repair: s.repair,
    datasets: s.datasets,
    redirectUri: s.redirectUri,
    consentDays: s.consentDays,
    locale: s.locale,
    error: s.error,
    expiresAt: s.expiresAt,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    finishedAt: s.finishedAt,
  };
}
