import type { DeliverySettings } from './delivery.types.ts';
import { describeDuration, retryDelayMs } from './delivery-schedule.ts';
import type { SendOutcome } from './webhook-sender.ts';

/**
 * What a failed attempt means, decided without the database: retry when, dead when, disable the endpoint when.
 * The attempter applies the answer in its transaction (the endpoint's health row is read there, under its lock).
 */

/** A 429 or 503 may ask for any wait; it is honoured up to a day, the longest wait of the default schedule. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

export const GONE_REASON = 'the endpoint answered HTTP 410 Gone';

export type FailureVerdict =
  /** Gone: the subscriber says it wants nothing more. Stop at once rather than retrying for days. */
  | { kind: 'gone' }
  /** The schedule has an attempt left: try again at `nextAttemptAt`. */
  | { kind: 'retry'; nextAttemptAt: Date }
  /** Every attempt of the schedule has failed. */
  | { kind: 'dead' };

/** The verdict on a failed attempt, the `attempts - scheduleStart`-th of the delivery's current round. */
export function judgeFailure(
  outcome: Pick<SendOutcome, 'statusCode' | 'retryAfterMs'>,
  attemptsInRound: number,
  settings: Pick<DeliverySettings, 'retryScheduleMs'>,
  now: Date,
): FailureVerdict {
  if (outcome.statusCode === 410) return { kind: 'gone' };
  const told = (outcome.statusCode === 429 || outcome.statusCode === 503) && outcome.retryAfterMs !== null;
  const scheduled = retryDelayMs(settings.retryScheduleMs, attemptsInRound);
  // Retry-After is honoured while the schedule has attempts left; it never makes a delivery immortal.
  if (scheduled === null) return { kind: 'dead' };
  return {
    kind: 'retry',
    nextAttemptAt: new Date(now.getTime() + (told ? Math.min(outcome.retryAfterMs!, MAX_RETRY_AFTER_MS) : scheduled)),
  };
}

/** Whether an endpoint failing since `failingSince` has gone long enough without a success to be disabled. */
export function shouldDisableEndpoint(failingSince: Date, now: Date, settings: Pick<DeliverySettings, 'disableAfterMs'>): boolean {
  return now.getTime() - failingSince.getTime() >= settings.disableAfterMs;
}

/** The reason an endpoint disabled by shouldDisableEndpoint records. */
export function noSuccessReason(settings: Pick<DeliverySettings, 'disableAfterMs'>): string {
  return `no successful delivery for ${describeDuration(settings.disableAfterMs)}`;
}
