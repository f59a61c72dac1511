/**
 * Hosted Connect's pages over plain HTTP, as a browser without JavaScript would use them: GET the session URL, post
 * its forms (with the CSRF token the page carries and the service's Origin), follow the redirect to the bank. The
 * browser tests drive the same pages in Chromium.
 */
export class ConnectPagesClient {
  private csrf: string | null = null;
  readonly origin: string;

  constructor(readonly url: string) {
    this.origin = new URL(url).origin;
  }

  async get(suffix = ''): Promise<{ status: number; html: string; headers: Headers }> {
    const res = await fetch(`${this.url}${suffix}`, { headers: { 'accept-language': 'en' } });
    const html = await res.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
    if (token) this.csrf = token;
    return { status: res.status, html, headers: res.headers };
  }

  /** Posts one of the session's forms; answers its status (a 303 back to the session page when it went through). */
  async post(
    action: string,
    fields: Record<string, string> = {},
    forge: { csrf?: string; origin?: string } = {},
  ): Promise<{ status: number; html: string }> {
    if (!this.csrf && !forge.csrf) await this.get();
    const body = new URLSearchParams({ _csrf: forge.csrf ?? this.csrf!, ...fields });
    const res = await fetch(`${this.url}/${action}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: forge.origin ?? this.origin, 'accept-language': 'en' },
      body,
    });
    return { status: res.status, html: await res.text() };
  }

  /** What the progress page polls. */
  async status(): Promise<{ status: string; step: string; version: string; redirectUrl?: string }> {
    return (await fetch(`${this.url}/status`)).json() as Promise<{ status: string; step: string; version: string; redirectUrl?: string }>;
  }

  /** The sandbox bank's page: Approve or Deny, and where the bank sends the user back (the service's callback). */
  async bankDecision(bankUrl: string, decision: 'approve' | 'deny'): Promise<URL> {
    const page = await (await fetch(bankUrl)).text();
    const field = (name: string) =>
      /name="NAME" value="([^"]*)"/.exec(page.replace(/name="(\w+)"/g, (m, n: string) => (n === name ? 'name="NAME"' : m)))?.[1];
    const decode = (s: string) => s.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));
    const body = new URLSearchParams({
      redirect_uri: decode(field('redirect_uri') ?? ''),
      state: decode(field('state') ?? ''),
      consent_days: decode(field('consent_days') ?? ''),
      decision,
    });
    const res = await fetch(bankUrl.split('?')[0]!, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    if (res.status !== 303) throw new Error(`the bank answered ${res.status}: ${await res.text()}`);
    return new URL(res.headers.get('location')!);
  }
}
