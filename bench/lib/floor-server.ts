// The API floor: what connections.get and connections.list cost with nothing but node:http and pg. Same requests
// (the tRPC GET URLs, `Authorization: Bearer csk_…`), same work per request (one indexed lookup of the key's
// sha256 in applications, then the very SQL TypeORM sends, through a pg Pool of DB_POOL_SIZE), same JSON body
// (the connection view of src/connections/connection.presenter.ts inside tRPC's {"result":{"data":{"json": …}}},
// but without superjson's "meta" — dates go out as ISO strings, as superjson's json part carries them). The REST
// paths (GET /api/v1/connections/{id}, GET /api/v1/connections?userId=…&status=…&limit=…) do the same work and send
// the same view as plain JSON, without the envelope, as the REST API does.
// No express, no tRPC, no zod, no TypeORM, no logger. Env: PORT, HOST, DATABASE_URL, DB_POOL_SIZE.
// Prints "floor listening on <port>" when it accepts requests; GET /readyz answers once the database does.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_SIZE ?? 10),
  connectionTimeoutMillis: 10_000,
  application_name: 'bench-api-floor',
});

// The SQL TypeORM runs for AppService.authenticate (findOneBy apiKeyHash), for ConnectionRepository.findOne
// (findOneBy appId + id) and for ConnectionRepository.list (filters, keyset order, limit + 1), captured verbatim.
const APP_BY_KEY_HASH =
  'SELECT "Application"."id" AS "Application_id", "Application"."name" AS "Application_name", "Application"."api_key_hash" AS "Application_api_key_hash", "Application"."api_key_prefix" AS "Application_api_key_prefix", "Application"."created_at" AS "Application_created_at", "Application"."key_rotated_at" AS "Application_key_rotated_at" FROM "applications" "Application" WHERE (("Application"."api_key_hash" = $1)) LIMIT 1';

const COLUMNS = [
  'id',
  'app_id',
  'user_id',
  'institution_id',
  'method',
  'service_provider',
  'reference',
  'name',
  'scopes',
  'datasets',
  'status',
  'state',
  'provider_status',
  'error',
  'connected_at',
  'disconnected_at',
  'dataset_state',
  'consent_expires_at',
  'consent_days',
  'consent_warned_for',
  'user_action_required',
  'failing_since',
  'consecutive_failures',
  'event_sequence',
  'auto_refresh',
  'refresh_interval_minutes',
  'last_refreshed_at',
  'next_refresh_at',
  'credentials_key_id',
  'created_at',
  'updated_at',
  'version',
] as const;
const select = (alias: string) => COLUMNS.map((c) => `"${alias}"."${c}" AS "${alias}_${c}"`).join(', ');
const GET_CONNECTION = `SELECT ${select('Connection')} FROM "connections" "Connection" WHERE (("Connection"."app_id" = $1) AND ("Connection"."id" = $2)) LIMIT 1`;
const LIST_HEAD = `SELECT ${select('c')} FROM "connections" "c" WHERE "c"."app_id" = $1`;

type Row = Record<string, unknown>;
interface Extraction {
  status: string;
  referenceId?: string | null;
  lastSuccess?: string | null;
  lastUpdated: string;
}

const extraction = (e: Extraction | undefined) =>
  e
    ? {
        status: e.status,
        referenceId: e.referenceId ?? null,
        lastSuccess: e.lastSuccess ? new Date(e.lastSuccess) : null,
        lastUpdated: new Date(e.lastUpdated),
      }
    : null;

/** presentConnection over a raw row (prefix "Connection_" or "c_"). */
function present(r: Row, p: string) {
  const ds = (r[`${p}dataset_state`] ?? {}) as Record<string, Extraction | undefined>;
  const status = r[`${p}status`];
  return {
    id: r[`${p}id`],
    appId: r[`${p}app_id`],
    userId: r[`${p}user_id`],
    institutionId: r[`${p}institution_id`],
    method: r[`${p}method`],
    serviceProvider: r[`${p}service_provider`],
    reference: r[`${p}reference`],
    name: r[`${p}name`],
    scopes: r[`${p}scopes`],
    datasets: r[`${p}datasets`],
    status,
    state: r[`${p}state`],
    providerStatus: r[`${p}provider_status`],
    error: r[`${p}error`],
    connectionState: {
      status,
      connectedAt: r[`${p}connected_at`],
      disconnectedAt: r[`${p}disconnected_at`],
      BANK_ACCOUNT: extraction(ds.BANK_ACCOUNT),
      BANK_BALANCE: extraction(ds.BANK_BALANCE),
      BANK_TRANSACTION: extraction(ds.BANK_TRANSACTION),
      USER_INFO: extraction(ds.USER_INFO),
    },
    consentExpiresAt: r[`${p}consent_expires_at`],
    consentDays: r[`${p}consent_days`],
    autoRefresh: r[`${p}auto_refresh`],
    refreshIntervalMinutes: r[`${p}refresh_interval_minutes`],
    lastRefreshedAt: r[`${p}last_refreshed_at`],
    nextRefreshAt: r[`${p}next_refresh_at`],
    hasCredentials: r[`${p}credentials_key_id`] !== null,
    userActionRequired: r[`${p}user_action_required`],
    failingSince: r[`${p}failing_since`],
    consecutiveFailures: r[`${p}consecutive_failures`],
    createdAt: r[`${p}created_at`],
    updatedAt: r[`${p}updated_at`],
    version: r[`${p}version`],
  };
}

const encodeCursor = (at: Date, id: string) => Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');

function decodeCursor(cursor: string): { at: Date; id: string } | null {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(at);
    return Number.isNaN(date.getTime()) || typeof id !== 'string' ? null : { at: date, id };
  } catch {
    return null;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
const fail = (res: ServerResponse, status: number, message: string) => send(res, status, { error: { json: { message, code: status } } });

/** The calling app's id, or null: the same check and the same single indexed lookup as AppService.authenticate. */
async function authenticate(req: IncomingMessage): Promise<string | null> {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  const key = match?.[1];
  if (!key || !key.startsWith('csk_') || key.length < 47 || key.length > 200) return null;
  const { rows } = await pool.query<Row>(APP_BY_KEY_HASH, [createHash('sha256').update(key).digest('hex')]);
  return rows[0] ? (rows[0].Application_id as string) : null;
}

interface ListInput {
  userId?: string;
  filter?: {
    status?: string | string[];
    state?: string | string[];
    institutionId?: string | string[];
    method?: string | string[];
    ids?: string[];
  };
  cursor?: string;
  limit?: number;
}

async function list(appId: string, input: ListInput) {
  const params: unknown[] = [appId];
  let sql = LIST_HEAD;
  const placeholders = (values: unknown[]) => values.map((v) => `$${params.push(v)}`).join(', ');
  const many = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
  const f = input.filter ?? {};
  if (input.userId !== undefined) sql += ` AND "c"."user_id" = $${params.push(input.userId)}`;
  if (f.ids) sql += ` AND "c"."id" IN (${placeholders(f.ids)})`;
  if (f.status) sql += ` AND "c"."status" IN (${placeholders(many(f.status))})`;
  if (f.state) sql += ` AND "c"."state" IN (${placeholders(many(f.state))})`;
  if (f.institutionId) sql += ` AND "c"."institution_id" IN (${placeholders(many(f.institutionId))})`;
  if (f.method) sql += ` AND "c"."method" IN (${placeholders(many(f.method))})`;
  if (input.cursor) {
    const after = decodeCursor(input.cursor);
    if (!after) return null;
    sql += ` AND ("c"."created_at", "c"."id") > ($${params.push(after.at)}, $${params.push(after.id)})`;
  }
  const limit = input.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) return null;
  sql += ` ORDER BY "c"."created_at" ASC, "c"."id" ASC LIMIT ${limit + 1}`;
  const { rows } = await pool.query<Row>(sql, params);
  const items = rows.slice(0, limit).map((r) => present(r, 'c_'));
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt as Date, last.id as string) : null };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === '/readyz') {
    await pool.query('SELECT 1');
    return send(res, 200, { status: 'ready' });
  }
  if (req.method !== 'GET') return fail(res, 404, 'not found');
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  if (path.startsWith(REST_CONNECTIONS)) return rest(req, res, path, query);
  if (path !== '/trpc/connections.get' && path !== '/trpc/connections.list') return fail(res, 404, 'not found');
  let input: unknown;
  try {
    const raw = query.get('input');
    input = raw ? (JSON.parse(raw) as { json?: unknown }).json : undefined;
  } catch {
    return fail(res, 400, 'input is not JSON');
  }
  const appId = await authenticate(req);
  if (!appId) return fail(res, 401, 'Missing or invalid API key (Authorization: Bearer csk_…)');
  if (path === '/trpc/connections.get') {
    const view = await get(appId, (input as { id?: unknown } | undefined)?.id);
    if (typeof view === 'number') return fail(res, view, 'not a connection of the app');
    return send(res, 200, { result: { data: { json: view } } });
  }
  const page = await list(appId, (input ?? {}) as ListInput);
  if (!page) return fail(res, 400, 'bad cursor or limit');
  return send(res, 200, { result: { data: { json: page } } });
}

/** One connection's view, or the status to answer (400, 404). */
async function get(appId: string, id: unknown): Promise<ReturnType<typeof present> | number> {
  if (typeof id !== 'string' || !UUID.test(id)) return 400;
  const { rows } = await pool.query<Row>(GET_CONNECTION, [appId, id]);
  return rows[0] ? present(rows[0], 'Connection_') : 404;
}

const REST_CONNECTIONS = '/api/v1/connections';

/** The REST shapes of the same two reads: the id in the path, the list's input as flat query parameters. */
async function rest(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
  const appId = await authenticate(req);
  if (!appId) return send(res, 401, { code: 'UNAUTHORIZED', message: 'Missing or invalid API key (Authorization: Bearer csk_…)' });
  if (path.startsWith(`${REST_CONNECTIONS}/`)) {
    const view = await get(appId, decodeURIComponent(path.slice(REST_CONNECTIONS.length + 1)));
    if (typeof view === 'number') return send(res, view, { code: 'NOT_FOUND', message: 'not a connection of the app' });
    return send(res, 200, view);
  }
  if (path !== REST_CONNECTIONS) return send(res, 404, { code: 'NOT_FOUND', message: 'not found' });
  const many = (name: string) => (query.has(name) ? query.getAll(name) : undefined);
  const limit = query.get('limit');
  const page = await list(appId, {
    userId: query.get('userId') ?? undefined,
    filter: {
      status: many('status'),
      state: many('state'),
      institutionId: many('institutionId'),
      method: many('method'),
      ids: many('ids'),
    },
    cursor: query.get('cursor') ?? undefined,
    limit: limit === null ? undefined : Number(limit),
  });
  if (!page) return send(res, 400, { code: 'BAD_REQUEST', message: 'bad cursor or limit' });
  return send(res, 200, page);
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    console.error(error);
    if (!res.headersSent) fail(res, 500, 'internal error');
    else res.destroy();
  });
});
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  console.log(`floor listening on ${typeof address === 'object' && address ? address.port : address}`);
});

const stop = () => {
  server.close();
  server.closeIdleConnections();
  void pool.end().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
