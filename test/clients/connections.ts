// A client of the connections service, as an app that installed `connections-service` writes it (the test copies it
// into each package under test/clients/ and compiles it there with that package's flags): the router's
// type from `connections-service/router`, nothing else from the service.
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from 'connections-service/router';
import superjson from 'superjson';

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** true when T is `any`: an output that degraded to `any` would type-check anything and catch nothing. */
type IsAny<T> = 0 extends 1 & T ? true : false;

export const client = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: 'http://127.0.0.1:3000/trpc',
      transformer: superjson,
      headers: () => ({ authorization: 'Bearer csk_example' }),
    }),
  ],
});

export async function tour(userId: string): Promise<string[]> {
  const [institution] = await client.institutions.list.query({ country: 'AU', search: 'Hooli' });
  if (!institution) return [];
  const { connection, job } = await client.connections.create.mutate({
    userId,
    institutionId: institution.id,
    credentials: { loginId: 'user', password: 'secret' },
  });
  const got = await client.connections.get.query({ id: connection.id });
  const page = await client.connections.list.query({ userId, limit: 2 });
  const jobNow = job ? await client.jobs.get.query({ id: job.id }) : null;
  await client.connections.refresh.mutate({ id: got.id });
  const deleted = await client.connections.delete.mutate({ id: got.id });

  // Outputs are real types, not `any`.
  const connectionIsTyped: IsAny<typeof got> = false;
  const listIsTyped: IsAny<RouterOutputs['connections']['list']> = false;
  const jobIsTyped: IsAny<typeof jobNow> = false;
  const idIsString: typeof got.id extends string ? true : false = true;
  void [connectionIsTyped, listIsTyped, jobIsTyped, idIsString, deleted];

  // @ts-expect-error an input the router refuses is a type error here, before any request.
  await client.connections.get.query({ id: 42 });

  return page.items.map((c) => `${c.id} ${c.status}`);
}
