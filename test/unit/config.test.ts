import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('config', () => {
  it('has working defaults for an empty environment', () => {
    expect(loadConfig({})).toMatchObject({ PORT: 3000, DATA_DIR: './.data', NODE_ENV: 'development', CREATE_DEMO_APP: true });
  });

  it('names every bad variable', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'LOG_LEVEL']) expect(message).toContain(name);
    }
  });

  it('parses CREDENTIALS_KEYS and rejects keys that are not 32 bytes', () => {
    const k1 = randomBytes(32).toString('base64');
    const k2 = randomBytes(32).toString('base64');
    const config = loadConfig({ CREDENTIALS_KEYS: `new:${k1}, old:${k2}` });
    expect(config.CREDENTIALS_KEYS?.map((k) => k.id)).toEqual(['new', 'old']);
    expect(() => loadConfig({ CREDENTIALS_KEYS: `short:${randomBytes(16).toString('base64')}` })).toThrow(/CREDENTIALS_KEYS/);
  });

  it('requires real credential keys in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/CREDENTIALS_KEYS/);
  });
});
