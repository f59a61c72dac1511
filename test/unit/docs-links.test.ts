import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The docs link to each other instead of repeating themselves, so a moved section must not leave a dead link.
// Every relative link in README.md and docs/*.md must name a file that exists and, with a #fragment, a heading in it.

const ROOT = path.resolve(import.meta.dirname, '../..');
const pages = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*]/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

function links(page: string): { target: string; fragment: string | undefined }[] {
  const text = readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((href) => !/^[a-z]+:/.test(href))
    .map((href) => {
      const [file, fragment] = href.split('#') as [string, string | undefined];
      return { target: file === '' ? page : path.join(path.dirname(page), file), fragment };
    });
}

describe('documentation links', () => {
  it('computes anchors as GitHub does', () => {
    expect(slug('Recovery, delivery backstop and retention')).toBe('recovery-delivery-backstop-and-retention');
    expect(slug('`CREDENTIALS_KEYS`')).toBe('credentials_keys');
  });

  it.each(pages)('every relative link in %s resolves', (page) => {
    const dead: string[] = [];
    for (const { target, fragment } of links(page)) {
      const file = path.join(ROOT, target);
      if (!existsSync(file)) dead.push(`${target} (no such file)`);
      else if (fragment && target.endsWith('.md') && !anchors(file).has(fragment)) dead.push(`${target}#${fragment} (no such heading)`);
    }
    expect(dead).toEqual([]);
  });
});
