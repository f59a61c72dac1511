import { describe, expect, it } from 'vitest';
import { ApiKeyCache } from '../../src/apps/api-key-cache.ts';
import type { AppSummary } from '../../src/apps/app.service.ts';

const KEY = `csk_${'a'.repeat(43)}`;
const OTHER = `csk_${'b'.repeat(43)}`;
const APP: AppSummary = { id: 'app-1', name: 'one', apiKeyPrefix: 'csk_aaaaaa', createdAt: new Date(0), keyRotatedAt: null };

/** A lookup that answers from `keys` (changed by the test, as a rotation would change the table) and counts calls. */
function fixture(ttlMs: number) {
  const keys = new Map<string, AppSummary>([[KEY, APP]]);
  let now = 1_000;
  const calls: string[] = [];
  const cache = new ApiKeyCache(
    async (key) => {
      calls.push(key);
      return keys.get(key) ?? null;
    },
    ttlMs,
    () => now,
  );
  return { cache, keys, calls, advance: (ms: number) => (now += ms) };
}

describe('ApiKeyCache', () => {
  it('forgets every key when told one was replaced, and remembers nothing while it is not told (untrusted)', async () => {
    const f = fixture(60_000);
    await f.cache.authenticate(KEY);
    f.keys.delete(KEY);
    expect(await f.cache.authenticate(KEY)).toEqual(APP);
    f.cache.clear();
    expect(await f.cache.authenticate(KEY)).toBeNull();
    f.keys.set(KEY, APP);
    f.cache.setTrusted(false);
    await f.cache.authenticate(KEY);
    await f.cache.authenticate(KEY);
    expect(f.calls).toHaveLength(4);
    f.cache.setTrusted(true);
    await f.cache.authenticate(KEY);
    await f.cache.authenticate(KEY);
    expect(f.calls).toHaveLength(5);
  });

  it('looks a found key up once per TTL, and a rotated key stops working when the TTL ends', async () => {
    const f = fixture(5_000);
    expect(await f.cache.authenticate(KEY)).toEqual(APP);
    expect(await f.cache.authenticate(KEY)).toEqual(APP);
    expect(f.calls).toHaveLength(1);
    f.keys.delete(KEY);
    f.advance(4_999);
    expect(await f.cache.authenticate(KEY)).toEqual(APP);
    f.advance(1);
    expect(await f.cache.authenticate(KEY)).toBeNull();
    expect(f.calls).toHaveLength(2);
  });

  it('never remembers a key that was not found: a key created a moment later works on its next call', async () => {
    const f = fixture(5_000);
    expect(await f.cache.authenticate(OTHER)).toBeNull();
    f.keys.set(OTHER, { ...APP, id: 'app-2' });
    expect((await f.cache.authenticate(OTHER))?.id).toBe('app-2');
    expect(f.calls).toEqual([OTHER, OTHER]);
  });

  it('shares one lookup between concurrent first calls, and forgets a lookup that failed', async () => {
    let fail = true;
    let calls = 0;
    const cache = new ApiKeyCache(async () => {
      calls++;
      if (fail) throw new Error('database away');
      return APP;
    }, 5_000);
    const results = await Promise.allSettled([cache.authenticate(KEY), cache.authenticate(KEY)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    fail = false;
    expect(await cache.authenticate(KEY)).toEqual(APP);
    expect(calls).toBe(2);
  });

  it('with a TTL of 0 looks every key up', async () => {
    const f = fixture(0);
    await f.cache.authenticate(KEY);
    await f.cache.authenticate(KEY);
    expect(f.calls).toHaveLength(2);
  });
});
