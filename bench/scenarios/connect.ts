import { CHROMIUM_PATH, launchChromium } from '../../test/helpers/browser.ts';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Browser, Page, Request } from 'playwright-core';
import { createConnectSessionInput } from '../../src/connect/connect-session.schemas.ts';
import { SANDBOX_CHALLENGE_ANSWER } from '../../src/providers/sandbox/sandbox-script.ts';
import { freePort } from '../../test/helpers/free-port.ts';
import { inProcessService } from '../lib/in-process.ts';
import { classifyPage, HttpPageWalker, isThirdParty, type PageView } from '../lib/page-weight.ts';
import { startProcess, waitReady } from '../lib/process.ts';
import { percentile, round, type Scenario } from '../lib/types.ts';

/**
 * Connect pages: the hosted flow for a sandbox bank, as the user's browser gets it. One walk through every page with
 * the browser's cache off (start, bank choice, credentials, progress, the bank's one-time code, success; then an
 * expired link and an unknown one): requests, bytes received and third-party requests per page view. Then N flows
 * with the cache on (a fresh browser context each), timed from pressing Connect on the credentials form to the
 * success page being shown. In real Chromium when there is one; otherwise over plain HTTP (the fallback says so).
 */

/** The issue's target: the heaviest page view, in KB of 1,000 bytes. */
const MAX_PAGE_KB = 100;
/** A sandbox bank with a credentials form and, for loginId "challenge", a one-time code (SANDBOX_SCRIPTS). */
const BANK = { id: 'AU00000', name: 'Hooli Bank (Sandbox)' };
const FLOW_TIMEOUT_MS = 60_000;

export const connect: Scenario = async (ctx) => {
  const trials = ctx.quick ? 5 : 20;
  const db = await ctx.database('connect');
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const service = startProcess('src/main.ts', {
    NODE_ENV: 'production',
    // The pages, and the worker that runs the sessions' jobs, in one process, as `npm start` runs by default.
    ROLES: 'api,worker',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: origin,
    DATABASE_URL: db.url,
    CREDENTIALS_KEYS: ctx.credentialKeysEnv,
    CREATE_DEMO_APP: 'false',
    SANDBOX_INSTITUTIONS: 'true',
    RATE_LIMITS: 'false',
    LOG_LEVEL: 'warn',
  });
  let domain: Awaited<ReturnType<typeof inProcessService>> | null = null;
  let browser: Browser | null = null;
  try {
    await waitReady(service, origin);
    // After the service is up: both seed the sandbox institutions on start.
    domain = await inProcessService(db.url, ctx.credentialKeysEnv);
    const { deps, services } = domain;
    const { app } = await services.apps.create('Connect Bench');
    let n = 0;
    /** A session's URL on this service (the in-process domain knows the token; the path is what matters). */
    const session = async (input: { institutionId?: string } = {}) => {
      const { id, url } = await services.connectSessions.create(
        app.id,
        createConnectSessionInput.parse({ userId: `connect-bench-${++n}`, ...input }),
      );
      return { id, url: `${origin}${new URL(url).pathname}` };
    };
    const expire = (id: string) =>
      deps.db.query(`UPDATE connect_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, [id]);

    const notes: string[] = [];
    let cold: PageView[];
    const warm: PageView[][] = [];
    const times: number[] = [];
    /** The part of each timed flow that is the session's job: queued (by the credentials post) to finished. */
    const jobTimes: number[] = [];
    const jobMs = async (sessionId: string) => {
      const [row] = (await deps.db.query(
        `SELECT extract(epoch FROM j.finished_at - j.created_at) * 1000 AS ms FROM connect_sessions s JOIN jobs j ON j.id = s.job_id WHERE s.id = $1`,
        [sessionId],
      )) as { ms: string }[];
      return Number(row?.ms ?? NaN);
    };
    // A Chromium that is there but will not start is reported, and the fallback measures instead.
    const launched = existsSync(CHROMIUM_PATH)
      ? await launchChromium().then(
          (b) => ({ browser: b, error: null }),
          (error: unknown) => ({ browser: null, error: error instanceof Error ? error.message.split('\n')[0]! : String(error) }),
        )
      : { browser: null, error: null };
    browser = launched.browser;
    const launchError = launched.error;
    if (browser) {
      ctx.log(`connect: Chromium (${CHROMIUM_PATH}, ${browser.version()}); the walk with the cache off`);
      cold = await browserWalk(browser, origin, session, expire);
      ctx.log(`connect: ${trials} timed flows, cache on, a fresh browser context each`);
      for (let i = 0; i < trials; i++) {
        const s = await session({ institutionId: BANK.id });
        const flow = await browserTimedFlow(browser, origin, s, `user-${i}`);
        times.push(flow.ms);
        warm.push(flow.views);
        jobTimes.push(await jobMs(s.id));
      }
      notes.push(
        `Chromium ${browser.version()} (${CHROMIUM_PATH}) through playwright-core, headless, a fresh profile and browser context per flow. Bytes are Chromium's own count for each request (response headers + body as received: Request.sizes()); a page view is its document (with the 303 of the form post that led to it) and every request made until the next one, connect.js's status polls included.`,
      );
    } else {
      ctx.log(`connect: no Chromium${launchError ? ` (${launchError})` : ` at ${CHROMIUM_PATH}`}: the HTTP fallback`);
      cold = await httpWalk(origin, session, expire);
      for (let i = 0; i < trials; i++) {
        const s = await session({ institutionId: BANK.id });
        const flow = await httpTimedFlow(origin, s, `user-${i}`);
        times.push(flow.ms);
        warm.push(flow.views);
        jobTimes.push(await jobMs(s.id));
      }
      notes.push(
        `FALLBACK, no browser: ${launchError ? `Chromium at ${CHROMIUM_PATH} would not start (${launchError})` : `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or CHROMIUM_PATH)`}. Each page view is its HTML fetched over HTTP plus every same-origin asset its link, script and img elements reference (fetched for every page, as with a cache off); a reference to another host counts as a third-party request. Header bytes are the status line and header block as HTTP/1.1 sends them. The timing posts the credentials and then polls the status URL as connect.js does (700 ms, then every 1 s, the page fetched again when its version changes) until the success page.`,
      );
    }

    const ascending = (values: number[]) => [...values].sort((a, b) => a - b);
    const sorted = ascending(times);
    const jobSorted = ascending(jobTimes);
    const kb = (v: PageView) => v.requests.reduce((s, r) => s + r.bytes, 0) / 1000;
    const thirdParty = [cold, ...warm].flat().flatMap((v) => v.requests.filter((r) => r.thirdParty));
    const heaviest = cold.reduce((a, b) => (kb(b) > kb(a) ? b : a));
    const median = (values: number[]) => percentile(ascending(values), 50);
    const warmKb = median(warm.map((f) => f.reduce((s, v) => s + kb(v), 0)));
    const warmRequests = median(warm.map((f) => f.reduce((s, v) => s + v.requests.length, 0)));
    ctx.log(
      `connect: heaviest page ${heaviest.page} ${kb(heaviest).toFixed(1)} KB; ${thirdParty.length} third-party requests; submit → success p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms (the job p50 ${percentile(jobSorted, 50).toFixed(0)} ms)`,
    );
    if (thirdParty.length) notes.push(`Third-party requests: ${[...new Set(thirdParty.map((r) => r.url))].join(', ')}.`);
    notes.push(
      `The walk: a session without a bank, ${BANK.name} chosen from the list, loginId "challenge" (the sandbox asks for a one-time code), then an expired session's link and an unknown one. The timed flows: a session for ${BANK.id} (the bank step skipped), loginId user-<n> (imports at once), from pressing Connect to the success page; most of that time is connect.js's polling cadence (first poll after 700 ms, then every second) and the job itself. KB are 1,000 bytes. Sessions are created through the connect session service in the bench process, on the service's database.`,
    );

    const rows: Record<string, string | number>[] = [
      ...cold.map((v) => ({
        page: v.page,
        requests: v.requests.length,
        'KB received': round(kb(v), 1),
        'of which the HTML (KB)': round(v.requests.filter((r) => r.document).reduce((s, r) => s + r.bytes, 0) / 1000, 1),
        'third-party requests': v.requests.filter((r) => r.thirdParty).length,
      })),
      {
        page: `whole timed flow, ${browser ? 'cache on' : 'no cache (fallback)'} (median of ${trials})`,
        requests: warmRequests,
        'KB received': round(warmKb, 1),
        'third-party requests': warm.flat().flatMap((v) => v.requests.filter((r) => r.thirdParty)).length,
      },
      {
        page: `submit credentials → success shown (${trials} flows)`,
        'p50 (ms)': round(percentile(sorted, 50), 0),
        'p99 (ms)': round(percentile(sorted, 99), 0),
        'max (ms)': round(sorted.at(-1)!, 0),
      },
      {
        page: `of which the job, queued → finished (${trials} flows)`,
        'p50 (ms)': round(percentile(jobSorted, 50), 0),
        'p99 (ms)': round(percentile(jobSorted, 99), 0),
        'max (ms)': round(jobSorted.at(-1)!, 0),
      },
    ];
    return {
      id: 'connect',
      title: '8. Connect pages',
      rows,
      ratios: [
        { name: 'connect: max page weight (KB), cache off', value: kb(heaviest), target: { op: '<=', value: MAX_PAGE_KB } },
        { name: 'connect: third-party requests, all pages', value: thirdParty.length, target: { op: '<=', value: 0 } },
        { name: 'connect: submit credentials to success shown, p50 (s)', value: percentile(sorted, 50) / 1000 },
        { name: 'connect: submit credentials to success shown, p99 (s)', value: percentile(sorted, 99) / 1000 },
      ],
      latencies: [{ label: 'connect: submit credentials → success page', samplesMs: sorted }],
      peakRssMb: { 'connect (api + worker process)': service.peakRssMb() ?? 0 },
      notes,
    };
  } finally {
    await browser?.close();
    await service.stop();
    await domain?.close();
  }
};

type NewSession = (input?: { institutionId?: string }) => Promise<{ id: string; url: string }>;

/**
 * Records every request the page makes while `drive` runs, grouped into page views: a main-frame navigation starts
 * one (the request it redirected from, a form post's 303, stays in it), every other request joins the current one.
 */
async function recordViews(page: Page, origin: string, drive: () => Promise<void>): Promise<PageView[]> {
  const requests: Request[] = [];
  const documents = new Map<Request, Promise<string>>();
  page.on('request', (r) => void requests.push(r));
  page.on('response', (res) => {
    const r = res.request();
    if (r.isNavigationRequest() && r.frame() === page.mainFrame() && (res.status() < 300 || res.status() >= 400))
      documents.set(
        r,
        res.text().catch(() => ''),
      );
  });
  await drive();
  await page.waitForLoadState('networkidle');
  const views: { first: Request; last: Request; requests: Request[] }[] = [];
  for (const r of requests) {
    const starts = r.isNavigationRequest() && r.frame() === page.mainFrame();
    if (starts && r.redirectedFrom() && views.at(-1)) {
      views.at(-1)!.last = r;
      views.at(-1)!.requests.push(r);
    } else if (starts || !views.length) views.push({ first: r, last: r, requests: [r] });
    else views.at(-1)!.requests.push(r);
  }
  return Promise.all(
    views.map(async (v) => ({
      page: classifyPage((await documents.get(v.last)) ?? ''),
      requests: await Promise.all(
        v.requests.map(async (r) => {
          const sizes = await r.sizes().catch(() => null);
          return {
            url: r.url(),
            bytes: sizes ? sizes.responseHeadersSize + sizes.responseBodySize : 0,
            thirdParty: isThirdParty(r.url(), origin),
            document: r === v.last,
          };
        }),
      ),
    })),
  );
}

async function browserWalk(
  browser: Browser,
  origin: string,
  session: NewSession,
  expire: (id: string) => Promise<unknown>,
): Promise<PageView[]> {
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(FLOW_TIMEOUT_MS);
    // The cache off: every page view is measured as a first visit would be.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    const { url } = await session();
    const expired = await session();
    await expire(expired.id);
    return await recordViews(page, origin, async () => {
      await page.goto(url);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: BANK.name }).click();
      await page.getByLabel('Login ID').fill('challenge');
      await page.getByLabel('Password').fill(`pw-${randomBytes(6).toString('hex')}`);
      await page.getByRole('button', { name: 'Connect' }).click();
      await page.getByLabel(/one-time code/).fill(SANDBOX_CHALLENGE_ANSWER);
      await page.getByRole('button', { name: 'Submit' }).click();
      await page.locator('body[data-done="true"]').waitFor();
      await page.waitForLoadState('networkidle');
      await page.goto(expired.url);
      await page.goto(`${origin}/connect/${randomBytes(32).toString('base64url')}`);
    });
  } finally {
    await context.close();
  }
}

async function browserTimedFlow(
  browser: Browser,
  origin: string,
  { url }: { url: string },
  loginId: string,
): Promise<{ ms: number; views: PageView[] }> {
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(FLOW_TIMEOUT_MS);
    let ms = 0;
    const views = await recordViews(page, origin, async () => {
      await page.goto(url);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Login ID').fill(loginId);
      await page.getByLabel('Password').fill(`pw-${randomBytes(6).toString('hex')}`);
      const t0 = performance.now();
      await page.getByRole('button', { name: 'Connect' }).click();
      await page.getByRole('heading', { level: 1, name: 'Connected' }).waitFor();
      ms = performance.now() - t0;
    });
    return { ms, views };
  } finally {
    await context.close();
  }
}

/** The fallback's progress page: connect.js's polling, done by hand, until `until` says the page is the one wanted. */
async function followProgress(walker: HttpPageWalker, url: string, html: string, until: (page: string) => boolean): Promise<string> {
  const deadline = Date.now() + FLOW_TIMEOUT_MS;
  let wait = 700;
  while (!until(classifyPage(html))) {
    const version = /data-version="([^"]+)"/.exec(html)?.[1];
    if (!version) throw new Error(`the flow stopped at ${classifyPage(html)}`);
    if (Date.now() > deadline) throw new Error(`timed out on ${classifyPage(html)}`);
    await new Promise((r) => setTimeout(r, wait));
    wait = 1000;
    if ((await walker.status(url)).version !== version) {
      html = await walker.open(url);
      wait = 700;
    }
  }
  return html;
}

async function httpWalk(origin: string, session: NewSession, expire: (id: string) => Promise<unknown>): Promise<PageView[]> {
  const walker = new HttpPageWalker(origin);
  const { url } = await session();
  await walker.open(url);
  await walker.post(url, 'consent', {});
  await walker.post(url, 'bank', { institutionId: BANK.id });
  const progress = await walker.post(url, 'credentials', {
    cred_loginId: 'challenge',
    cred_password: `pw-${randomBytes(6).toString('hex')}`,
  });
  await followProgress(walker, url, progress, (p) => p === 'challenge' || p === 'success');
  const after = await walker.post(url, 'challenge', { response: SANDBOX_CHALLENGE_ANSWER });
  await followProgress(walker, url, after, (p) => p === 'success');
  const expired = await session();
  await expire(expired.id);
  await walker.open(expired.url);
  await walker.open(`${origin}/connect/${randomBytes(32).toString('base64url')}`);
  return walker.views;
}

async function httpTimedFlow(origin: string, { url }: { url: string }, loginId: string): Promise<{ ms: number; views: PageView[] }> {
  const walker = new HttpPageWalker(origin);
  await walker.open(url);
  await walker.post(url, 'consent', {});
  const t0 = performance.now();
  const progress = await walker.post(url, 'credentials', { cred_loginId: loginId, cred_password: `pw-${randomBytes(6).toString('hex')}` });
  await followProgress(walker, url, progress, (p) => p === 'success');
  return { ms: performance.now() - t0, views: walker.views };
}
