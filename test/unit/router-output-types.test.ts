import type { inferRouterOutputs } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';
import type { AppRouter } from '../../src/api/app-router.ts';
import type { ConnectionView } from '../../src/connections/connection.presenter.ts';
import type { EventType, JobStatus } from '../../entities/index.ts';
import type { JobView } from '../../src/jobs/job.presenter.ts';

// The output schemas decide what tRPC clients see (`.output()`): they must be exactly the domain's views, never
// `any`, and Dates stay Dates. `npm test` type-checks this file (tsc -p .); the assertions are about types.

type Out = inferRouterOutputs<AppRouter>;

describe('router output types', () => {
  it('are the domain views, with Dates as Dates', () => {
    // Each way assignable: the view spells connectionState as an intersection, the schema as one object.
    expectTypeOf<Out['connections']['get']>().toExtend<ConnectionView>();
    expectTypeOf<ConnectionView>().toExtend<Out['connections']['get']>();
    expectTypeOf<Out['connections']['create']['job']>().toEqualTypeOf<JobView>();
    expectTypeOf<Out['connections']['get']['connectionState']['BANK_ACCOUNT']>().toEqualTypeOf<
      ConnectionView['connectionState']['BANK_ACCOUNT']
    >();
    expectTypeOf<Out['jobs']['get']>().toEqualTypeOf<JobView>();
    expectTypeOf<Out['connections']['get']['createdAt']>().toEqualTypeOf<Date>();
    expectTypeOf<Out['connections']['list']['items'][number]['consentExpiresAt']>().toEqualTypeOf<Date | null>();
    expectTypeOf<Out['jobs']['list'][number]['status']>().toEqualTypeOf<JobStatus>();
    expectTypeOf<Out['events']['list']['items'][number]['type']>().toEqualTypeOf<EventType>();
    expectTypeOf<Out['webhooks']['endpoints']['create']['secret']>().toEqualTypeOf<string>();
    expectTypeOf<Out['accounts']['list'][number]['lastUpdatedAt']>().toEqualTypeOf<Date>();
    expectTypeOf<Out['connectSessions']['create']['expiresAt']>().toEqualTypeOf<Date>();
  });

  it('are never any', () => {
    expectTypeOf<Out['connections']['get']>().not.toBeAny();
    expectTypeOf<Out['institutions']['list'][number]['credentialFields']>().not.toBeAny();
    expectTypeOf<Out['notificationRules']['get']['params']>().toEqualTypeOf<{ accountIds?: string[]; threshold?: string }>();
  });
});
