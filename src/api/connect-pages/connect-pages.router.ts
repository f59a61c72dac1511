import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import express, { type Request, type Response, type Router } from 'express';
import type { ConnectSettings } from '../../connect/connect-settings.ts';
import { effectiveStatus, isFinished } from '../../connect/connect-session.presenter.ts';
import type { ConnectPageModel } from '../../connect/connect-session.service.ts';
import { AppError, ErrorCode } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { bankAuthorizePage, bankDecision, type BankAnswer } from '../../providers/sandbox/sandbox-bank.ts';
import type { Services } from '../../services.ts';
import {
  bankPage,
  consentPage,
  donePage,
  messagePage,
  progressPage,
  progressVersion,
  signInPage,
  type FieldErrors,
  type PageContext,
  type Rendered,
} from './connect-pages.render.ts';
import { chooseLocale, translator } from './i18n.ts';

/** The service's own stylesheet and script, read once: no build step, no third-party files. */
const ASSETS: Record<string, { type: string; body: Buffer }> = {
  'connect.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('./assets/connect.css', import.meta.url)) },
  'connect.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('./assets/connect.js', import.meta.url)) },
};

/** A finished session reopened later than this shows that its link was used, and sends the user nowhere. */
const REOPENED_AFTER_MS = 5 * 60_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The forms' synchronizer token: derived from the session's own secret, so it is right only for that session. */
const csrfFor = (token: string) => createHash('sha256').update(`csrf:${token}`).digest('base64url').slice(0, 32);

function sameToken(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The hosted pages of Hosted Connect, at `/connect/<token>`, and the bank's way back (`/connect/callback`), plus the
 * sandbox bank's sign-in page (`/sandbox/bank/authorize`). Transport only: every decision is the connect session
 * service's. The pages send a strict Content-Security-Policy, may be framed only by the app's registered origins,
 * send no Referer (the URL carries the session's secret), and every form carries a CSRF token and must come from
 * the service's own origin.
 */
export function connectPagesRouter({
  services,
  settings,
  logger,
}: {
  services: Services;
  settings: ConnectSettings;
  logger: Logger;
}): Router {
  const router = express.Router();
  const forms = express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 100 });
  const svc = services.connectSessions;

  router.get('/connect/assets/:file', (req, res) => {
    const asset = ASSETS[req.params.file as string];
    if (!asset) return void res.status(404).end();
    res.setHeader('content-type', asset.type);
    res.setHeader('cache-control', 'public, max-age=3600');
    res.setHeader('x-content-type-options', 'nosniff');
    res.end(asset.body);
  });

  // The bank sends the user back here: the job waiting for that state goes on, and the user returns to the session.
  router.get('/connect/callback', async (req, res) => {
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    const locale = chooseLocale(null, req.headers['accept-language']);
    const t = translator(locale);
    try {
      const done = await svc.completeRedirect(query);
      if (done?.sessionUrl) return res.redirect(303, done.sessionUrl);
      // A job without a session (an app with screens of its own): the job goes on; the app shows what follows.
      send(
        res,
        done
          ? messagePage({ t, locale }, 200, 'backFromBankTitle', 'backFromBankText')
          : messagePage({ t, locale }, 400, 'notFoundTitle', 'notFoundText'),
        [],
      );
    } catch (error) {
      fail(res, error, t);
    }
  });

  router.get('/sandbox/bank/authorize', (req, res) =>
    sendBank(res, bankAuthorizePage(new URLSearchParams(queryOf(req)), '/sandbox/bank/authorize')),
  );
  router.post('/sandbox/bank/authorize', forms, (req, res) =>
    sendBank(res, bankDecision(new URLSearchParams(req.body as Record<string, string>))),
  );

  router.get('/connect/:token', async (req, res) => {
    const token = req.params.token as string;
    const locale = chooseLocale(null, req.headers['accept-language']);
    try {
      const model = TOKEN.test(token) ? await svc.open(token) : null;
      if (!model) return send(res, messagePage({ t: translator(locale), locale }, 404, 'notFoundTitle', 'notFoundText'), []);
      const ctx = pageContext(req, token, model);
      const q = typeof req.query.q === 'string' ? req.query.q.slice(0, 100) : '';
      send(res, await pageFor(ctx, q), model.app.redirectOrigins);
    } catch (error) {
      fail(res, error, translator(locale));
    }
  });

  router.get('/connect/:token/status', async (req, res) => {
    const token = req.params.token as string;
    try {
      const model = TOKEN.test(token) ? await svc.poll(token) : null;
      res.setHeader('cache-control', 'no-store');
      if (!model) return void res.status(404).json({ status: 'not-found' });
      const now = model.now;
      const challenge = model.job?.status === 'awaiting-challenge' ? model.job.challenge : null;
      res.json({
        status: effectiveStatus(model.session, now),
        step: model.session.step,
        version: progressVersion(model, now),
        ...(challenge?.type === 'REDIRECT' && challenge.redirectUrl ? { redirectUrl: challenge.redirectUrl } : {}),
      });
    } catch (error) {
      logger.warn({ err: error }, 'connect status failed');
      res.status(503).json({ status: 'unavailable' });
    }
  });

  router.post('/connect/:token/:action', forms, async (req, res) => {
    const token = req.params.token as string;
    const action = req.params.action as string;
    const locale = chooseLocale(null, req.headers['accept-language']);
    const t = translator(locale);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!TOKEN.test(token)) return send(res, messagePage({ t, locale }, 404, 'notFoundTitle', 'notFoundText'), []);
    if (!fromOurOrigin(req, settings) || typeof body._csrf !== 'string' || !sameToken(body._csrf, csrfFor(token))) {
      return send(res, messagePage({ t, locale }, 403, 'forbiddenTitle', 'forbiddenText'), []);
    }
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
    try {
      switch (action) {
        case 'consent':
          await svc.acceptConsent(token);
          break;
        case 'bank':
          await svc.chooseInstitution(token, field('institutionId'));
          break;
        case 'credentials': {
          const credentials = Object.fromEntries(
            Object.entries(body)
              .filter(([k, v]) => k.startsWith('cred_') && typeof v === 'string')
              .map(([k, v]) => [k.slice('cred_'.length), v as string]),
          );
          try {
            await svc.submitCredentials(token, credentials);
          } catch (error) {
            // A credential the bank's form needs, left empty or malformed: the same page, saying which field.
            const fieldErrors = credentialProblems(error);
            if (!fieldErrors) throw error;
            const model = await svc.open(token);
            if (!model) throw error;
            return send(res, signInPage(pageContext(req, token, model), fieldErrors, 422), model.app.redirectOrigins);
          }
          break;
        }
        case 'redirect':
          await svc.startRedirect(token);
          break;
        case 'challenge':
          await svc.answerChallenge(token, field('response').trim());
          break;
        case 'cancel':
          await svc.cancelByUser(token);
          break;
        default:
          return send(res, messagePage({ t, locale }, 404, 'notFoundTitle', 'notFoundText'), []);
      }
    } catch (error) {
      // A click the session has moved past (a second click, another tab, a job still running): show where it is.
      if (!(error instanceof AppError)) return fail(res, error, t);
    }
    res.redirect(303, `/connect/${token}`);
  });

  function pageContext(req: Request, token: string, model: ConnectPageModel): PageContext {
    const locale = chooseLocale(model.session.locale, req.headers['accept-language']);
    return { t: translator(locale), locale, base: `/connect/${token}`, csrf: csrfFor(token), model, now: model.now };
  }

  async function pageFor(ctx: PageContext, q: string): Promise<Rendered> {
    const session = ctx.model.session;
    if (isFinished({ status: effectiveStatus(session, ctx.now) })) {
      const reopened = session.finishedAt !== null && ctx.now.getTime() - session.finishedAt.getTime() > REOPENED_AFTER_MS;
      return donePage(ctx, { reopened });
    }
    switch (session.step) {
      case 'consent':
        return consentPage(ctx);
      case 'bank':
        return bankPage(ctx, await svc.searchInstitutions(q), q);
      case 'sign-in':
        return signInPage(ctx);
      case 'progress':
        return progressPage(ctx);
      case 'done':
        return donePage(ctx, { reopened: false });
    }
  }

  function fail(res: Response, error: unknown, t: ReturnType<typeof translator>): void {
    logger.error({ err: error }, 'connect page failed');
    send(res, messagePage({ t, locale: 'en' }, 500, 'failedTitle', 'failure_other'), []);
  }

  return router;
}

/** A form post counts only from the service's own pages (Origin, or Sec-Fetch-Site where a browser sends it). */
function fromOurOrigin(req: Request, settings: ConnectSettings): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== 'null')
    return origin === new URL(settings.publicUrl).origin || origin === `http://${req.headers.host}`;
  return true;
}

function credentialProblems(error: unknown): FieldErrors | null {
  if (!(error instanceof AppError) || error.code !== ErrorCode.VALIDATION) return null;
  const out: FieldErrors = {};
  for (const issue of error.details.issues ?? []) {
    if (issue.path[0] === 'credentials' && typeof issue.path[1] === 'string') out[issue.path[1]] = issue.message;
  }
  return Object.keys(out).length ? out : null;
}

const queryOf = (req: Request) => (req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');

/** The hosted pages' headers: a strict CSP, framing only by the app's origins, no Referer, nothing cached. */
function send(res: Response, page: Rendered, frameOrigins: readonly string[]): void {
  res.status(page.status);
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader(
    'content-security-policy',
    [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "form-action 'self'",
      "base-uri 'none'",
      `frame-ancestors ${frameOrigins.length ? frameOrigins.join(' ') : "'none'"}`,
    ].join('; '),
  );
  res.end(page.html);
}

function sendBank(res: Response, answer: BankAnswer): void {
  res.status(answer.status);
  for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
  res.end(answer.body);
}
