import type { ConnectionStatus } from '../../entities/index.ts';
import type { RefreshPolicy } from '../refresh-policy.ts';

/**
 * When a connection is next refreshed automatically. Refreshes keep to a fixed rhythm per connection: the sweep
 * that queues a refresh moves nextRefreshAt one interval on from the time it was due (not from when the job ran),
 * so each connection is refreshed once per interval (the statement is ConnectionRepository.scheduleDueRefreshes). A fleet created together is spread by jitter on its first
 * schedule; a connection whose refreshes keep failing waits twice as long after each failure, up to a cap.
 */

/** The connection's interval, never below its institution's minimum. */
export function refreshIntervalMs(refreshIntervalMinutes: number, institutionMinimumMinutes: number): number {
  return Math.max(refreshIntervalMinutes, institutionMinimumMinutes) * 60_000;
}

/** After a first import (or the first success after failures): one interval on, less up to the jitter. */
export function firstRefreshAt(now: Date, intervalMs: number, policy: RefreshPolicy, random: () => number = Math.random): Date {
  return new Date(now.getTime() + Math.round(intervalMs * (1 - policy.jitterFraction * random())));
}

/** After the `failures`th failure in a row: interval × 2^(failures−1), capped. */
export function refreshAfterFailure(now: Date, intervalMs: number, failures: number, policy: RefreshPolicy): Date {
  const cap = Math.max(policy.failureBackoffMaxMs, intervalMs);
  return new Date(now.getTime() + Math.min(cap, intervalMs * 2 ** Math.max(0, failures - 1)));
}

/** The status a connection must have for the scheduler to refresh it on its own (typed against the entity's list). */
const REFRESHABLE_STATUS: ConnectionStatus = 'ACTIVE';

/** How a SQL fragment names a connection's columns: bare (`status`), through an alias (`c.status`), or quoted (`"status"`). */
export interface ConnectionColumns {
  alias?: string;
  /** Double-quoted column names, as TypeORM writes an index predicate. */
  quoted?: boolean;
}

const column = (name: string, { alias, quoted }: ConnectionColumns) => `${alias ? `${alias}.` : ''}${quoted ? `"${name}"` : name}`;

/**
 * "The scheduler may refresh this connection on its own": auto-refresh on, ACTIVE, not waiting for its user. The
 * partial index ix_connections_refresh_due is built on exactly this predicate, so a scan that uses it reads only these rows.
 */
export function autoRefreshableSql(columns: ConnectionColumns = {}): string {
  return `${column('auto_refresh', columns)} AND ${column('status', columns)} = '${REFRESHABLE_STATUS}' AND NOT ${column('user_action_required', columns)}`;
}

/**
 * "This connection is due": refreshable on its own (above) and its nextRefreshAt has passed `now`, a SQL expression
 * (a parameter such as `$1`). The refresh sweep queues these; the refresh-lag metric measures the oldest of them.
 */
export function refreshDueSql(now: string, columns: ConnectionColumns = {}): string {
  return `${autoRefreshableSql(columns)} AND ${column('next_refresh_at', columns)} <= ${now}`;
}
