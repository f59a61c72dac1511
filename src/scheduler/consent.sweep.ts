import { In } from 'typeorm';
import { Connection } from '../../entities/index.ts';
import { presentConnection } from '../connections/connection.presenter.ts';
import { applyTransition } from '../connections/connection.transitions.ts';
import type { Deps } from '../deps.ts';
import { CONSENT_LAPSED } from '../jobs/job-failure.ts';
import { noActiveJob } from '../jobs/job.repository.ts';
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
      const [rows]: [{ id: string }[], number] = await m.query(
        `WITH due AS (
           SELECT id FROM connections
           WHERE consent_expires_at IS NOT NULL AND status IN ('INITIATED', 'ACTIVE')
             AND consent_expires_at > $1 AND consent_expires_at <= $2
             AND consent_warned_for IS DISTINCT FROM consent_expires_at
           ORDER BY consent_expires_at LIMIT $3
           FOR UPDATE SKIP LOCKED)
         UPDATE connections c SET consent_warned_for = c.consent_expires_at FROM due WHERE c.id = due.id RETURNING c.id`,
        [now, new Date(now.getTime() + options.warnDays * DAY), options.batchSize],
      );
      if (rows.length === 0) return 0;
      const connections = await m.getRepository(Connection).findBy({ id: In(rows.map((r) => r.id)) });
      for (const c of connections) {
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
      return rows.length;
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
      const rows: { id: string; app_id: string }[] = await m.query(
        `SELECT c.id, c.app_id FROM connections c
         WHERE c.consent_expires_at IS NOT NULL AND c.status IN ('INITIATED', 'ACTIVE') AND c.consent_expires_at <= $1
           AND ${noActiveJob('c')}
         ORDER BY c.consent_expires_at LIMIT $2
         FOR UPDATE OF c SKIP LOCKED`,
        [now, options.batchSize],
      );
      for (const r of rows) await applyTransition(m, r.app_id, r.id, { type: 'consent-lapsed', error: CONSENT_LAPSED }, now);
      return rows.length;
    });
    total += n;
    if (n < options.batchSize) return total;
  }
}
