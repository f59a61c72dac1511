/**
 * Every node-cron schedule of the service, by name: its default pattern (six fields, seconds first) and the
 * variable that overrides it. src/scheduler/scheduler.ts registers exactly these.
 */
export const SCHEDULES = {
  /** Queue refreshes of connections that are due. Any number of replicas may sweep at once (SKIP LOCKED). */
  refreshSweep: { pattern: '*/30 * * * * *', env: 'SCHEDULE_REFRESH_SWEEP', oncePerSlot: false },
  /** Warn before consents expire; mark the lapsed ones EXPIRED. Claims with UPDATE … RETURNING, so any replica. */
  consentSweep: { pattern: '15 * * * * *', env: 'SCHEDULE_CONSENT_SWEEP', oncePerSlot: false },
  /** Release expired leases of jobs and deliveries; fail jobs whose challenge expired. */
  recovery: { pattern: '*/10 * * * * *', env: 'SCHEDULE_RECOVERY', oncePerSlot: false },
  /** Wake delivery workers when retries are due, whether or not a commit-time NOTIFY reached them. */
  deliveryBackstop: { pattern: '*/15 * * * * *', env: 'SCHEDULE_DELIVERY_BACKSTOP', oncePerSlot: false },
  /** Prune old events and delivery attempts: once per slot across all replicas (RunCoordinator on Postgres). */
  retention: { pattern: '0 17 * * * *', env: 'SCHEDULE_RETENTION', oncePerSlot: true },
} as const;

export type ScheduleName = keyof typeof SCHEDULES;
export const SCHEDULE_NAMES = Object.keys(SCHEDULES) as ScheduleName[];
