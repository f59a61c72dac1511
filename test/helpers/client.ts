import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../../src/api/app-router.ts';

export type Client = ReturnType<typeof createTRPCClient<AppRouter>>;

export interface ClientOptions {
  /** Send queries as POST, for inputs too large for a URL. */
  methodOverride?: 'POST';
}

/** A @trpc/client as an app would build one (superjson, Bearer key, a call's Idempotency-Key from its context). */
export function createClient(url: string, apiKey?: string, options: ClientOptions = {}): Client {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url}/trpc`,
        methodOverride: options.methodOverride,
        transformer: superjson,
        // A call's Idempotency-Key travels in its context: client.x.mutate(input, { context: { idempotencyKey } }).
        headers: ({ op }) => ({
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
          ...(typeof op.context.idempotencyKey === 'string' ? { 'idempotency-key': op.context.idempotencyKey } : {}),
        }),
      }),
    ],
  });
}
