import { presentConnection } from '../connections/connection.presenter.ts';
import { ConnectionRepository } from '../connections/connection.repository.ts';
import { applyTransition } from '../connections/connection.transitions.ts';
import type { Deps } from '../deps.ts';
import { CONSENT_LAPSED } from '../jobs/job-failure.ts';
import { recordEvent } from '../webhooks/event.recorder.ts';

const DAY = 86_400_000;

/**
 * `connection.consent_expiring`, once per consent: a connection whose consent ends within `warnDays` is marked
 * with the expiry it was warned about, in the same transaction as the event, so no sweep (on any replica) warns
 * about the same consent twice, and a renewed consent (a new expiry) is warned about again.
 */
export async function warnExpiringConsents(deps: Deps, options: { warnDays: number; batchSize: number }): Promise<number> {
  let total = 0;
  for (;;) {
    const now = deps.clock.now();
    const n = await deps.db.transaction(async (m) => {
      const connections = new ConnectionRepository(m);
      const ids = await connections.markConsentsEndingBy(now, new Date(now.getTime() + options.warnDays * DAY), options.batchSize);
      if (ids.length === 0) return 0;
      for (const c of await connections.findSweptByIds(ids)) {
        const msLeft = c.consentExpiresAt!.getTime() - now.getTime();
        await recordEvent(m, {
          appId: c.appId,
          userId: c.userId,
          connectionId: c.id,
          occurredAt: now,
          type: 'connection.consent_expiring',
          data: { connection: presentConnection(c), consentExpiresAt: c.consentExpiresAt, daysLeft: Math.floor(msLeft / DAY) },
        });
      }
      return ids.length;
    });
    total += n;
    if (n < options.batchSize) return total;
  }
}

/**
 * Consents that have passed: status EXPIRED through the lifecycle (with its events). A connection with a job in
 * progress is left to the job, which notices the lapsed consent itself.
 */
export async function expireLapsedConsents(deps: Deps, options: { batchSize: number }): Promise<number> {
  let total = 0;
  for (;;) {
    const now = deps.clock.now();
    const n = await deps.db.transaction(async (m) => {
      const rows = await new ConnectionRepository(m).lockLapsedConsents(now, options.batchSize);
      for (const r of rows) await applyTransition(m, r.appId, r.id, { type: 'consent-lapsed', error: CONSENT_LAPSED }, now);
      return rows.length;
    });
    total += n;
    if (n < options.batchSize) return total;
  }
}
