import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DELIVERY_STATUSES, GIVEN_UP_DELIVERY_STATUSES, WAITING_DELIVERY_STATUSES } from '../../entities/index.ts';
import {
  GONE_REASON,
  judgeFailure,
  MAX_RETRY_AFTER_MS,
  noSuccessReason,
  shouldDisableEndpoint,
} from '../../src/webhooks/delivery.attempt-policy.ts';
import {
  afterFailedAttempt,
  DELIVERY_TRANSITIONS,
  deliveryTransition,
  IllegalDeliveryTransition,
  startsFrom,
  type DeliveryTransition,
} from '../../src/webhooks/delivery.lifecycle.ts';

const now = new Date('2026-05-01T10:00:00.000Z');
const schedule = { retryScheduleMs: [5_000, 300_000] };

describe('delivery lifecycle', () => {
  it('a delivery is created pending, and only by queued', () => {
    expect(deliveryTransition(null, 'queued')).toBe('pending');
    for (const t of Object.keys(DELIVERY_TRANSITIONS) as DeliveryTransition[]) {
      if (t !== 'queued') expect(() => deliveryTransition(null, t), t).toThrow(IllegalDeliveryTransition);
    }
    for (const s of DELIVERY_STATUSES) expect(() => deliveryTransition(s, 'queued'), s).toThrow(IllegalDeliveryTransition);
  });

  it('an attempt settles a pending delivery: succeeded, pending again (retry), dead or failed', () => {
    expect(deliveryTransition('pending', 'succeeded')).toBe('succeeded');
    expect(deliveryTransition('pending', 'retry-scheduled')).toBe('pending');
    expect(deliveryTransition('pending', 'exhausted')).toBe('dead');
    expect(deliveryTransition('pending', 'given-up')).toBe('failed');
    for (const s of ['succeeded', 'failed', 'dead'] as const) {
      for (const t of ['succeeded', 'retry-scheduled', 'exhausted', 'given-up', 'endpoint-disabled'] as const) {
        expect(() => deliveryTransition(s, t), `${s} ${t}`).toThrow(IllegalDeliveryTransition);
      }
    }
  });

  it('disabling an endpoint gives up on its waiting deliveries; only the waiting ones', () => {
    expect(deliveryTransition('pending', 'endpoint-disabled')).toBe('failed');
    expect(startsFrom('endpoint-disabled')).toEqual(WAITING_DELIVERY_STATUSES);
  });

  it('resend takes any status back to pending; recover only what was given up on', () => {
    for (const s of DELIVERY_STATUSES) expect(deliveryTransition(s, 'resent')).toBe('pending');
    expect(startsFrom('recovered')).toEqual(GIVEN_UP_DELIVERY_STATUSES);
    expect(deliveryTransition('failed', 'recovered')).toBe('pending');
    expect(deliveryTransition('dead', 'recovered')).toBe('pending');
    expect(() => deliveryTransition('succeeded', 'recovered')).toThrow(IllegalDeliveryTransition);
    expect(() => deliveryTransition('pending', 'recovered')).toThrow(IllegalDeliveryTransition);
  });

  it('a failed attempt: 410 gives up, a spent schedule is dead, a retry of a disabled endpoint gives up', () => {
    expect(afterFailedAttempt('gone', true)).toBe('given-up');
    expect(afterFailedAttempt('dead', true)).toBe('exhausted');
    expect(afterFailedAttempt('dead', false)).toBe('exhausted');
    expect(afterFailedAttempt('retry', true)).toBe('retry-scheduled');
    expect(afterFailedAttempt('retry', false)).toBe('given-up');
  });
});

describe('delivery attempt policy', () => {
  const fixed = (ms: number) => ({ kind: 'retry', nextAttemptAt: new Date(now.getTime() + ms) });

  it('410 is gone, whatever the schedule', () => {
    expect(judgeFailure({ statusCode: 410, retryAfterMs: null }, 99, schedule, now)).toEqual({ kind: 'gone' });
    expect(GONE_REASON).toBe('the endpoint answered HTTP 410 Gone');
  });

  it('retries on the schedule (±10% jitter), then dead', () => {
    const first = judgeFailure({ statusCode: 500, retryAfterMs: null }, 1, schedule, now);
    expect(first.kind).toBe('retry');
    const wait = first.kind === 'retry' ? first.nextAttemptAt.getTime() - now.getTime() : -1;
    expect(wait).toBeGreaterThanOrEqual(4_500);
    expect(wait).toBeLessThanOrEqual(5_500);
    expect(judgeFailure({ statusCode: null, retryAfterMs: null }, 3, schedule, now)).toEqual({ kind: 'dead' });
  });

  it('honours Retry-After on 429 and 503 only, up to a day, and never past the schedule', () => {
    expect(judgeFailure({ statusCode: 429, retryAfterMs: 60_000 }, 1, schedule, now)).toEqual(fixed(60_000));
    expect(judgeFailure({ statusCode: 503, retryAfterMs: 10 * MAX_RETRY_AFTER_MS }, 2, schedule, now)).toEqual(fixed(MAX_RETRY_AFTER_MS));
    expect(judgeFailure({ statusCode: 500, retryAfterMs: 60_000 }, 1, schedule, now)).not.toEqual(fixed(60_000));
    expect(judgeFailure({ statusCode: 429, retryAfterMs: 60_000 }, 3, schedule, now)).toEqual({ kind: 'dead' });
  });

  it('disables an endpoint after disableAfterMs without a success', () => {
    const settings = { disableAfterMs: 5 * 86_400_000 };
    expect(shouldDisableEndpoint(new Date(now.getTime() - settings.disableAfterMs), now, settings)).toBe(true);
    expect(shouldDisableEndpoint(new Date(now.getTime() - settings.disableAfterMs + 1), now, settings)).toBe(false);
    expect(noSuccessReason(settings)).toBe('no successful delivery for 5 days');
  });
});

describe('one writer of delivery status', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? sources(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : [],
    );
  const files = sources(path.resolve(import.meta.dirname, '../../src')).map((f) => ({
    file: path.relative(path.resolve(import.meta.dirname, '../..'), f),
    text: readFileSync(f, 'utf8'),
  }));

  it('only delivery.repository.ts has SQL on webhook_deliveries and its attempts', () => {
    const offenders = files.filter((f) => /webhook_deliver(y|ies)/.test(f.text) && f.file !== 'src/webhooks/delivery.repository.ts');
    // Comments may name the table; statements may not.
    const withSql = offenders.filter((f) => /(UPDATE|INSERT INTO|DELETE FROM|FROM)\s+webhook_deliver/i.test(f.text));
    expect(withSql.map((f) => f.file)).toEqual([]);
  });

  it("only delivery.transitions.ts calls the repository's status-writing statements", () => {
    const writers =
      /\.(settleFailedAttempt|recordSuccesses|insertForSubscribers|insertForEndpoint|resetOne|resetForEndpointSince|insertMissingForEndpointSince|failWaitingForEndpoint)\(/;
    const callers = files.filter((f) => writers.test(f.text) && f.file !== 'src/webhooks/delivery.repository.ts').map((f) => f.file);
    expect(callers).toEqual(['src/webhooks/delivery.transitions.ts']);
  });
});
