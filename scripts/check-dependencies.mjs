#!/usr/bin/env node
// The dependency rules of dependency-rules.json, checked over every .ts file of the source folders. Plain Node, no
// dependencies (dependency-cruiser needs Node 22). Known violations are listed in dependency-baseline.json: the check
// fails on a violation not listed there, and on a listed one that no longer occurs, so the baseline can only shrink.
//
//   node scripts/check-dependencies.mjs [--root DIR] [--rules FILE] [--baseline FILE] [--write-baseline] [--verbose]
//
// FILE paths are relative to the root (default: this repository). --write-baseline records today's violations.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const root = resolve(option('--root', join(dirname(fileURLToPath(import.meta.url)), '..')));
const rulesFile = option('--rules', 'dependency-rules.json');
const baselineFile = option('--baseline', 'dependency-baseline.json');
const writeBaseline = args.includes('--write-baseline');
const verbose = args.includes('--verbose');

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer: just enough of TypeScript to find import specifiers and never mistake a comment, a string, a template
// or a regular expression for code.

const isIdStart = (c) => /[A-Za-z_$]/.test(c);
const isIdPart = (c) => /[A-Za-z0-9_$]/.test(c);
// After these a `/` starts a regular expression, not a division.
const REGEX_AFTER_KEYWORDS = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);

/** Tokens of `text`: { type: 'id' | 'string' | 'punct', value, line }. Template text is dropped; its ${…} code is kept. */
function tokenize(text) {
  const tokens = [];
  // A stack of brace depths at which a template's ${ opened: the matching } resumes the template.
  const templateDepths = [];
  let depth = 0;
  let line = 1;
  let i = 0;
  const n = text.length;
  const last = () => tokens[tokens.length - 1];
  const regexAllowed = () => {
    const t = last();
    if (!t) return true;
    if (t.type === 'string' || t.type === 'template' || t.type === 'regex') return false;
    if (t.type === 'id') return REGEX_AFTER_KEYWORDS.has(t.value);
    return !(t.value === ')' || t.value === ']' || t.value === '}');
  };
  /** Skips a template's text from i (just after ` or }) to its end or its next ${. */
  const templateText = () => {
    while (i < n) {
      const c = text[i];
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === '\n') line++;
      if (c === '`') {
        i++;
        tokens.push({ type: 'template', value: '', line });
        return;
      }
      if (c === '$' && text[i + 1] === '{') {
        i += 2;
        templateDepths.push(depth);
        depth++;
        tokens.push({ type: 'punct', value: '${', line });
        return;
      }
      i++;
    }
  };
  while (i < n) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\uFEFF' || c === '\u00A0') {
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      for (let k = i; k < stop; k++) if (text[k] === '\n') line++;
      i = stop;
    } else if (c === "'" || c === '"') {
      const start = line;
      let value = '';
      i++;
      while (i < n && text[i] !== c) {
        if (text[i] === '\\') {
          if (text[i + 1] === '\n') line++;
          value += text[i + 1] ?? '';
          i += 2;
          continue;
        }
        if (text[i] === '\n') break; // an unterminated string ends at the line (TypeScript reports it)
        value += text[i++];
      }
      i++;
      tokens.push({ type: 'string', value, line: start });
    } else if (c === '`') {
      i++;
      templateText();
    } else if (c === '/' && regexAllowed()) {
      let inClass = false;
      i++;
      while (i < n && text[i] !== '\n') {
        const r = text[i];
        if (r === '\\') {
          i += 2;
          continue;
        }
        if (r === '[') inClass = true;
        else if (r === ']') inClass = false;
        else if (r === '/' && !inClass) break;
        i++;
      }
      i++;
      while (i < n && isIdPart(text[i])) i++; // flags
      tokens.push({ type: 'regex', value: '', line });
    } else if (isIdStart(c) || c === '#' || c === '@') {
      const start = i++;
      while (i < n && isIdPart(text[i])) i++;
      tokens.push({ type: 'id', value: text.slice(start, i), line });
    } else if (/[0-9]/.test(c)) {
      while (i < n && /[0-9A-Za-z_.]/.test(text[i])) i++;
      tokens.push({ type: 'number', value: '', line });
    } else {
      if (c === '{') depth++;
      if (c === '}') {
        depth--;
        if (templateDepths.length && templateDepths[templateDepths.length - 1] === depth) {
          templateDepths.pop();
          i++;
          templateText();
          continue;
        }
      }
      // `?.` and `...` matter only in that `.import` is not an import: keep single characters.
      tokens.push({ type: 'punct', value: c, line });
      i++;
    }
  }
  return tokens;
}

/** The module specifiers `text` imports: static imports, `export … from`, and import('…') with a literal argument. */
function importsOf(text) {
  const tokens = tokenize(text);
  const found = [];
  const at = (k) => tokens[k];
  const is = (k, type, value) => at(k)?.type === type && (value === undefined || at(k).value === value);
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.type !== 'id' || (t.value !== 'import' && t.value !== 'export')) continue;
    if (is(k - 1, 'punct', '.')) continue; // x.import, import.meta is handled below
    if (t.value === 'import') {
      if (is(k + 1, 'punct', '.')) continue; // import.meta
      if (is(k + 1, 'punct', '(')) {
        if (is(k + 2, 'string') && (is(k + 3, 'punct', ')') || is(k + 3, 'punct', ','))) {
          found.push({ specifier: at(k + 2).value, line: t.line, kind: 'dynamic' });
        }
        continue;
      }
      if (is(k + 1, 'string')) {
        found.push({ specifier: at(k + 1).value, line: t.line, kind: 'side-effect' });
        continue;
      }
      const typeOnly = is(k + 1, 'id', 'type') && !is(k + 2, 'id', 'from') && !is(k + 2, 'punct', ',') && !is(k + 2, 'punct', '=');
      const spec = fromClause(k + 1);
      if (spec) found.push({ specifier: spec.value, line: t.line, kind: typeOnly ? 'type' : 'static' });
    } else {
      // export * from, export * as x from, export { … } from, export type { … } from
      let j = k + 1;
      const typeOnly = is(j, 'id', 'type');
      if (typeOnly) j++;
      if (!is(j, 'punct', '*') && !is(j, 'punct', '{')) continue;
      const spec = fromClause(j);
      if (spec) found.push({ specifier: spec.value, line: t.line, kind: typeOnly ? 'type' : 'static' });
    }
  }
  return found;

  /** From token k, the string after `from` that ends this import/export clause, or null if the clause has none. */
  function fromClause(k) {
    let braces = 0;
    for (let j = k; j < tokens.length; j++) {
      const u = tokens[j];
      if (u.type === 'punct') {
        if (u.value === '{') braces++;
        else if (u.value === '}') braces--;
        else if (braces === 0 && (u.value === ';' || u.value === '=' || u.value === '(')) return null;
      }
      if (braces === 0 && u.type === 'id' && u.value === 'from' && is(j + 1, 'string')) return at(j + 1);
      if (braces === 0 && u.type === 'string') return null;
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The module graph.

const toPosix = (p) => p.split(sep).join('/');
// Code-unit order, the same on every machine (localeCompare is not).
const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

function listTs(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && !entry.name.startsWith('.')) out.push(...listTs(full));
    } else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/** A relative specifier resolved to a repository path: the file itself, X.ts for X.js, or a folder's index.ts. */
function resolveRelative(fromFile, specifier) {
  const target = posix.normalize(posix.join(posix.dirname(fromFile), specifier));
  const candidates = [target, target.replace(/\.(m?js)$/, (_, e) => (e === 'mjs' ? '.mts' : '.ts')), `${target}.ts`, `${target}/index.ts`];
  for (const c of candidates) {
    const full = join(root, c);
    if (existsSync(full) && statSync(full).isFile()) return c;
  }
  return target; // unresolved: still reported by path, so a rule on paths sees it
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

const globToRegex = (glob) =>
  new RegExp(
    `^${glob
      .split('**')
      .map((part) =>
        part
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^/]*'),
      )
      .join('.*')}$`,
  );
const matchesAny = (globs, value) => (globs ?? []).some((g) => globToRegex(g).test(value));

function buildGraph(sources) {
  const files = sources.flatMap((s) => listTs(join(root, s))).map((f) => toPosix(relative(root, f)));
  files.sort(byText);
  const imports = [];
  for (const file of files) {
    for (const found of importsOf(readFileSync(join(root, file), 'utf8'))) {
      const relativeSpec = found.specifier.startsWith('.');
      if (!relativeSpec && found.specifier.startsWith('node:')) continue;
      imports.push({
        from: file,
        line: found.line,
        kind: found.kind,
        specifier: found.specifier,
        to: relativeSpec ? resolveRelative(file, found.specifier) : null,
        package: relativeSpec ? null : packageOf(found.specifier),
      });
    }
  }
  return { files, imports };
}

// ---------------------------------------------------------------------------------------------------------------
// Rules. Each violation is an edge { rule, from, to } (files or packages; folders for cycles) with example imports.

const where = (imp) => `${imp.from}:${imp.line} imports '${imp.specifier}'${imp.kind === 'type' ? ' (type only)' : ''}`;

function forbidden(rule, graph) {
  const edges = new Map();
  for (const imp of graph.imports) {
    if (rule.from?.path && !matchesAny(rule.from.path, imp.from)) continue;
    if (rule.from?.pathNot && matchesAny(rule.from.pathNot, imp.from)) continue;
    const target = imp.package ?? imp.to;
    const hit = imp.package ? matchesAny(rule.to.package, imp.package) : matchesAny(rule.to.path, imp.to);
    if (!hit) continue;
    const key = `${imp.from}\0${target}`;
    if (!edges.has(key)) edges.set(key, { rule: rule.name, from: imp.from, to: target, examples: [] });
    edges.get(key).examples.push(where(imp));
  }
  return [...edges.values()];
}

/** The folder a path belongs to under the pattern `src/*`: src/jobs/job.queue.ts → src/jobs, src/config.ts → src/config. */
function folderOf(pattern, path) {
  const depth = pattern.split('/').length;
  const parts = path.split('/');
  if (parts.length < depth || !globToRegex(pattern).test(parts.slice(0, depth).join('/'))) return null;
  return parts.slice(0, depth).join('/').replace(/\.ts$/, '');
}

function noCycles(rule, graph) {
  const between = new Map(); // "a\0b" → imports from folder a into folder b
  const next = new Map();
  for (const imp of graph.imports) {
    if (!imp.to) continue;
    const a = folderOf(rule.folderOf, imp.from);
    const b = folderOf(rule.folderOf, imp.to);
    if (!a || !b || a === b) continue;
    const key = `${a}\0${b}`;
    if (!between.has(key)) {
      between.set(key, []);
      if (!next.has(a)) next.set(a, new Set());
      next.get(a).add(b);
    }
    between.get(key).push(imp);
  }
  // For each folder edge a→b, the shortest way back from b to a (if any) closes a cycle through it.
  const pathBack = (from, to) => {
    const previous = new Map([[from, null]]);
    const queue = [from];
    while (queue.length) {
      const x = queue.shift();
      if (x === to) {
        const path = [];
        for (let y = to; y !== null; y = previous.get(y)) path.unshift(y);
        return path;
      }
      for (const y of [...(next.get(x) ?? [])].sort(byText)) {
        if (!previous.has(y)) {
          previous.set(y, x);
          queue.push(y);
        }
      }
    }
    return null;
  };
  const cycles = new Map();
  const edges = [];
  for (const key of [...between.keys()].sort(byText)) {
    const [a, b] = key.split('\0');
    const back = pathBack(b, a);
    if (!back) continue;
    const imps = between.get(key);
    edges.push({
      rule: rule.name,
      from: a,
      to: b,
      examples: [`${where(imps[0])} (${imps.length} import${imps.length === 1 ? '' : 's'} from ${a} into ${b})`],
    });
    const cycle = [a, ...back.slice(0, -1)];
    const smallest = cycle.indexOf([...cycle].sort(byText)[0]);
    const canonical = [...cycle.slice(smallest), ...cycle.slice(0, smallest)];
    cycles.set(canonical.join(' → '), canonical);
  }
  const describe = [...cycles.values()].map((c) => ({
    folders: [...c, c[0]].join(' → '),
    keys: c.map((x, i) => `${rule.name}\0${x}\0${c[(i + 1) % c.length]}`),
    edges: c.map((x, i) => {
      const y = c[(i + 1) % c.length];
      const imps = between.get(`${x}\0${y}`);
      return `${x} → ${y}: ${where(imps[0])}${imps.length > 1 ? ` (and ${imps.length - 1} more)` : ''}`;
    }),
  }));
  return { edges, cycles: describe };
}

// ---------------------------------------------------------------------------------------------------------------

const config = JSON.parse(readFileSync(join(root, rulesFile), 'utf8'));
const graph = buildGraph(config.sources);
const violations = [];
const cycleReports = [];
for (const rule of config.rules) {
  if (rule.kind === 'forbidden') violations.push(...forbidden(rule, graph));
  else if (rule.kind === 'no-cycles') {
    const { edges, cycles } = noCycles(rule, graph);
    violations.push(...edges);
    cycleReports.push(...cycles.map((c) => ({ rule: rule.name, ...c })));
  } else throw new Error(`${rulesFile}: rule ${rule.name} has an unknown kind ${rule.kind}`);
}

const keyOf = (v) => `${v.rule}\0${v.from}\0${v.to}`;
const out = [];
const say = (s = '') => out.push(s);
say(`dependency rules (${rulesFile}): ${graph.files.length} files, ${graph.imports.length} imports, ${config.rules.length} rules`);

if (writeBaseline) {
  const entries = violations.map(({ rule, from, to }) => ({ rule, from, to })).sort((x, y) => byText(keyOf(x), keyOf(y)));
  const body = {
    $comment:
      'Known violations of dependency-rules.json, exact edges (file → file or package; folder → folder for cycles), being removed. scripts/check-dependencies.mjs fails on any violation not listed here and on any entry here that no longer occurs: remove an entry when its violation is gone, never add one.',
    violations: entries,
  };
  writeFileSync(join(root, baselineFile), `${JSON.stringify(body, null, 2)}\n`);
  say(`wrote ${entries.length} known violations to ${baselineFile}`);
  console.log(out.join('\n'));
  process.exit(0);
}

const baselinePath = join(root, baselineFile);
const baseline = existsSync(baselinePath) ? JSON.parse(readFileSync(baselinePath, 'utf8')).violations : [];
const known = new Set(baseline.map(keyOf));
const current = new Set(violations.map(keyOf));
const fresh = violations.filter((v) => !known.has(keyOf(v)));
const gone = baseline.filter((b) => !current.has(keyOf(b)));

for (const rule of config.rules) {
  const mine = violations.filter((v) => v.rule === rule.name);
  const newOnes = fresh.filter((v) => v.rule === rule.name).length;
  const goneOnes = gone.filter((v) => v.rule === rule.name).length;
  say(
    `  ${newOnes || goneOnes ? '✗' : '✓'} ${rule.name}: ${mine.length} violation${mine.length === 1 ? '' : 's'} (${mine.length - newOnes} known in the baseline, ${newOnes} new), ${goneOnes} baseline entr${goneOnes === 1 ? 'y' : 'ies'} gone`,
  );
}
// Every cycle with --verbose; otherwise those a new violation is part of (the known ones are in the baseline).
const freshKeys = new Set(fresh.map(keyOf));
const shown = verbose ? cycleReports : cycleReports.filter((c) => c.keys.some((k) => freshKeys.has(k)));
if (cycleReports.length > shown.length) {
  say(
    `  ${cycleReports.length - shown.length} known folder cycle(s) not shown: npm run deps -- --verbose lists each, with one import per edge`,
  );
}
for (const c of shown) {
  say(`  cycle [${c.rule}]: ${c.folders}`);
  for (const e of c.edges) say(`      ${e}`);
}
if (verbose) {
  say();
  say('known violations (in the baseline):');
  for (const v of violations.filter((x) => known.has(keyOf(x)))) say(`  [${v.rule}] ${v.from} → ${v.to}: ${v.examples[0]}`);
}
if (fresh.length) {
  say();
  say(`FAIL: ${fresh.length} new violation${fresh.length === 1 ? '' : 's'} (not in ${baselineFile}):`);
  for (const v of fresh) {
    const rule = config.rules.find((r) => r.name === v.rule);
    say(`  [${v.rule}] ${v.from} → ${v.to}`);
    say(`      rule: ${rule.description}`);
    for (const e of v.examples.slice(0, 3)) say(`      ${e}`);
  }
}
if (gone.length) {
  say();
  say(
    `FAIL: ${gone.length} baseline entr${gone.length === 1 ? 'y no longer occurs' : 'ies no longer occur'}: remove ${gone.length === 1 ? 'it' : 'them'} from ${baselineFile} (the baseline only shrinks):`,
  );
  for (const b of gone) say(`  [${b.rule}] ${b.from} → ${b.to}`);
}
if (!fresh.length && !gone.length)
  say(`OK: no new violations; ${violations.length} known one${violations.length === 1 ? '' : 's'} left in ${baselineFile}`);
console.log(out.join('\n'));
process.exit(fresh.length || gone.length ? 1 : 0);
