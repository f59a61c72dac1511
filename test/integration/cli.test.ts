import { Metrics } from '../../src/observability/metrics.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_JS, runCompiled } from '../helpers/run-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import { AppService } from '../../src/apps/app.service.ts';
import { systemClock } from '../../src/clock.ts';
import { createLogger } from '../../src/logger.ts';
import { CredentialCipher } from '../../src/security/credential-cipher.ts';

let database: TestDatabase;
let env: Record<string, string>;
beforeAll(async () => {
  database = await createTestDatabase();
  env = { DATABASE_URL: database.url, DATA_DIR: mkdtempSync(path.join(tmpdir(), 'cs-cli-')), LOG_LEVEL: 'warn' };
});
afterAll(() => database.drop());

// The compiled CLI, as an operator runs it in the image (`node dist/src/cli.js …`).
const cli = (...args: string[]) => runCompiled(CLI_JS, args, env);

describe('admin CLI', () => {
  it('--help lists the commands', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    for (const c of ['apps:create', 'apps:list', 'apps:rotate-key', 'apps:get', 'apps:add-redirect-uri', 'apps:remove-redirect-uri'])
      expect(stdout).toContain(c);
  });

  it('apps:create prints one JSON line with a csk_ key that authenticates; apps:list shows it without the key', async () => {
    const created = await cli('apps:create', 'billing-app');
    expect(created.code).toBe(0);
    const lines = created.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const { id, name, apiKey } = JSON.parse(lines[0]!);
    expect(name).toBe('billing-app');
    expect(apiKey).toMatch(/^csk_[A-Za-z0-9_-]{43}$/);

    const apps = new AppService({
      db: database.db,
      clock: systemClock,
      cipher: new CredentialCipher([{ id: 'x', key: Buffer.alloc(32) }]),
      logger: createLogger('silent'),
      metrics: new Metrics(),
    });
    expect((await apps.authenticate(apiKey))?.id).toBe(id);
    const [row] = await database.db.query('SELECT * FROM applications WHERE id = $1', [id]);
    expect(JSON.stringify(row)).not.toContain(apiKey); // only the hash is stored

    const listed = await cli('apps:list');
    expect(listed.code).toBe(0);
    const entries = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(entries).toContainEqual(expect.objectContaining({ id, name: 'billing-app', apiKeyPrefix: apiKey.slice(0, 10) }));
    expect(listed.stdout).not.toContain(apiKey);
  });

  it('apps:rotate-key issues a new key and the old one stops working', async () => {
    const { apiKey: oldKey, id } = JSON.parse((await cli('apps:create', 'rotating')).stdout);
    const rotated = await cli('apps:rotate-key', id);
    expect(rotated.code).toBe(0);
    const { apiKey: newKey } = JSON.parse(rotated.stdout);
    expect(newKey).not.toBe(oldKey);
    const [{ api_key_hash }] = await database.db.query('SELECT api_key_hash FROM applications WHERE id = $1', [id]);
    const { hashApiKey } = await import('../../src/security/api-key.ts');
    expect(api_key_hash).toBe(hashApiKey(newKey));
  });

  it('apps:add-redirect-uri and apps:remove-redirect-uri manage what Hosted Connect may send users back to', async () => {
    const { id } = JSON.parse((await cli('apps:create', 'connect-app')).stdout);
    const added = await cli('apps:add-redirect-uri', id, 'https://app.example.com/connected');
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ id, redirectUris: ['https://app.example.com/connected'] });
    expect(JSON.parse((await cli('apps:get', id)).stdout).redirectUris).toEqual(['https://app.example.com/connected']);
    const refused = await cli('apps:add-redirect-uri', id, 'http://app.example.com/connected');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('https');
    const removed = await cli('apps:remove-redirect-uri', id, 'https://app.example.com/connected');
    expect(JSON.parse(removed.stdout).redirectUris).toEqual([]);
  });

  it('errors are a message and exit code 1, not a stack trace', async () => {
    const unknown = await cli('apps:rotate-key', '00000000-0000-0000-0000-000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not found');
    const badArgs = await cli('apps:create');
    expect(badArgs.code).toBe(1);
    expect(badArgs.stderr).toContain('apps:create takes <name>');
    const badCommand = await cli('apps:explode');
    expect(badCommand.code).toBe(1);
    const badConfig = await runCompiled(CLI_JS, ['apps:list'], { ...env, PORT: 'eighty' });
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toContain('PORT');
  });
});
