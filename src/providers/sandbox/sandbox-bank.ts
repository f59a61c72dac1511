import { randomBytes } from 'node:crypto';

/**
 * The sandbox's bank sign-in page: what a user meets on a real open-banking redirect, reduced to its decision.
 * `GET {bank}/authorize` shows who asks for what and for how long, with **Approve** and **Deny**; the decision is
 * posted back, and the bank sends the user to the `redirect_uri` it was given with `code` and `state` (or
 * `error=access_denied`). The service serves it at /sandbox/bank for its built-in redirect institution, and the
 * reference plug-in provider at its own /bank, as a bank on another origin.
 */

export interface BankAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Codes the sandbox bank hands out start with this; the sandbox provider accepts only such codes. */
export const SANDBOX_CODE_PREFIX = 'sbx-code-';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Like a real bank, it sends users back only to a callback it knows: here any service's `/connect/callback`
 * (over http or https), never an arbitrary URL (which would make it an open redirect).
 */
function callbackOf(raw: string | null): URL | null {
  if (!raw) return null;
  try {
    const url = new URL(raw);
    return (url.protocol === 'https:' || url.protocol === 'http:') &&
      url.pathname.endsWith('/connect/callback') &&
      !url.username &&
      !url.password
      ? url
      : null;
  } catch {
    return null;
  }
}

function refusal(message: string): BankAnswer {
  return page(400, 'Sign-in request refused', `<h1>Sign-in request refused</h1><p>${escape(message)}</p>`, null);
}

function page(status: number, title: string, main: string, formTarget: URL | null): BankAnswer {
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Sandbox OAuth Bank</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #0b3d2e; color: #10231c; }
header { color: #fff; padding: 1rem 1.5rem; font-weight: 700; }
main { background: #fff; max-width: 28rem; margin: 0 auto 2rem; padding: 1.5rem; border-radius: 0.75rem; }
h1 { font-size: 1.35rem; margin-top: 0; }
.actions { display: flex; gap: 0.75rem; flex-wrap: wrap; }
button { font: inherit; padding: 0.7rem 1.4rem; border-radius: 0.5rem; border: 2px solid #0b3d2e; cursor: pointer; }
button.approve { background: #0b3d2e; color: #fff; }
button.deny { background: #fff; color: #0b3d2e; }
button:focus-visible { outline: 3px solid #f2b705; outline-offset: 2px; }
</style>
</head>
<body>
<header>Sandbox OAuth Bank</header>
<main>
${main}
</main>
</body>
</html>`;
  const formAction = formTarget ? `'self' ${formTarget.origin}` : "'none'";
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
    body,
  };
}

/** GET /authorize: the consent the bank asks its customer for. */
export function bankAuthorizePage(query: URLSearchParams, actionPath: string): BankAnswer {
  const callback = callbackOf(query.get('redirect_uri'));
  const state = query.get('state') ?? '';
  if (!callback || !/^[\w-]{16,128}$/.test(state)) return refusal('This sign-in link is not valid. Go back to the app and start again.');
  const client = (query.get('client_name') ?? 'An app').slice(0, 100);
  const days = Number(query.get('consent_days'));
  const duration = Number.isInteger(days) && days > 0 ? `for ${days} day${days === 1 ? '' : 's'}` : 'until you withdraw it';
  const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escape(value)}">`;
  return page(
    200,
    'Approve access',
    `<h1>Approve access to your accounts</h1>
<p>${escape(client)} asks to see your accounts, balances and transactions ${escape(duration)}.</p>
<p>You can withdraw this access at any time in the app or at the bank.</p>
<form method="post" action="${escape(actionPath)}">
${hidden('redirect_uri', callback.toString())}${hidden('state', state)}${hidden('consent_days', query.get('consent_days') ?? '')}
<div class="actions">
<button class="approve" type="submit" name="decision" value="approve">Approve</button>
<button class="deny" type="submit" name="decision" value="deny">Deny</button>
</div>
</form>`,
    callback,
  );
}

/** POST /authorize: back to the callback with a code, or with access_denied. */
export function bankDecision(form: URLSearchParams): BankAnswer {
  const callback = callbackOf(form.get('redirect_uri'));
  const state = form.get('state') ?? '';
  if (!callback || !/^[\w-]{16,128}$/.test(state)) return refusal('This sign-in request is not valid.');
  const back = new URL(callback);
  if (form.get('decision') === 'approve') {
    back.searchParams.set('code', `${SANDBOX_CODE_PREFIX}${randomBytes(12).toString('hex')}`);
  } else {
    back.searchParams.set('error', 'access_denied');
    back.searchParams.set('error_description', 'The customer denied access at the bank.');
  }
  back.searchParams.set('state', state);
  return { status: 303, headers: { location: back.toString(), 'cache-control': 'no-store' }, body: '' };
}
