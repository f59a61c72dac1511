import superjson from 'superjson';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serializeOutput } from '../../src/api/transformer.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

/** Either both throw the same error, or both give the same result, key order and -0 included. */
function expectSameAsSuperjson(value: unknown): 'same' | 'both threw' {
  let expected: unknown;
  try {
    expected = superjson.serialize(value);
  } catch (error) {
    expect(() => serializeOutput(value)).toThrow((error as Error).message);
    return 'both threw';
  }
  const actual = serializeOutput(value);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
  expect(actual).toStrictEqual(expected);
  expect(superjson.deserialize(actual)).toStrictEqual(superjson.deserialize(expected as never));
  return 'same';
}

describe('response transformer (superjson format)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('matches superjson on plain data with Dates anywhere', () => {
    const at = () => new Date('2026-05-01T10:00:00.123Z');
    expectSameAsSuperjson({
      a: 1,
      b: 'x',
      c: null,
      d: true,
      e: at(),
      items: [{ createdAt: at(), nested: { when: at(), list: [at(), 'y'] } }],
      empty: [],
      obj: {},
    });
    expectSameAsSuperjson({ 'dotted.key': at(), 'back\\slash': at(), 'both\\.x': { 'y.z': at() }, '': at() });
    expectSameAsSuperjson([at(), { at: at() }]);
    expectSameAsSuperjson(at());
    expectSameAsSuperjson('plain');
    expectSameAsSuperjson(null);
    expectSameAsSuperjson(undefined);
  });

  it('refuses the keys superjson refuses, with its error, at any depth', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const own = (v: unknown) => Object.defineProperty({ ok: 1 }, key, { value: v, enumerable: true, writable: true, configurable: true });
      for (const value of [own(1), { deep: [own(new Date(1))] }, JSON.parse(`{"${key}": {"x": 1}}`)]) {
        expect(() => superjson.serialize(value)).toThrow(/prototype pollution/);
        expect(() => serializeOutput(value)).toThrow(
          `Detected property ${key}. This is a prototype pollution risk, please remove it from your object.`,
        );
      }
    }
    // As a value, or as a Map key (a Map becomes an array of entries), they are ordinary strings.
    expect(expectSameAsSuperjson({ a: '__proto__', m: new Map([['constructor', 1]]) })).toBe('same');
  });

  it('is superjson, value for value, on seeded random values', () => {
    const fallbacks = vi.spyOn(superjson, 'serialize');
    let threw = 0;
    let fast = 0;
    const runs = 3_000;
    for (let seed = 1; seed <= runs; seed++) {
      const value = randomValue(seededRandom(seed));
      const before = fallbacks.mock.calls.length;
      let outcome;
      try {
        outcome = expectSameAsSuperjson(value);
      } catch (error) {
        throw new Error(`seed ${seed}: ${(error as Error).message}`, { cause: error });
      }
      if (outcome === 'both threw') threw++;
      // expectSameAsSuperjson calls superjson.serialize once itself; a second call is the writer falling back.
      else if (fallbacks.mock.calls.length - before === 1) fast++;
    }
    // The generator must exercise all three roads, or this test proves little.
    expect(fast).toBeGreaterThan(runs / 10);
    expect(threw).toBeGreaterThan(runs / 40);
    expect(runs - fast - threw).toBeGreaterThan(runs / 10);
  });
});

const KEYS = [
  'id',
  'a.b',
  'c\\d',
  '\\.',
  '..',
  '',
  '0',
  '10',
  'créé',
  'name',
  'x y',
  '__proto__',
  'constructor',
  'prototype',
  'meta',
  'json',
];
const STRINGS = ['', 'plain', 'a.b', 'back\\slash', '__proto__', 'constructor', '2026-05-01T10:00:00.000Z', '☃', '"quoted"'];

/**
 * Nested objects and arrays of strings, numbers (NaN, ±Infinity, -0 included), booleans, null, undefined, Dates
 * (invalid ones too), Maps, Sets and BigInts, with refused keys now and then and objects reused (shared references).
 */
function randomValue(rand: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const made: object[] = [];
  // Mostly plain data, so that the fast road is taken often; the rest is what superjson must handle itself.
  const refusedKeys = rand() < 0.15;
  const exotic = rand() < 0.4;
  const keyOf = () => {
    const key = pick(KEYS);
    return !refusedKeys && ['__proto__', 'constructor', 'prototype'].includes(key) ? `${key}_` : key;
  };
  const leaf = (): unknown => {
    const r = rand();
    if (r < 0.25) return pick(STRINGS);
    if (r < 0.45) return Math.floor(rand() * 2000) - 1000 + (rand() < 0.3 ? rand() : 0);
    if (r < 0.55) return rand() < 0.5;
    if (r < 0.65) return null;
    if (r < 0.85) return new Date(Date.UTC(2020, 0, 1) + Math.floor(rand() * 2e11));
    if (!exotic) return pick(STRINGS);
    return pick([
      undefined,
      Number.NaN,
      -0,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      BigInt(Math.floor(rand() * 1e6)),
      new Date(Number.NaN),
    ]);
  };
  const node = (depth: number): unknown => {
    const r = rand();
    if (depth > 3 || r < 0.35) return leaf();
    if (exotic && made.length && r < 0.45) return pick(made);
    let value: object;
    if (r < 0.7) {
      const obj: Record<string, unknown> = {};
      const n = Math.floor(rand() * 5);
      for (let i = 0; i < n; i++) {
        // defineProperty: an own "__proto__" key, as JSON.parse makes one, not a prototype change.
        Object.defineProperty(obj, keyOf(), { value: node(depth + 1), enumerable: true, writable: true, configurable: true });
      }
      value = obj;
    } else if (r < 0.9 || !exotic) {
      value = Array.from({ length: Math.floor(rand() * 5) }, () => node(depth + 1));
    } else if (r < 0.95) {
      value = new Map(
        Array.from({ length: Math.floor(rand() * 3) }, () => [rand() < 0.5 ? keyOf() : node(depth + 1), node(depth + 1)] as const),
      );
    } else {
      value = new Set(Array.from({ length: Math.floor(rand() * 3) }, () => node(depth + 1)));
    }
    made.push(value);
    return value;
  };
  return node(0);
}
