import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The app's own web site, as the browser tests need it: the page Hosted Connect sends the user back to
 * (`/connected`, which shows the query it got), and pages that open a session as a popup (`/popup?session=<url>`)
 * or in an iframe (`/frame?session=<url>`) and show the message the hosted pages post back.
 */
export interface AppSite {
  origin: string;
  redirectUri: string;
  popupPage(sessionUrl: string): string;
  framePage(sessionUrl: string): string;
  close(): Promise<void>;
}

export async function startAppSite(): Promise<AppSite> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://app.local');
    res.setHeader('content-type', 'text/html; charset=utf-8');
    if (url.pathname === '/connected') {
      res.end(
        `<!doctype html><html lang="en"><head><title>Back in the app</title></head><body><main><h1>Back in the app</h1><p id="query">${url.search.replace(/[<>&"]/g, '')}</p></main></body></html>`,
      );
      return;
    }
    if (url.pathname === '/popup') {
      const session = JSON.stringify(url.searchParams.get('session') ?? '');
      res.end(`<!doctype html><html lang="en"><head><title>App</title></head><body><main>
<h1>App</h1><button id="open">Connect a bank</button><pre id="message"></pre>
<script>
document.getElementById('open').addEventListener('click', () => window.open(${session}, 'connect', 'width=420,height=720'));
window.addEventListener('message', (e) => { document.getElementById('message').textContent = JSON.stringify({ origin: e.origin, data: e.data }); });
</script></main></body></html>`);
      return;
    }
    if (url.pathname === '/frame') {
      const session = (url.searchParams.get('session') ?? '').replace(/[<>&"]/g, '');
      res.end(`<!doctype html><html lang="en"><head><title>App</title></head><body><main>
<h1>App</h1><iframe title="Connect your bank" src="${session}" width="400" height="700"></iframe><pre id="message"></pre>
<script>
window.addEventListener('message', (e) => { document.getElementById('message').textContent = JSON.stringify({ origin: e.origin, data: e.data }); });
</script></main></body></html>`);
      return;
    }
    res.statusCode = 404;
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    redirectUri: `${origin}/connected`,
    popupPage: (sessionUrl) => `${origin}/popup?session=${encodeURIComponent(sessionUrl)}`,
    framePage: (sessionUrl) => `${origin}/frame?session=${encodeURIComponent(sessionUrl)}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
