import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.ts';
import { startServiceProcess, waitUntil, type ServiceProcess } from '../helpers/service-process.ts';
import { startTestService, type TestService } from '../helpers/test-service.ts';

// An API process remembers the keys it has looked up (API_KEY_CACHE_MS), and a key replaced by another process
// (apps:rotate-key runs in the CLI) must still stop working there: here the remembered key would be trusted for a
// minute, so only the NOTIFY that commits with the rotation can end it within the wait.

let service: TestService;
let proc: ServiceProcess;
let base: string;

beforeAll(async () => {
  service = await startTestService();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  proc = startServiceProcess({
    PORT: String(port),
    HOST: '127.0.0.1',
    ROLES: 'api',
    DATABASE_URL: service.database.url,
    CREDENTIALS_KEYS: service.credentialKeysEnv,
    CREATE_DEMO_APP: 'false',
    API_KEY_CACHE_MS: '60000',
  });
  await proc.waitFor(/listening/);
});
afterAll(async () => {
  proc?.kill('SIGKILL');
  await proc?.exited;
  await service.close();
});

const status = async (apiKey: string) =>
  (await fetch(`${base}/api/v1/connections?userId=user-1`, { headers: { authorization: `Bearer ${apiKey}` } })).status;

describe('API keys remembered by an API process', () => {
  it('a key rotated by another process stops working there, and the new key works at once', { timeout: 30_000 }, async () => {
    const { app, apiKey: oldKey } = await service.services.apps.create('rotation');
    expect(await status(oldKey)).toBe(200);
    expect(await status(oldKey)).toBe(200);

    const { apiKey: newKey } = await service.services.apps.rotateKey(app.id);
    expect(await status(newKey)).toBe(200);
    await waitUntil(async () => (await status(oldKey)) === 401, 10_000, 'the replaced key to be refused');
    expect(await status(newKey)).toBe(200);
  });

  it('a wrong key is refused every time', async () => {
    expect(await status('csk_not_a_real_key_0000000000000000')).toBe(401);
  });
});
