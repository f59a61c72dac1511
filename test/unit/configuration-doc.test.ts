import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.ts';

// docs/configuration.md is the one list of the environment. Its table must name exactly the variables that
// src/config.ts parses, and each documented default, given back as the variable's value, must parse to what an
// unset variable gives: so a default changed in code and not in the docs (or the other way round) fails here.

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|/gm)].map((m) => ({ name: m[1]!, cell: m[2]!.trim() }));
// What production needs to start at all.
const PRODUCTION = { NODE_ENV: 'production', CREDENTIALS_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };

type Env = Record<string, string>;
const value = (env: Env, name: string) => (loadConfig(env) as unknown as Record<string, unknown>)[name];

/** The documented default in development, and the one in production when the cell gives one (`…` when `NODE_ENV=production`). */
function defaults(cell: string): { development: string; production?: string } {
  const production = /`([^`]*)` (?:when|in) `NODE_ENV=production`/.exec(cell)?.[1];
  if (/^(unset|empty)\b/.test(cell)) return { development: cell.split(/\W/)[0]!, production };
  const first = /^`([^`]*)`/.exec(cell);
  if (!first) throw new Error(`default "${cell}" is neither unset, empty nor a value in backquotes`);
  return { development: first[1]!, production };
}

function expectDefault(name: string, documented: string, base: Env) {
  const actual = value(base, name);
  if (documented === 'unset') return expect(actual, name).toBeUndefined();
  if (documented === 'empty') return expect(actual === '' || (Array.isArray(actual) && actual.length === 0), `${name} is empty`).toBe(true);
  const given = documented.replace('PORT', String(value(base, 'PORT')));
  expect(value({ ...base, [name]: given }, name), `${name}=${given}`).toEqual(actual);
}

describe('docs/configuration.md', () => {
  it('lists exactly the variables src/config.ts parses, each once', () => {
    const names = rows.map((r) => r.name);
    expect(new Set(names).size, 'a variable is listed twice').toBe(names.length);
    expect([...names].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it.each(rows)('documents the default of $name', ({ name, cell }) => {
    const { development, production } = defaults(cell);
    expectDefault(name, development, {});
    if (production !== undefined) expectDefault(name, production, PRODUCTION);
  });

  it('notices a wrong default', () => {
    // The check itself can fail: PORT's default is 3000, not 3001.
    expect(() => expectDefault('PORT', '3001', {})).toThrow();
  });
});
