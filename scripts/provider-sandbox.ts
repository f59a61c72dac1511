// The reference plug-in provider (the sandbox over HTTP, docs/plugin-provider-protocol.md) as a process:
//   npm run provider:sandbox        PROVIDER_PORT (default 4010), PROVIDER_HOST (default 127.0.0.1),
//                                   PROVIDER_TOKEN (optional shared secret). Prints its URL; Ctrl-C stops it.
import { z } from 'zod';
import { createReferenceProviderServer, listen } from '../src/providers/http/reference-provider-server.ts';

const env = z
  .object({
    PROVIDER_PORT: z.coerce.number().int().min(0).max(65535).default(4010),
    PROVIDER_HOST: z.string().min(1).default('127.0.0.1'),
    PROVIDER_TOKEN: z.string().min(1).optional(),
  })
  // Empty strings count as unset, as in src/config.ts.
  .safeParse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')));
if (!env.success) {
  console.error(`Invalid configuration:\n${z.prettifyError(env.error)}`);
  process.exit(1);
}
const { PROVIDER_PORT, PROVIDER_HOST, PROVIDER_TOKEN } = env.data;

const server = await listen(createReferenceProviderServer({ token: PROVIDER_TOKEN }), PROVIDER_PORT, PROVIDER_HOST);
console.log(server.url);

const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
