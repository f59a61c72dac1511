import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpProvider, type HttpProviderOptions } from '../../src/providers/http/http-provider.ts';
import { createReferenceProviderServer, listen } from '../../src/providers/http/reference-provider-server.ts';
import { ChallengeRequired, ProviderError, type ProviderContext, type ProviderSession } from '../../src/providers/provider.ts';
import { SandboxProvider } from '../../src/providers/sandbox/sandbox.provider.ts';

// The plug-in provider over real HTTP on loopback: the reference server (the sandbox behind the protocol) and
// HttpProvider, with the sandbox's faults happening for real (a hang, a 503, a 429) and nothing mocked.

const TOKEN = 'plugin-shared-secret';
const PASSWORD = 'hunter2-very-secret';
const NOW = new Date('2025-06-01T12:00:00.000Z');
const sandbox = new SandboxProvider();

let reference: { url: string; close(): Promise<void> };
let provider: HttpProvider;
const client = (options: Partial<HttpProviderOptions> = {}) => new HttpProvider({ baseUrl: reference.url, token: TOKEN, ...options });

beforeAll(async () => {
  reference = await listen(createReferenceProviderServer({ token: TOKEN, timeoutDelayMs: 3_000 }), 0);
  provider = client();
});
afterAll(() => reference.close());

function context(loginId: string, overrides: { reference?: string | null; attempt?: number; name?: string | null } = {}): ProviderContext {
  return {
    institution: { id: 'AU00000', providerKey: 'plug-in', providerUrl: reference.url },
    connection: { id: '0b9c5e0e-7a53-4b0e-9c1f-5f4b2f0e6a11', reference: overrides.reference ?? null, name: overrides.name ?? null },
    credentials: { loginId, password: PASSWORD },
    secretCredentials: ['password'],
    attempt: overrides.attempt ?? 1,
    now: NOW,
  };
}

/** Awaits a call that must fail, and returns what it threw. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await failure(promise);
  expect(error).toBeInstanceOf(ProviderError);
  const e = error as ProviderError;
  // Whatever went wrong, neither the user's password nor the shared token may surface.
  expect(`${e.message} ${JSON.stringify(e.options)}`).not.toContain(PASSWORD);
  expect(`${e.message} ${JSON.stringify(e.options)}`).not.toContain(TOKEN);
  return e;
}

describe('HttpProvider against the reference plug-in server', () => {
  it('verify → accounts → transactions give exactly what the sandbox gives in-process', async () => {
    const ctx = context('alice');
    const session = await provider.verifyCredentials(ctx);
    expect(session).toEqual(await sandbox.verifyCredentials(ctx));
    expect(session.consentExpiresAt).toBeInstanceOf(Date);

    const accounts = await provider.listAccounts(ctx, session);
    expect(accounts).toEqual(await sandbox.listAccounts(ctx));
    expect(accounts).toHaveLength(3);
    for (const a of accounts) expect(a.balance).toMatch(/^-?\d+\.\d{2}$/);

    for (const account of accounts) {
      const all = await provider.listTransactions(ctx, session, account.id, null);
      expect(all).toEqual(await sandbox.listTransactions(ctx, session, account.id, null));
      expect(all.length).toBeGreaterThan(0);
      expect(all[0]!.bookedAt).toBeInstanceOf(Date);
      const since = new Date(NOW.getTime() - 7 * 24 * 3_600_000);
      const recent = await provider.listTransactions(ctx, session, account.id, since);
      expect(recent).toEqual(await sandbox.listTransactions(ctx, session, account.id, since));
      expect(recent.length).toBeLessThan(all.length);
    }
    await expect(provider.revoke(ctx, session)).resolves.toBeUndefined();
    await expect(provider.revoke(ctx, null)).resolves.toBeUndefined();
  });

  it('the large user (25 accounts) comes through intact', async () => {
    const ctx = context('large');
    const session = await provider.verifyCredentials(ctx);
    const accounts = await provider.listAccounts(ctx, session);
    expect(accounts).toHaveLength(25);
    const last = accounts[24]!;
    expect(await provider.listTransactions(ctx, session, last.id, null)).toEqual(
      await sandbox.listTransactions(ctx, session, last.id, null),
    );
  });

  it('rejected credentials are invalid-credentials, without the password in the error', async () => {
    const e = await providerError(provider.verifyCredentials(context('invalid')));
    expect(e.kind).toBe('invalid-credentials');
    expect(e.options.code).toBe('invalid-credentials');
  });

  it('a challenge arrives as ChallengeRequired (510); the right answer gives a session, a wrong one challenge-failed', async () => {
    const ctx = context('challenge');
    const error = await failure(provider.verifyCredentials(ctx));
    expect(error).toBeInstanceOf(ChallengeRequired);
    const { challenge } = error as ChallengeRequired;
    expect(challenge.type).toBe('TEXT');
    expect(challenge.expiresAt).toBeInstanceOf(Date);
    expect(challenge.expiresAt.getTime()).toBe(NOW.getTime() + 5 * 60_000);

    const session = await provider.answerChallenge(ctx, challenge, '123456');
    expect(session).toEqual(await sandbox.answerChallenge(ctx, challenge, '123456'));

    const wrong = await providerError(provider.answerChallenge(ctx, challenge, '000000'));
    expect(wrong.kind).toBe('challenge-failed');
    expect(wrong.options.code).toBe('challenge-failed');
  });

  it('consent-expired and revoked on a later refresh keep their kinds', async () => {
    for (const kind of ['consent-expired', 'revoked'] as const) {
      const e = await providerError(provider.verifyCredentials(context(kind, { reference: 'sbx-conn-existing' })));
      expect(e.kind).toBe(kind);
      expect(e.options.code).toBe(kind);
    }
  });

  it('a provider that hangs is a transient provider-timeout as soon as the client gives up', async () => {
    const e = await providerError(client({ timeoutMs: 300 }).verifyCredentials(context('timeout')));
    expect(e.kind).toBe('transient');
    // The client's own timeout decided (the server would have answered a 504, provider-unavailable, after 3 s).
    expect(e.options.code).toBe('provider-timeout');
    expect(e.options.attributes).toEqual({ operation: 'verify', event: 'request', timeoutMs: 300 });
  });

  it('flaky: a real 503 is transient provider-unavailable on attempt 1, and attempt 3 succeeds', async () => {
    const e = await providerError(provider.verifyCredentials(context('flaky', { attempt: 1 })));
    expect(e.kind).toBe('transient');
    expect(e.options.code).toBe('provider-unavailable');
    expect(e.options.attributes).toMatchObject({ status: 503, operation: 'verify' });
    const session = await provider.verifyCredentials(context('flaky', { attempt: 3 }));
    expect(session.reference).toMatch(/^sbx-conn-/);
  });

  it('rate-limited: a real 429 becomes rate-limited with Retry-After in ms; attempt 3 succeeds', async () => {
    const e = await providerError(provider.verifyCredentials(context('rate-limited', { attempt: 1 })));
    expect(e.kind).toBe('rate-limited');
    expect(e.options.code).toBe('rate-limited');
    expect(e.options.retryAfterMs).toBe(1_000);
    await expect(provider.verifyCredentials(context('rate-limited', { attempt: 3 }))).resolves.toMatchObject({ providerStatus: 'active' });
  });

  it('nothing listening is a transient provider-unreachable', async () => {
    const port = await closedPort();
    const e = await providerError(
      new HttpProvider({ baseUrl: `http://127.0.0.1:${port}`, token: TOKEN }).verifyCredentials(context('alice')),
    );
    expect(e.kind).toBe('transient');
    expect(e.options.code).toBe('provider-unreachable');
  });

  it('a wrong or missing token is permanent unauthorized, never invalid-credentials', async () => {
    for (const token of ['not-the-token', undefined]) {
      const e = await providerError(client({ token }).verifyCredentials(context('alice')));
      expect(e.kind).toBe('permanent');
      expect(e.options.code).toBe('unauthorized');
    }
  });

  it('the reference server answers bad requests with 400 and a typed body that repeats no values', async () => {
    const res = await fetch(`${reference.url}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ ...context('alice'), now: 'yesterday', credentials: { loginId: 'alice', password: 42 } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body).toMatchObject({ error: { kind: 'permanent', code: 'bad-request' } });
    expect(body.error.message).toContain('now');
    expect(body.error.message).not.toContain('yesterday');

    const big = await fetch(`${reference.url}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ padding: 'x'.repeat(1024 * 1024) }),
    });
    expect(big.status).toBe(413);
    expect((await fetch(`${reference.url}/v1/nope`, { method: 'POST' })).status).toBe(404);
  });
});

describe('HttpProvider against a provider that breaks the protocol', () => {
  // One tiny server; each test sets what it answers.
  let answer: (req: IncomingMessage, res: ServerResponse) => void;
  let broken: { url: string; close(): Promise<void> };
  let brokenClient: HttpProvider;
  beforeAll(async () => {
    broken = await listen(
      createServer((req, res) => answer(req, res)),
      0,
    );
    brokenClient = new HttpProvider({ baseUrl: broken.url, token: TOKEN, maxResponseBytes: 64 * 1024 });
  });
  beforeEach(() => {
    answer = (_req, res) => res.writeHead(500).end();
  });
  afterAll(() => broken.close());

  const json =
    (status: number, body: string, headers: Record<string, string> = {}) =>
    (_req: IncomingMessage, res: ServerResponse) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);

  it('a 200 whose body is not JSON is permanent bad-provider-response (a plug-in bug; retrying repeats it)', async () => {
    answer = json(200, '{"reference": "abc", ');
    const e = await providerError(brokenClient.verifyCredentials(context('alice')));
    expect(e.kind).toBe('permanent');
    expect(e.options.code).toBe('bad-provider-response');
    expect(e.options.attributes).toMatchObject({ operation: 'verify', status: 200 });
  });

  it('JSON that breaks the schema (a float balance) is bad-provider-response too', async () => {
    const account = { id: 'a1', name: 'Everyday', type: 'transaction', currency: 'AUD', balance: 12.3, availableBalance: null };
    answer = json(200, JSON.stringify({ accounts: [account] }));
    const e = await providerError(brokenClient.listAccounts(context('alice'), session()));
    expect(e.kind).toBe('permanent');
    expect(e.options.code).toBe('bad-provider-response');
    expect(e.message).toContain('accounts.0.balance');
  });

  it('transactions of another account, or a repeated id, are refused', async () => {
    const tx = {
      id: 't1',
      accountId: 'a1',
      amount: '-1.00',
      currency: 'AUD',
      description: 'x',
      bookedAt: NOW.toISOString(),
      status: 'posted',
    };
    answer = json(200, JSON.stringify({ transactions: [tx, { ...tx, accountId: 'a2', id: 't2' }] }));
    expect((await providerError(brokenClient.listTransactions(context('alice'), session(), 'a1', null))).options.code).toBe(
      'bad-provider-response',
    );
    answer = json(200, JSON.stringify({ transactions: [tx, tx] }));
    expect((await providerError(brokenClient.listTransactions(context('alice'), session(), 'a1', null))).options.code).toBe(
      'bad-provider-response',
    );
  });

  it('a body beyond maxResponseBytes is refused without reading it all', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"accounts":[');
      // Chunked, no content-length: the bound must hold while streaming.
      const chunk = `${JSON.stringify({ id: 'a', name: 'x'.repeat(1000), type: 'transaction', currency: 'AUD', balance: '1.00', availableBalance: null })},`;
      const timer = setInterval(() => res.write(chunk.repeat(10)), 1);
      res.on('close', () => clearInterval(timer));
    };
    const streamed = await providerError(brokenClient.listAccounts(context('alice'), session()));
    expect([streamed.kind, streamed.options.code]).toEqual(['permanent', 'bad-provider-response']);

    // Announced by content-length: refused on the headers.
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 10 * 1024 * 1024 });
      res.write('{"accounts":[');
    };
    const announced = await providerError(brokenClient.listAccounts(context('alice'), session()));
    expect([announced.kind, announced.options.code]).toEqual(['permanent', 'bad-provider-response']);
    expect(announced.message).toContain('exceeds');
  });

  it('a 502 HTML page from a proxy is transient provider-unavailable; a bare 401 is unauthorized', async () => {
    answer = (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
    const gateway = await providerError(brokenClient.verifyCredentials(context('alice')));
    expect([gateway.kind, gateway.options.code, gateway.options.attributes?.status]).toEqual(['transient', 'provider-unavailable', 502]);

    answer = (_req, res) => res.writeHead(401).end();
    const bare = await providerError(brokenClient.verifyCredentials(context('alice')));
    expect([bare.kind, bare.options.code]).toEqual(['permanent', 'unauthorized']);
  });

  it('Retry-After as an HTTP date is honoured; a 429 without one waits 30 s', async () => {
    const at = new Date(Date.now() + 120_000);
    at.setMilliseconds(0);
    answer = json(429, '{}', { 'retry-after': at.toUTCString() });
    const dated = await providerError(brokenClient.verifyCredentials(context('alice')));
    expect(dated.kind).toBe('rate-limited');
    expect(dated.options.retryAfterMs).toBeGreaterThan(110_000);
    expect(dated.options.retryAfterMs).toBeLessThanOrEqual(120_000);

    answer = json(429, '');
    expect((await providerError(brokenClient.verifyCredentials(context('alice')))).options.retryAfterMs).toBe(30_000);

    // A hostile wait is capped at a day, as seconds or as a date: no job waits for ever, no date overflows.
    for (const header of ['99999999999999', 'Fri, 31 Dec 9999 23:59:59 GMT']) {
      answer = json(429, '', { 'retry-after': header });
      expect((await providerError(brokenClient.verifyCredentials(context('alice')))).options.retryAfterMs).toBe(86_400_000);
    }
  });

  it('a provider that repeats the password in its error message has it redacted', async () => {
    answer = (req, res) => {
      let raw = '';
      req
        .on('data', (d) => (raw += d))
        .on('end', () => {
          const { credentials } = JSON.parse(raw);
          const body = {
            error: {
              kind: 'invalid-credentials',
              code: 'bad-login',
              message: `password ${credentials.password} rejected`,
              attributes: { tried: credentials.password },
            },
          };
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        });
    };
    const e = await providerError(brokenClient.verifyCredentials(context('alice')));
    expect(e.kind).toBe('invalid-credentials');
    expect(e.options.code).toBe('bad-login');
    expect(e.message).toBe('password [redacted] rejected');
    expect(e.options.attributes).toEqual({ tried: '[redacted]' });
  });

  /** A provider that echoes the request body's secrets back in whatever it answers. */
  const echoing =
    (status: number, build: (request: { credentials: Record<string, string>; response?: string }) => unknown) =>
    (req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req
        .on('data', (d) => (raw += d))
        .on('end', () => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(build(JSON.parse(raw))));
        });
    };
  const leaks = (value: unknown) => JSON.stringify(value).includes(PASSWORD) || JSON.stringify(value).includes(TOKEN);

  it('a credential in an attribute name is redacted, and NUL is dropped from what is kept', async () => {
    answer = echoing(422, ({ credentials }) => ({
      error: { kind: 'permanent', code: 'nope', message: 'no\u0000pe', attributes: { [`pw:${credentials.password}`]: 'x', token: TOKEN } },
    }));
    const e = await providerError(brokenClient.verifyCredentials(context('alice')));
    expect(e.message).toBe('nope');
    expect(e.options.attributes).toEqual({ 'pw:[redacted]': 'x', token: '[redacted]' });
  });

  it("a challenge's message and id never carry a credential", async () => {
    answer = echoing(510, ({ credentials }) => ({
      challenge: {
        id: `ch-${credentials.password}`,
        message: `Enter the code sent for ${credentials.password}`,
        type: 'TEXT',
        expiresAt: NOW.toISOString(),
      },
    }));
    const thrown = await failure(brokenClient.verifyCredentials(context('alice')));
    expect(thrown).toBeInstanceOf(ChallengeRequired);
    const { challenge } = thrown as ChallengeRequired;
    expect(challenge).toMatchObject({ id: 'ch-[redacted]', message: 'Enter the code sent for [redacted]' });
    expect(leaks(challenge)).toBe(false);
  });

  it('"id appears twice" names the id as redacted, and account data is redacted too', async () => {
    answer = echoing(200, ({ credentials }) => {
      const account = {
        id: `acc-${credentials.password}`,
        name: `Account of ${credentials.password}`,
        type: 'transaction',
        currency: 'AUD',
        balance: '1.00',
        availableBalance: null,
      };
      return { accounts: [account, account] };
    });
    const e = await providerError(brokenClient.listAccounts(context('alice'), session()));
    expect(e.message).toContain('"acc-[redacted]" appears twice');
    answer = echoing(200, ({ credentials }) => ({
      accounts: [
        {
          id: 'a1',
          name: `Account of ${credentials.password}`,
          type: 'transaction',
          currency: 'AUD',
          balance: '1.00',
          availableBalance: null,
        },
      ],
    }));
    const accounts = await brokenClient.listAccounts(context('alice'), session());
    expect(accounts[0]!.name).toBe('Account of [redacted]');
  });

  it('a challenge answer the provider repeats is redacted', async () => {
    const challenge = { id: 'c1', message: 'Code?', type: 'TEXT' as const, expiresAt: NOW };
    answer = echoing(401, ({ response }) => ({
      error: { kind: 'challenge-failed', code: 'wrong-code', message: `code ${response} is wrong`, attributes: { given: response! } },
    }));
    const e = await providerError(brokenClient.answerChallenge(context('alice'), challenge, '918273'));
    expect(e.message).toBe('code [redacted] is wrong');
    expect(e.options.attributes).toEqual({ given: '[redacted]' });
  });

  it('a session whose reference repeats a credential is stored redacted; its token goes back unchanged', async () => {
    answer = echoing(200, ({ credentials }) => ({
      reference: `ref-${credentials.password}`,
      providerStatus: `ok ${credentials.password}`,
      consentExpiresAt: null,
      token: `t-${credentials.password}`,
      userInfo: null,
    }));
    const got = await brokenClient.verifyCredentials(context('alice'));
    expect([got.reference, got.providerStatus]).toEqual(['ref-[redacted]', 'ok [redacted]']);
    expect(got.token).toBe(`t-${PASSWORD}`);
  });

  it('values past what the service can store are a protocol error, not a failed write', async () => {
    const account = { id: 'a'.repeat(256), name: 'x', type: 'transaction', currency: 'AUD', balance: '1.00', availableBalance: null };
    answer = json(200, JSON.stringify({ accounts: [account] }));
    expect((await providerError(brokenClient.listAccounts(context('alice'), session()))).options.code).toBe('bad-provider-response');
    answer = json(200, JSON.stringify({ accounts: [{ ...account, id: 'a1', balance: '12345678901234567.00' }] }));
    expect((await providerError(brokenClient.listAccounts(context('alice'), session()))).options.code).toBe('bad-provider-response');
    answer = json(
      200,
      JSON.stringify({ reference: 'r', providerStatus: 's'.repeat(65), consentExpiresAt: null, token: 't', userInfo: null }),
    );
    expect((await providerError(brokenClient.verifyCredentials(context('alice')))).options.code).toBe('bad-provider-response');
  });

  it('a redirect is not followed', async () => {
    answer = (_req, res) => res.writeHead(307, { location: `${reference.url}/v1/verify` }).end();
    const e = await providerError(brokenClient.verifyCredentials(context('alice')));
    expect([e.kind, e.options.code, e.options.attributes?.status]).toEqual(['permanent', 'bad-provider-response', 307]);
  });
});

function session(): ProviderSession {
  return { reference: 'ref-1', providerStatus: 'active', consentExpiresAt: null, token: 'tok', userInfo: null };
}

/** A loopback port that was free a moment ago, with nothing listening on it now. */
async function closedPort(): Promise<number> {
  const probe: Server = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
