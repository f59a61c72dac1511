import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type LookupFunction } from 'node:net';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { endpointUrlProblem } from '../../src/security/address-policy.ts';
import { WebhookSender, type WebhookSenderOptions } from '../../src/webhooks/webhook-sender.ts';
import { freePort } from '../helpers/free-port.ts';

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  port: number;
  url(path?: string, host?: string): string;
  requests: SeenRequest[];
  /** TCP connections accepted, whether or not a request followed. */
  connections: number;
  /** Responses whose connection closed before they finished: the client hung up. */
  abandoned: number;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
const senders: WebhookSender[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const sender of senders.splice(0)) sender.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A real HTTP server on port 0; handler decides the answer, after the request body has been read. */
async function startServer(handler: (req: SeenRequest, res: ServerResponse) => void, host = '127.0.0.1'): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const state = { connections: 0, abandoned: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(seen);
      res.on('close', () => {
        if (!res.writableFinished) state.abandoned += 1;
      });
      handler(seen, res);
    });
  });
  server.on('connection', () => (state.connections += 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const testServer: TestServer = {
    port,
    url: (path = '/hook', urlHost = '127.0.0.1') => `http://${urlHost}:${port}${path}`,
    requests,
    get connections() {
      return state.connections;
    },
    get abandoned() {
      return state.abandoned;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(testServer);
  return testServer;
}

function makeSender(options: Partial<WebhookSenderOptions> = {}): WebhookSender {
  const sender = new WebhookSender({
    connectTimeoutMs: 1_000,
    timeoutMs: 2_000,
    maxResponseBytes: 65_536,
    allowHttp: true,
    allowedAddresses: ['127.0.0.1/32', '::1/128'],
    ...options,
  });
  senders.push(sender);
  return sender;
}

const payload = JSON.stringify({ type: 'connection.updated', data: { id: 'c1' } });

let ipv6 = false;
beforeAll(async () => {
  ipv6 = await new Promise<boolean>((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
});

describe('WebhookSender against a loopback receiver', () => {
  it('POSTs the body with the fixed headers and reports a 2xx as ok', async () => {
    const server = await startServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks'));
    const outcome = await makeSender().send(server.url(), { 'webhook-id': 'msg_1', 'Content-Type': 'text/evil' }, payload);

    expect(outcome).toMatchObject({ ok: true, statusCode: 200, error: null, retryAfterMs: null, responseBody: 'thanks', blocked: false });
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(0);
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req?.method).toBe('POST');
    expect(req?.body).toBe(payload);
    expect(req?.headers).toMatchObject({
      'webhook-id': 'msg_1',
      'content-type': 'application/json',
      'user-agent': 'connections-service-webhooks/1',
      'accept-encoding': 'identity',
    });
  });

  it('reports a 500 as a failure with its status, ignoring Retry-After outside 429/503', async () => {
    const server = await startServer((_req, res) => res.writeHead(500, { 'retry-after': '30' }).end('boom'));
    const outcome = await makeSender().send(server.url(), {}, payload);
    expect(outcome).toMatchObject({
      ok: false,
      statusCode: 500,
      error: 'HTTP 500',
      retryAfterMs: null,
      responseBody: 'boom',
      blocked: false,
    });
  });

  it('reports a 410 as a failure', async () => {
    const server = await startServer((_req, res) => res.writeHead(410).end());
    const outcome = await makeSender().send(server.url(), {}, payload);
    expect(outcome).toMatchObject({ ok: false, statusCode: 410, error: 'HTTP 410' });
  });

  it('does not follow a redirect: the target receives nothing', async () => {
    const target = await startServer((_req, res) => res.writeHead(200).end());
    const server = await startServer((_req, res) => res.writeHead(302, { location: target.url('/elsewhere') }).end());
    const outcome = await makeSender().send(server.url(), {}, payload);

    expect(outcome).toMatchObject({ ok: false, statusCode: 302, error: 'redirect (HTTP 302) not followed', blocked: false });
    expect(server.requests).toHaveLength(1);
    expect(target.connections).toBe(0);
    expect(target.requests).toHaveLength(0);
  });

  it('reads Retry-After as delay-seconds on 429', async () => {
    const server = await startServer((_req, res) => res.writeHead(429, { 'retry-after': '120' }).end());
    const outcome = await makeSender().send(server.url(), {}, payload);
    expect(outcome).toMatchObject({ ok: false, statusCode: 429, error: 'HTTP 429', retryAfterMs: 120_000 });
  });

  it('reads Retry-After as an HTTP-date on 503', async () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    const server = await startServer((_req, res) => res.writeHead(503, { 'retry-after': at }).end());
    const outcome = await makeSender().send(server.url(), {}, payload);
    expect(outcome).toMatchObject({ ok: false, statusCode: 503, error: 'HTTP 503' });
    // The date has whole seconds and the round trip takes some milliseconds.
    expect(outcome.retryAfterMs).toBeGreaterThan(57_000);
    expect(outcome.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('gives no Retry-After for a 503 whose header is missing or unreadable, and 0 for a date in the past', async () => {
    const headers = [{}, { 'retry-after': 'soon' }, { 'retry-after': 'Thu, 01 Jan 2015 00:00:00 GMT' }];
    let i = 0;
    const server = await startServer((_req, res) => res.writeHead(503, headers[i++] ?? {}).end());
    const sender = makeSender();
    const outcomes = [
      await sender.send(server.url(), {}, payload),
      await sender.send(server.url(), {}, payload),
      await sender.send(server.url(), {}, payload),
    ];
    expect(outcomes.map((o) => o.retryAfterMs)).toEqual([null, null, 0]);
  });

  it('times out on a receiver that never answers', async () => {
    const server = await startServer(() => {
      /* never answers */
    });
    const outcome = await makeSender({ timeoutMs: 300 }).send(server.url(), {}, payload);

    expect(outcome).toMatchObject({ ok: false, statusCode: null, error: 'timed out after 300 ms', blocked: false });
    expect(server.requests).toHaveLength(1);
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(250);
    expect(outcome.latencyMs).toBeLessThan(2_000);
  });

  it('keeps the status of a 1 MiB answer and returns only its first 1024 characters', async () => {
    const server = await startServer((_req, res) =>
      res.writeHead(200, { 'content-length': String(1024 * 1024) }).end('x'.repeat(1024 * 1024)),
    );
    const outcome = await makeSender().send(server.url(), {}, payload);
    expect(outcome).toMatchObject({ ok: true, statusCode: 200, error: null, blocked: false });
    expect(outcome.responseBody).toBe('x'.repeat(1024));
  });

  it('stops reading at the bound: a body that would never finish still gives its status, well before the timeout', async () => {
    const server = await startServer((_req, res) => {
      // Announces 1 MiB, sends 192 KiB, then stalls: a sender that read to the end would time out.
      res.writeHead(200, { 'content-length': String(1024 * 1024) });
      res.write(Buffer.alloc(192 * 1024, 'y'));
    });
    const outcome = await makeSender({ timeoutMs: 3_000 }).send(server.url(), {}, payload);

    expect(outcome).toMatchObject({ ok: true, statusCode: 200, error: null });
    expect(outcome.latencyMs).toBeLessThan(2_000);
    expect(outcome.responseBody).toBe('y'.repeat(1024));
    await vi.waitFor(() => expect(server.abandoned).toBe(1));
  });

  it('cut short, a failure status is still a failure', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(500, { 'content-length': String(1024 * 1024) });
      res.write(Buffer.alloc(192 * 1024, 'z'));
    });
    const outcome = await makeSender().send(server.url(), {}, payload);
    expect(outcome).toMatchObject({ ok: false, statusCode: 500, error: 'HTTP 500' });
  });

  it('reports connection refused', async () => {
    const port = await freePort();
    const outcome = await makeSender().send(`http://127.0.0.1:${port}/hook`, {}, payload);
    expect(outcome).toMatchObject({ ok: false, statusCode: null, error: 'connection refused', blocked: false, responseBody: '' });
  });
});

describe('WebhookSender SSRF policy', () => {
  /** A lookup that maps rebind.test (and anything else) to 127.0.0.1, counting its calls. */
  const rebindTo = (addresses: { address: string; family: number }[]) => {
    const calls: string[] = [];
    const lookup: LookupFunction = (hostname, options, callback) => {
      calls.push(hostname);
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]?.address ?? '', addresses[0]?.family);
    };
    return { lookup, calls };
  };

  /** A server on every loopback address this machine has (dual-stack '::' when IPv6 works). */
  const loopbackServer = () => startServer((_req, res) => res.writeHead(204).end(), ipv6 ? '::' : '127.0.0.1');

  const cases: { name: string; host: (port: number) => string; allow: string[]; needsIpv6?: boolean; message: RegExp }[] = [
    {
      name: '127.0.0.1',
      host: (p) => `127.0.0.1:${p}`,
      allow: ['127.0.0.1/32'],
      message: /^blocked: 127\.0\.0\.1 is a loopback address \(not allow-listed\)$/,
    },
    {
      name: '127.1.2.3 (all of 127/8)',
      host: (p) => `127.1.2.3:${p}`,
      allow: ['127.0.0.0/8'],
      message: /127\.1\.2\.3 is a loopback address/,
    },
    {
      name: '2130706433 (decimal 127.0.0.1)',
      host: (p) => `2130706433:${p}`,
      allow: ['127.0.0.1'],
      message: /127\.0\.0\.1 is a loopback address/,
    },
    { name: 'localhost', host: (p) => `localhost:${p}`, allow: ['127.0.0.1/32', '::1/128'], message: /localhost is a loopback host name/ },
    { name: '0.0.0.0', host: (p) => `0.0.0.0:${p}`, allow: ['0.0.0.0/32'], message: /0\.0\.0\.0 is an unspecified address/ },
    { name: '[::1]', host: (p) => `[::1]:${p}`, allow: ['127.0.0.1/32', '::1/128'], needsIpv6: true, message: /::1 is a loopback address/ },
    {
      name: '[::ffff:127.0.0.1]',
      host: (p) => `[::ffff:127.0.0.1]:${p}`,
      allow: ['::ffff:127.0.0.1/128'],
      needsIpv6: true,
      message: /::ffff:7f00:1 is an IPv4-mapped address/,
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.name} without connecting, and reaches it when allow-listed`, async (ctx) => {
      if (c.needsIpv6 && !ipv6) ctx.skip();
      const server = await loopbackServer();
      const url = `http://${c.host(server.port)}/hook`;
      const connect = vi.spyOn(net.Socket.prototype, 'connect');

      const refused = await makeSender({ allowedAddresses: [] }).send(url, {}, payload);
      expect(refused).toMatchObject({ ok: false, statusCode: null, blocked: true, responseBody: '' });
      expect(refused.error).toMatch(c.message);
      expect(connect).not.toHaveBeenCalled();
      expect(server.connections).toBe(0);

      const warn = vi.spyOn(console, 'warn');
      const allowed = await makeSender({ allowedAddresses: c.allow }).send(url, {}, payload);
      expect(allowed).toMatchObject({ ok: true, statusCode: 204, blocked: false });
      expect(server.requests).toHaveLength(1);
      expect(connect).toHaveBeenCalled(); // the spy does see real connections
      // Mixed-family allow-lists must not make request-filtering-agent log "Invalid CIDR" on each connection.
      expect(warn).not.toHaveBeenCalled();
    });
  }

  it('refuses private, link-local and metadata addresses without connecting', async () => {
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    const sender = makeSender({ allowedAddresses: [], timeoutMs: 500 });
    const expected: [string, RegExp][] = [
      ['http://10.0.0.1/hook', /^blocked: 10\.0\.0\.1 is a private address \(not allow-listed\)$/],
      ['http://192.168.1.10/hook', /192\.168\.1\.10 is a private address/],
      ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a link-local address/],
      ['https://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a link-local address/],
      ['http://[fd00::1]/hook', /fd00::1 is a unique-local address/],
      ['http://[fe80::1]/hook', /fe80::1 is a link-local address/],
      ['http://100.64.0.1/hook', /carrier-grade NAT/],
      ['http://app.localhost/hook', /app\.localhost is a loopback host name/],
    ];
    for (const [url, message] of expected) {
      const outcome = await sender.send(url, {}, payload);
      expect(outcome, url).toMatchObject({ ok: false, statusCode: null, blocked: true });
      expect(outcome.error, url).toMatch(message);
    }
    expect(connect).not.toHaveBeenCalled();
  });

  it('refuses a host name that resolves to a loopback address (DNS rebinding), at connect time', async () => {
    const server = await loopbackServer();
    const { lookup, calls } = rebindTo([{ address: '127.0.0.1', family: 4 }]);
    const connect = vi.spyOn(net.Socket.prototype, 'connect');

    // The name itself is acceptable at create time: only the connect-time lookup can tell.
    expect(endpointUrlProblem(`https://rebind.test:${server.port}/hook`, { allowHttp: false, allowedAddresses: [] })).toBeNull();
    const refused = await makeSender({ allowedAddresses: [], lookup }).send(`http://rebind.test:${server.port}/hook`, {}, payload);

    expect(refused).toMatchObject({ ok: false, statusCode: null, blocked: true });
    expect(refused.error).toBe('blocked: rebind.test resolves to 127.0.0.1, a loopback address (not allow-listed)');
    expect(calls).toEqual(['rebind.test']);
    expect(server.connections).toBe(0);
    // The lookup runs inside the socket's connect; what must not happen is a second connect to an address.
    expect(connect.mock.calls.length).toBeLessThanOrEqual(1);

    const allowed = await makeSender({ allowedAddresses: ['127.0.0.1/32'], lookup }).send(
      `http://rebind.test:${server.port}/hook`,
      {},
      payload,
    );
    expect(allowed).toMatchObject({ ok: true, statusCode: 204 });
    expect(server.requests).toHaveLength(1);
  });

  it('refuses a name when any of its addresses is forbidden', async () => {
    const server = await loopbackServer();
    const { lookup } = rebindTo([
      { address: '93.184.215.14', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ]);
    const outcome = await makeSender({ allowedAddresses: [], lookup }).send(`http://rebind.test:${server.port}/hook`, {}, payload);
    expect(outcome).toMatchObject({ blocked: true, statusCode: null });
    expect(outcome.error).toMatch(/rebind\.test resolves to 127\.0\.0\.1/);
    expect(server.connections).toBe(0);
  });

  it('refuses http:// unless allowHttp, and other schemes and bad URLs always', async () => {
    const server = await loopbackServer();
    const sender = makeSender({ allowHttp: false });
    const http = await sender.send(server.url(), {}, payload);
    expect(http).toMatchObject({ ok: false, statusCode: null, blocked: true });
    expect(http.error).toMatch(/^blocked: https is required/);
    expect((await sender.send('ftp://example.com/hook', {}, payload)).error).toMatch(/scheme ftp: is not supported/);
    expect((await sender.send('not a url', {}, payload)).error).toBe('blocked: not a valid URL');
    expect(server.connections).toBe(0);
  });
});

describe('endpointUrlProblem', () => {
  const strict = { allowHttp: false, allowedAddresses: [] };

  it('accepts https URLs with public hosts', () => {
    expect(endpointUrlProblem('https://hooks.example.com/in?x=1', strict)).toBeNull();
    expect(endpointUrlProblem('https://93.184.215.14:8443/hook', strict)).toBeNull();
    expect(endpointUrlProblem('https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook', strict)).toBeNull();
  });

  it('rejects what is not an https URL', () => {
    expect(endpointUrlProblem('hooks.example.com/in', strict)).toBe('not a valid URL');
    expect(endpointUrlProblem('', strict)).toBe('not a valid URL');
    expect(endpointUrlProblem('ftp://hooks.example.com/in', strict)).toMatch(/scheme ftp:/);
    expect(endpointUrlProblem('file:///etc/passwd', strict)).toMatch(/scheme file:/);
    expect(endpointUrlProblem('http://hooks.example.com/in', strict)).toMatch(/https is required/);
    expect(endpointUrlProblem('http://hooks.example.com/in', { ...strict, allowHttp: true })).toBeNull();
  });

  it('rejects credentials in the URL', () => {
    expect(endpointUrlProblem('https://user:secret@hooks.example.com/in', strict)).toMatch(/user name or password/);
    expect(endpointUrlProblem('https://user@hooks.example.com/in', strict)).toMatch(/user name or password/);
  });

  it('rejects literal addresses that are not public unicast, naming them', () => {
    const problems: [string, string][] = [
      ['https://127.0.0.1/', '127.0.0.1 is a loopback address (not allow-listed)'],
      ['https://2130706433/', '127.0.0.1 is a loopback address (not allow-listed)'],
      ['https://0x7f.1/', '127.0.0.1 is a loopback address (not allow-listed)'],
      ['https://10.0.0.1/', '10.0.0.1 is a private address (not allow-listed)'],
      ['https://172.16.5.4/', '172.16.5.4 is a private address (not allow-listed)'],
      ['https://169.254.169.254/', '169.254.169.254 is a link-local address (not allow-listed)'],
      ['https://0.0.0.0/', '0.0.0.0 is an unspecified address (not allow-listed)'],
      ['https://224.0.0.1/', '224.0.0.1 is a multicast address (not allow-listed)'],
      ['https://192.0.2.1/', '192.0.2.1 is a reserved address (not allow-listed)'],
      ['https://[::1]/', '::1 is a loopback address (not allow-listed)'],
      ['https://[::]/', ':: is an unspecified address (not allow-listed)'],
      ['https://[::ffff:127.0.0.1]/', '::ffff:7f00:1 is an IPv4-mapped address (not allow-listed)'],
      ['https://[::ffff:8.8.8.8]/', '::ffff:808:808 is an IPv4-mapped address (not allow-listed)'],
      ['https://[::127.0.0.1]/', '::7f00:1 is an IPv4-compatible address (not allow-listed)'],
      ['https://[fd12:3456::1]/', 'fd12:3456::1 is a unique-local address (not allow-listed)'],
      ['https://[fe80::1]/', 'fe80::1 is a link-local address (not allow-listed)'],
      ['https://[64:ff9b::7f00:1]/', '64:ff9b::7f00:1 is a NAT64 address (not allow-listed)'],
      ['https://[2001:db8::1]/', '2001:db8::1 is a reserved address (not allow-listed)'],
    ];
    for (const [url, problem] of problems) expect(endpointUrlProblem(url, strict), url).toBe(problem);
  });

  it('rejects localhost names unless 127.0.0.1 is allow-listed', () => {
    for (const url of ['https://localhost/', 'https://LOCALHOST./', 'https://api.localhost:8443/']) {
      expect(endpointUrlProblem(url, strict), url).toMatch(/is a loopback host name \(127\.0\.0\.1 is not allow-listed\)/);
      expect(endpointUrlProblem(url, { ...strict, allowedAddresses: ['127.0.0.1/32'] }), url).toBeNull();
    }
  });

  it('accepts allow-listed addresses, each family by its own entries', () => {
    const policy = { allowHttp: true, allowedAddresses: ['127.0.0.1/32', '::1/128', '10.0.0.0/8'] };
    expect(endpointUrlProblem('http://127.0.0.1:3000/hook', policy)).toBeNull();
    expect(endpointUrlProblem('http://[::1]:3000/hook', policy)).toBeNull();
    expect(endpointUrlProblem('http://10.20.30.40/hook', policy)).toBeNull();
    expect(endpointUrlProblem('http://127.0.0.2/hook', policy)).toMatch(/127\.0\.0\.2 is a loopback address/);
    // As for request-filtering-agent: 127.0.0.1/32 does not cover ::ffff:127.0.0.1.
    expect(endpointUrlProblem('http://[::ffff:127.0.0.1]/hook', policy)).toMatch(/IPv4-mapped/);
    expect(endpointUrlProblem('http://[::ffff:127.0.0.1]/hook', { ...policy, allowedAddresses: ['::ffff:0:0/96'] })).toBeNull();
  });

  it('refuses a malformed allow-list rather than guessing', () => {
    expect(() => endpointUrlProblem('https://hooks.example.com/', { allowHttp: false, allowedAddresses: ['localhost'] })).toThrow(
      TypeError,
    );
    expect(() => endpointUrlProblem('https://hooks.example.com/', { allowHttp: false, allowedAddresses: ['10.0.0.0/33'] })).toThrow(
      TypeError,
    );
    expect(() => makeSender({ allowedAddresses: ['::1/129'] })).toThrow(TypeError);
  });
});
