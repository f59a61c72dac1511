import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { serializeOutput } from '../../src/api/wire-format.ts';

// The fast path must be byte-for-byte what superjson sends, and fall back to superjson for anything else.
const same = (value: unknown) => expect(JSON.stringify(serializeOutput(value))).toBe(JSON.stringify(superjson.serialize(value)));

describe('response wire format', () => {
  it('matches superjson on plain data with Dates anywhere', () => {
    const at = () => new Date('2026-05-01T10:00:00.123Z');
    same({ a: 1, b: 'x', c: null, d: true, e: at(), items: [{ createdAt: at(), nested: { when: at(), list: [at(), 'y'] } }], empty: [], obj: {} });
    same({ 'dotted.key': at(), 'back\\slash': at(), 'both\\.x': { 'y.z': at() } });
    same([at(), { at: at() }]);
    same(at());
    same('plain');
    same(null);
    same({ nothingSpecial: [1, 2, 3] });
  });

  it('falls back to superjson for what it does not handle, with identical output', () => {
    same({ u: undefined, a: 1 });
    same({ big: BigInt(12) });
    same({ m: new Map([['k', 1]]) });
    same({ n: Number.NaN, i: Number.POSITIVE_INFINITY });
    same({ bad: new Date(Number.NaN) });
    same({ s: new Set([1]) });
    class Thing {
      x = 1;
    }
    same({ t: new Thing() });
    // The same object twice: superjson records the shared reference.
    const shared = new Date(7);
    same({ a: shared, b: [shared] });
  });

  it('round-trips through superjson.deserialize', () => {
    const value = { items: [{ createdAt: new Date(5), name: 'a.b' }], nextCursor: null };
    expect(superjson.deserialize(serializeOutput(value) as never)).toEqual(value);
  });
});
