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

  it('refuses a key id used twice (it would encrypt with one key and decrypt with another)', () => {
    const k = () => randomBytes(32).toString('base64');
    expect(() => loadConfig({ CREDENTIALS_KEYS: `k1:${k()},k1:${k()}` })).toThrow(/k1.*twice/);
  });

  it('listens on 127.0.0.1 by default in development and test, on 0.0.0.0 in production; HOST wins', () => {
    const keys = `p:${randomBytes(32).toString('base64')}`;
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'test' }).HOST).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'production', CREDENTIALS_KEYS: keys }).HOST).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'production', CREDENTIALS_KEYS: keys, HOST: '10.0.0.5' }).HOST).toBe('10.0.0.5');
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });

  it('creates the demo app by default, except in production', () => {
    expect(loadConfig({}).CREATE_DEMO_APP).toBe(true);
    const production = loadConfig({ NODE_ENV: 'production', CREDENTIALS_KEYS: `p:${randomBytes(32).toString('base64')}` });
    expect(production.CREATE_DEMO_APP).toBe(false);
    expect(loadConfig({ CREATE_DEMO_APP: 'false' }).CREATE_DEMO_APP).toBe(false);
  });

  it('parses ROLES and names a role it does not know', () => {
    expect(loadConfig({ ROLES: 'worker' }).ROLES).toEqual(['worker']);
    expect(() => loadConfig({ ROLES: 'api,cook' })).toThrow(/ROLES.*cook/);
  });

  it('requires real credential keys in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/CREDENTIALS_KEYS/);
  });
});
