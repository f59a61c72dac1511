// The README's Hosted Connect screenshot: drives a running service's pages in Chromium at 375 px (consent, bank,
// sign-in, done) and lays the four side by side in docs/connect.png.
//   API_KEY=csk_… npm run docs:screenshot      (SERVICE_URL defaults to http://127.0.0.1:3000; CHROMIUM_PATH)
import { writeFileSync } from 'node:fs';
import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../src/api/app-router.ts';
import { launchChromium } from '../test/helpers/browser.ts';

const url = process.env.SERVICE_URL ?? 'http://127.0.0.1:3000';
const apiKey = process.env.API_KEY;
if (!apiKey) {
  console.error('Set API_KEY to the key `npm start` printed on its first run.');
  process.exit(1);
}
const out = new URL('../docs/connect.png', import.meta.url);

const client = createTRPCClient<AppRouter>({
  links: [httpLink({ url: `${url}/trpc`, transformer: superjson, headers: { authorization: `Bearer ${apiKey}` } })],
});
const session = await client.connectSessions.create.mutate({
  userId: `screenshot-${Date.now()}`,
  datasets: ['BANK_ACCOUNT', 'BANK_TRANSACTION'],
});

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 375, height: 720 }, deviceScaleFactor: 1, locale: 'en-GB' });
  const shots: Buffer[] = [];
  const shoot = async () => void shots.push(await page.screenshot());
  await page.goto(session.url);
  await shoot();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('searchbox', { name: 'Search banks' }).waitFor();
  await shoot();
  await page.getByRole('button', { name: 'Hooli Bank (Sandbox)' }).click();
  await page.getByLabel('Login ID').fill('gavinBelson');
  await page.getByLabel('Password').fill('any password');
  await shoot();
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByRole('heading', { name: 'Connected' }).waitFor({ timeout: 30_000 });
  await shoot();

  // One picture of the four: a page of images, photographed.
  const sheet = await browser.newPage({ viewport: { width: 4 * 375 + 5 * 16, height: 720 + 32 }, deviceScaleFactor: 1 });
  const images = shots.map((s) => `<img alt="" src="data:image/png;base64,${s.toString('base64')}">`).join('');
  await sheet.setContent(`<body style="margin:0;padding:16px;display:flex;gap:16px;background:#e5e7eb">${images}</body>`);
  writeFileSync(out, await sheet.screenshot());
  console.log(`wrote ${out.pathname} (session ${session.id})`);
} finally {
  await browser.close();
}
