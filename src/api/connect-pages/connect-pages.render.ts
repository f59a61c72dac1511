import { createHash } from 'node:crypto';
import type { Dataset, Institution, StepTitle } from '../../../entities/index.ts';
import type { ConnectPageModel } from '../../connect/connect-session.service.ts';
import type { ConnectLocale } from '../../connect/connect-session.schemas.ts';
import { effectiveStatus } from '../../connect/connect-session.presenter.ts';
import type { StringKey, Translate } from './i18n.ts';

/**
 * The hosted pages' HTML: server-rendered, one page per step, with the service's own stylesheet and script only
 * (no inline script or style: the Content-Security-Policy forbids them). Every value is escaped; no credential or
 * challenge answer is ever written into a page, not even back into the form it was typed into.
 */

export interface PageContext {
  t: Translate;
  locale: ConnectLocale;
  /** `/connect/<token>`: where the page's forms post. */
  base: string;
  /** The synchronizer token every form carries. */
  csrf: string;
  model: ConnectPageModel;
  now: Date;
}

export interface Rendered {
  status: number;
  html: string;
}

export const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STEP_LABEL: Record<StepTitle, StringKey> = {
  'verify-credentials': 'step_verify',
  'retrieve-accounts': 'step_accounts',
  'retrieve-transactions': 'step_transactions',
};

interface LayoutOptions {
  /** data-* attributes on <body> for connect.js (polling, the end of the flow). */
  data?: Record<string, string>;
}

export function layout(
  ctx: Pick<PageContext, 't' | 'locale'>,
  title: string,
  main: string,
  appName: string | null,
  options: LayoutOptions = {},
): string {
  const data = Object.entries(options.data ?? {})
    .map(([k, v]) => ` data-${k}="${escape(v)}"`)
    .join('');
  return `<!doctype html>
<html lang="${ctx.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · ${escape(ctx.t('htmlTitle'))}</title>
<link rel="stylesheet" href="/connect/assets/connect.css">
<script src="/connect/assets/connect.js" defer></script>
</head>
<body${data}>
<header class="brand">${appName ? `<span class="app">${escape(appName)}</span>` : ''}</header>
<main id="main">
${main}
</main>
<footer><p>${escape(ctx.t('poweredBy'))}</p></footer>
</body>
</html>`;
}

const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escape(value)}">`;

/** A form that posts to one of the session's actions, with its CSRF token. */
function form(ctx: PageContext, action: string, body: string, attrs = ''): string {
  return `<form method="post" action="${escape(`${ctx.base}/${action}`)}"${attrs}>${hidden('_csrf', ctx.csrf)}${body}</form>`;
}

const cancelForm = (ctx: PageContext) =>
  form(ctx, 'cancel', `<button type="submit" class="secondary">${escape(ctx.t('cancel'))}</button>`, ' class="cancel"');

function datasetsInWords(ctx: PageContext): string[] {
  const asked: Dataset[] | null = ctx.model.session.datasets ?? ctx.model.institution?.datasets ?? null;
  if (!asked) return [ctx.t('everything')];
  return asked.map((d) => ctx.t(`dataset_${d}` as StringKey));
}

function intervalInWords(ctx: PageContext): string {
  const minutes = Math.max(1440, ctx.model.institution?.minRefreshIntervalMinutes ?? 0);
  if (minutes % 1440 === 0) return minutes === 1440 ? ctx.t('oneDay') : ctx.t('days', { n: minutes / 1440 });
  const hours = Math.round(minutes / 60);
  return hours === 1 ? ctx.t('oneHour') : ctx.t('hours', { n: hours });
}

export function consentPage(ctx: PageContext): Rendered {
  const app = ctx.model.app.name;
  const items = datasetsInWords(ctx)
    .map((d) => `<li>${escape(d)}</li>`)
    .join('');
  const main = `<h1>${escape(ctx.t('consentTitle', { app }))}</h1>
<p>${escape(ctx.t('consentIntro', { app }))}</p>
<ul class="datasets">${items}</ul>
<p>${escape(ctx.t('consentDuration', { days: ctx.model.session.consentDays }))}</p>
<p>${escape(ctx.t('consentRefresh', { app, interval: intervalInWords(ctx) }))}</p>
<p>${escape(ctx.t('consentWithdraw', { app }))}</p>
<div class="actions">
${form(ctx, 'consent', `<button type="submit">${escape(ctx.t('continue'))}</button>`)}
${cancelForm(ctx)}
</div>`;
  return { status: 200, html: layout(ctx, ctx.t('consentTitle', { app }), main, app) };
}

export function bankPage(ctx: PageContext, institutions: Institution[], query: string): Rendered {
  const list = institutions.length
    ? `<h2 class="visually-hidden">${escape(ctx.t('banksFound'))}</h2><ul class="banks">${institutions
        .map(
          (i) =>
            `<li>${form(ctx, 'bank', `${hidden('institutionId', i.id)}<button type="submit" class="bank">${escape(i.name)}</button>`)}</li>`,
        )
        .join('')}</ul>`
    : `<p role="status">${escape(ctx.t('noBanks', { q: query }))}</p>`;
  const main = `<h1>${escape(ctx.t('bankTitle'))}</h1>
<form method="get" action="${escape(ctx.base)}" role="search" class="search">
<label for="q">${escape(ctx.t('searchLabel'))}</label>
<div class="row"><input id="q" name="q" type="search" value="${escape(query)}" autocomplete="off"><button type="submit">${escape(ctx.t('searchButton'))}</button></div>
</form>
${list}
<div class="actions">${cancelForm(ctx)}</div>`;
  return { status: 200, html: layout(ctx, ctx.t('bankTitle'), main, ctx.model.app.name) };
}

/** A field's problem (from the service's checks), shown beside it. */
export type FieldErrors = Record<string, string>;

export function signInPage(ctx: PageContext, fieldErrors: FieldErrors = {}, status = 200): Rendered {
  const institution = ctx.model.institution!;
  const app = ctx.model.app.name;
  const bank = institution.name;
  const session = ctx.model.session;
  const retry = session.status === 'awaiting-user' && session.error;
  const attempts = session.attemptsLeft === 1 ? ctx.t('oneAttemptLeft') : ctx.t('attemptsLeft', { n: session.attemptsLeft });
  const problem = retry
    ? `<div class="alert" role="alert"><p>${escape(session.error!.code === 'challenge-failed' ? ctx.t('wrongCode') : ctx.t('wrongCredentials', { bank }))} ${escape(attempts)}</p></div>`
    : '';
  if (institution.signIn === 'redirect') {
    const main = `<h1>${escape(ctx.t('redirectTitle', { bank }))}</h1>
${problem}
<p>${escape(ctx.t('redirectIntro', { bank }))}</p>
<div class="actions">
${form(ctx, 'redirect', `<button type="submit">${escape(ctx.t('continueTo', { bank }))}</button>`)}
${cancelForm(ctx)}
</div>`;
    return { status, html: layout(ctx, ctx.t('redirectTitle', { bank }), main, app) };
  }
  const fields = institution.credentialFields
    .map((f) => {
      const id = `field-${f.name}`;
      const error = fieldErrors[f.name];
      const describedBy = error ? ` aria-describedby="${id}-error" aria-invalid="true"` : '';
      // Never a value: what was typed is not sent back, not even on an error.
      return `<div class="field">
<label for="${id}">${escape(f.label)}${f.required ? '' : ''}</label>
<input id="${id}" name="cred_${escape(f.name)}" type="${f.secret ? 'password' : 'text'}" autocomplete="off" autocapitalize="off" spellcheck="false"${f.required ? ' required aria-required="true"' : ''}${describedBy}>
${error ? `<p class="field-error" id="${id}-error">${escape(error)}</p>` : ''}
</div>`;
    })
    .join('\n');
  const main = `<h1>${escape(ctx.t('signInTitle', { bank }))}</h1>
${problem}
<p>${escape(ctx.t('signInIntro', { bank, app }))}</p>
${form(ctx, 'credentials', `${fields}<div class="actions"><button type="submit">${escape(ctx.t('connect'))}</button></div>`, ' autocomplete="off"')}
<div class="actions">${cancelForm(ctx)}</div>`;
  return { status, html: layout(ctx, ctx.t('signInTitle', { bank }), main, app) };
}

/** What the progress page shows, summed up: the page reloads itself when this changes. */
export function progressVersion(model: ConnectPageModel, now: Date): string {
  const job = model.job;
  const parts = [
    effectiveStatus(model.session, now),
    model.session.step,
    job?.status,
    job?.challenge?.id,
    ...(job?.steps.map((s) => s.status) ?? []),
  ];
  return createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 16);
}

export function progressPage(ctx: PageContext): Rendered {
  const bank = ctx.model.institution?.name ?? '';
  const job = ctx.model.job;
  const steps = (job?.steps ?? [])
    .map(
      (s) =>
        `<li class="step step-${escape(s.status)}"><span class="step-name">${escape(ctx.t(STEP_LABEL[s.title]))}</span> <span class="step-state">${escape(ctx.t(`stepState_${s.status}` as StringKey))}</span></li>`,
    )
    .join('');
  let challenge = '';
  const c = job?.status === 'awaiting-challenge' ? job.challenge : null;
  if (c?.type === 'REDIRECT' && c.redirectUrl) {
    challenge = `<p role="status">${escape(ctx.t('redirecting', { bank }))}</p>
<p><a class="button" id="bank-link" href="${escape(c.redirectUrl)}">${escape(ctx.t('continueTo', { bank }))}</a></p>`;
  } else if (c?.type === 'DECOUPLED') {
    challenge = `<div class="challenge" role="status"><p>${escape(c.message)}</p><p>${escape(ctx.t('decoupledHint', { bank }))}</p></div>`;
  } else if (c) {
    challenge = form(
      ctx,
      'challenge',
      `<div class="field"><label for="challenge-response">${escape(c.message)}</label>
<input id="challenge-response" name="response" type="text" inputmode="text" autocomplete="one-time-code" required aria-required="true" maxlength="1024"></div>
<div class="actions"><button type="submit">${escape(ctx.t('submit'))}</button></div>`,
      ' class="challenge"',
    );
  }
  const main = `<h1>${escape(ctx.t('progressTitle', { bank }))}</h1>
<p>${escape(ctx.t('progressIntro'))}</p>
<ol class="steps" aria-live="polite">${steps}</ol>
${challenge}
<noscript><p><a href="${escape(ctx.base)}">${escape(ctx.t('refresh'))}</a></p></noscript>`;
  const data: Record<string, string> = { 'status-url': `${ctx.base}/status`, version: progressVersion(ctx.model, ctx.now) };
  if (c?.type === 'REDIRECT' && c.redirectUrl) data['redirect-url'] = c.redirectUrl;
  return { status: 200, html: layout(ctx, ctx.t('progressTitle', { bank }), main, ctx.model.app.name, { data }) };
}

/** The status a redirect back to the app carries. */
export function outcomeOf(status: string): 'success' | 'failed' | 'cancelled' | 'expired' {
  return status === 'completed' ? 'success' : status === 'cancelled' ? 'cancelled' : status === 'expired' ? 'expired' : 'failed';
}

function failureText(ctx: PageContext, code: string | undefined): string {
  const bank = ctx.model.institution?.name ?? '';
  const app = ctx.model.app.name;
  if (code === 'consent-denied') return ctx.t('failure_denied', { bank });
  if (code === 'too-many-attempts') return ctx.t('failure_attempts', { app });
  if (code && /unavailable|timeout|unreachable|rate-limited|internal/.test(code)) return ctx.t('failure_unavailable', { bank });
  return ctx.t('failure_other', { bank });
}

/**
 * The end: success or a failure in words the user understands, then back to the app. Opened as a popup or in a
 * frame, the page tells its opener (or parent) with postMessage, to the redirect URI's origin only; otherwise it
 * goes back to the redirect URI with connectionId, sessionId and status in the query.
 */
export function donePage(ctx: PageContext, options: { reopened: boolean }): Rendered {
  const session = ctx.model.session;
  const status = effectiveStatus(session, ctx.now);
  const app = ctx.model.app.name;
  const bank = ctx.model.institution?.name ?? '';
  let title: string;
  let text: string;
  if (options.reopened && status === 'completed') [title, text] = [ctx.t('usedTitle'), ctx.t('usedText', { app })];
  else if (status === 'completed') [title, text] = [ctx.t('successTitle'), ctx.t('successText', { bank, app })];
  else if (status === 'cancelled') [title, text] = [ctx.t('cancelledTitle'), ctx.t('cancelledText')];
  else if (status === 'expired') [title, text] = [ctx.t('expiredTitle'), ctx.t('expiredText', { app })];
  else [title, text] = [ctx.t('failedTitle'), failureText(ctx, session.error?.code)];

  const outcome = outcomeOf(status);
  const payload = { type: 'connections-service:connect', sessionId: session.id, connectionId: session.connectionId, status: outcome };
  let back = '';
  const data: Record<string, string> = { payload: JSON.stringify(payload) };
  if (session.redirectUri) {
    const url = new URL(session.redirectUri);
    if (session.connectionId) url.searchParams.set('connectionId', session.connectionId);
    url.searchParams.set('sessionId', session.id);
    url.searchParams.set('status', outcome);
    back = `<p><a class="button" id="return-link" href="${escape(url.toString())}">${escape(ctx.t('returnTo', { app }))}</a></p>`;
    data['return-url'] = url.toString();
    data['message-origin'] = url.origin;
  } else {
    back = `<p>${escape(ctx.t('closeWindow'))}</p>`;
  }
  // A second visit of a finished session shows where it ended, and goes nowhere by itself.
  if (options.reopened) delete data['return-url'];
  const main = `<h1>${escape(title)}</h1>
<p role="status">${escape(text)}</p>
${back}`;
  return { status: 200, html: layout(ctx, title, main, app, { data: { done: 'true', ...data } }) };
}

/** A page with one message: an unknown link, a refused request. */
export function messagePage(ctx: Pick<PageContext, 't' | 'locale'>, status: number, titleKey: StringKey, textKey: StringKey): Rendered {
  const main = `<h1>${escape(ctx.t(titleKey))}</h1><p>${escape(ctx.t(textKey))}</p>`;
  return { status, html: layout(ctx, ctx.t(titleKey), main, null) };
}
