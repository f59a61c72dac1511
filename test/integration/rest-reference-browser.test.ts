import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM_PATH, expectAccessible, hasChromium, launchChromium } from '../helpers/browser.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

// The REST reference page at /api/v1/docs in real Chromium: it lists every operation of the document, from the
// service's own files only, and its CSP refuses nothing it does. Skipped without Chromium, as the other browser tests.

if (!hasChromium)
  console.warn(`browser tests: SKIPPED, no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`);

let service: TestService;
let browser: Browser;
beforeAll(async () => {
  if (!hasChromium) return;
  service = await startTestService();
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  if (!hasChromium) return;
  await browser?.close();
  await service?.close();
});

it.runIf(hasChromium)('lists every operation with its parameters, from its own origin only, under its CSP', async () => {
  const context = await browser.newContext();
  const requests: string[] = [];
  const problems: string[] = [];
  context.on('request', (r) => void requests.push(r.url()));
  context.on('response', (r) => void (r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`)));
  const page = await context.newPage();
  page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
  page.on('pageerror', (e) => void problems.push(e.message));
  await page.goto(`${service.url}/api/v1/docs`);
  const doc = (await (await fetch(`${service.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const count = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
  await expect.poll(() => page.locator('details.op').count(), { timeout: 20_000 }).toBe(count);
  await page.locator('#connections-list > summary').click();
  await expect.poll(() => page.locator('#connections-list table').textContent()).toContain('institutionId');
  expect(problems).toEqual([]);
  expect(requests.filter((u) => !u.startsWith(service.url))).toEqual([]);
  await expectAccessible(page, 'REST reference');
  await context.close();
});
