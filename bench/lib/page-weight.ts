/**
 * What a hosted page weighs: its requests and the bytes received for them (response headers + body, as sent), by
 * page view. The connect scenario fills these from a real browser (Chromium's own counts) or, without one, from
 * plain HTTP requests that fetch a page's HTML and every asset it references (HttpPageWalker).
 */

/** One request as the client saw it. */
export interface RequestRecord {
  url: string;
  /** Response headers + body in bytes as received (encoded); 0 when it failed or came from the cache. */
  bytes: number;
  /** Its host is not the service's. */
  thirdParty: boolean;
  /** The page's own HTML (the document the view shows). */
  document?: boolean;
}

/** One page as the user saw it: its document (with the redirect that led to it) and everything it asked for after. */
export interface PageView {
  page: string;
  requests: RequestRecord[];
}

export const isThirdParty = (url: string, origin: string) => !url.startsWith('data:') && new URL(url).origin !== origin;

/** Which page of the flow an HTML document is, from the forms and data attributes the service renders. */
export function classifyPage(html: string): string {
  // A document that never arrived: its navigation was cut short by another one.
  if (!html) return '(navigation cut short)';
  const h1 = /<h1>([^<]*)<\/h1>/.exec(html)?.[1] ?? '';
  if (/data-done="true"/.test(html)) return /Connected/.test(h1) ? 'success' : `done: ${h1}`;
  if (/action="[^"]*\/challenge"/.test(html)) return 'challenge';
  if (/data-status-url=/.test(html)) return 'progress';
  if (/action="[^"]*\/credentials"/.test(html)) return 'sign-in (credentials form)';
  if (/action="[^"]*\/bank"/.test(html)) return 'bank choice';
  if (/action="[^"]*\/consent"/.test(html)) return 'start (consent)';
  return `message: ${h1}`;
}

/** The assets a browser would load for this HTML: the src/href of its link, script and img elements. */
export function referencedAssets(html: string, pageUrl: string): string[] {
  const out: string[] = [];
  for (const tag of html.matchAll(/<(?:link|script|img)\b[^>]*>/gi)) {
    const ref = /\s(?:src|href)="([^"]+)"/i.exec(tag[0])?.[1];
    if (ref)
      out.push(
        new URL(
          ref.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))),
          pageUrl,
        ).href,
      );
  }
  return out;
}

/**
 * The bytes of a response's status line and header block as sent over HTTP/1.1. fetch() does not expose the raw
 * block; names are lower-cased there, which does not change their length, and the status line's reason phrase is
 * Node's standard one.
 */
function headerBytes(res: Response): number {
  let n = `HTTP/1.1 ${res.status} ${res.statusText}\r\n`.length + 2;
  // Iteration yields each Set-Cookie on its own, as it was sent.
  for (const [name, value] of res.headers) n += Buffer.byteLength(`${name}: ${value}\r\n`);
  return n;
}

/**
 * Hosted Connect over plain HTTP, when there is no browser: every page view is its HTML plus every same-origin asset
 * it references, fetched again for each page (as with the browser's cache off); references to other hosts are
 * counted as third-party requests but not fetched. Forms are posted with the page's CSRF token and the service's
 * Origin, and the 303 after a post counts towards the page it leads to, as in the browser.
 */
export class HttpPageWalker {
  readonly views: PageView[] = [];
  private csrf: string | null = null;
  private pending: RequestRecord[] = [];

  constructor(readonly origin: string) {}

  private async fetchCounted(
    url: string,
    init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> } = {},
    document = false,
  ): Promise<{ res: Response; body: Buffer }> {
    const res = await fetch(url, { redirect: 'manual', ...init, headers: { 'accept-language': 'en', ...init.headers } });
    const body = Buffer.from(await res.arrayBuffer());
    // fetch() decodes a compressed body: what came over the wire is content-length when the response says it.
    const wire =
      res.headers.has('content-encoding') && res.headers.has('content-length') ? Number(res.headers.get('content-length')) : body.length;
    this.pending.push({ url, bytes: headerBytes(res) + wire, thirdParty: false, document });
    return { res, body };
  }

  /** GETs a page and its assets as one page view; answers its HTML. */
  async open(url: string): Promise<string> {
    const { body } = await this.fetchCounted(url, {}, true);
    const html = body.toString('utf8');
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
    if (token) this.csrf = token;
    for (const asset of referencedAssets(html, url)) {
      if (isThirdParty(asset, this.origin)) this.pending.push({ url: asset, bytes: 0, thirdParty: true });
      else await this.fetchCounted(asset);
    }
    this.views.push({ page: classifyPage(html), requests: this.pending });
    this.pending = [];
    return html;
  }

  /** Posts one of the session's forms; the 303 it answers is followed as a browser would (into the next view). */
  async post(sessionUrl: string, action: string, fields: Record<string, string>): Promise<string> {
    const { res } = await this.fetchCounted(`${sessionUrl}/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.origin },
      body: new URLSearchParams({ _csrf: this.csrf ?? '', ...fields }),
    });
    const location = res.headers.get('location');
    if (res.status !== 303 || !location) throw new Error(`POST ${action} answered ${res.status}`);
    return this.open(new URL(location, sessionUrl).href);
  }

  /** What connect.js polls on the progress page; counted towards the page being shown. */
  async status(sessionUrl: string): Promise<{ version: string; status: string }> {
    const { body } = await this.fetchCounted(`${sessionUrl}/status`, { headers: { accept: 'application/json' } });
    const answer = JSON.parse(body.toString('utf8')) as { version: string; status: string };
    const current = this.views.at(-1);
    if (current) current.requests.push(...this.pending.splice(0));
    return answer;
  }
}
