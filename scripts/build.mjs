// npm run build: compiles src, entities and migrations to dist/ (JavaScript and declaration files, tsconfig.build.json)
// and copies every src/**/assets/ folder beside its compiled code, so `new URL('./assets/…', import.meta.url)` finds
// it from dist too.
//
//   node scripts/build.mjs             always builds (npm run build, prepare)
//   node scripts/build.mjs --if-stale  builds only when dist/ is missing or older than a source (npm start, the tests)
//
// Plain JavaScript on purpose: it runs where tsx may not be installed, and before anything is compiled.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(ROOT, 'dist');
/** Written last: its time is when the build finished, and it exists only if the build succeeded. */
const STAMP = path.join(DIST, '.build-stamp');
/** What the build reads: a change to any of them makes dist/ stale. */
const INPUTS = ['src', 'entities', 'migrations', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'scripts/build.mjs'];

function* files(target) {
  if (!existsSync(target)) return;
  const stat = statSync(target);
  // A folder's own time counts too: deleting or renaming a file changes only that.
  yield { file: target, mtimeMs: stat.mtimeMs };
  if (!stat.isDirectory()) return;
  for (const entry of readdirSync(target, { withFileTypes: true })) yield* files(path.join(target, entry.name));
}

function* assetFolders(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const full = path.join(dir, entry.name);
    if (entry.name === 'assets') yield full;
    else yield* assetFolders(full);
  }
}

/** The first input newer than the last build, or null when dist/ is up to date. */
function staleBecause() {
  if (!existsSync(STAMP)) return 'dist/ has not been built';
  const built = statSync(STAMP).mtimeMs;
  for (const input of INPUTS) {
    for (const { file, mtimeMs } of files(path.join(ROOT, input))) {
      if (mtimeMs > built) return `${path.relative(ROOT, file)} changed`;
    }
  }
  return null;
}

/** One JSON line, like every other line the service prints (npm start's output stays machine-readable). */
function say(msg, extra = {}) {
  process.stderr.write(`${JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, component: 'build', ...extra, msg })}\n`);
}

if (process.argv.includes('--if-stale')) {
  const reason = staleBecause();
  if (!reason) process.exit(0);
  say(`building dist/ (${reason})`);
}

const started = Date.now();
// Built beside dist/ and swapped in at the end: a process starting from dist/ meanwhile (a test run, a replica) never
// sees half a tree, and a failed build leaves the last good one in place.
const next = path.join(ROOT, `.dist-building-${process.pid}`);
rmSync(next, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', next],
  { stdio: 'inherit', cwd: ROOT },
);
if (tsc.status !== 0) {
  rmSync(next, { recursive: true, force: true });
  say('build failed: tsc -p tsconfig.build.json reported errors (above)', { level: 50 });
  process.exit(tsc.status ?? 1);
}
const copied = [];
for (const folder of assetFolders(path.join(ROOT, 'src'))) {
  const relative = path.relative(ROOT, folder);
  cpSync(folder, path.join(next, relative), { recursive: true });
  copied.push(relative);
}
writeFileSync(path.join(next, path.basename(STAMP)), `${new Date().toISOString()}\n`);
rmSync(DIST, { recursive: true, force: true });
try {
  renameSync(next, DIST);
} catch (error) {
  // Another build (a second test run) swapped its tree in between: it is built from the same sources, keep it.
  if (!existsSync(STAMP)) throw error;
  rmSync(next, { recursive: true, force: true });
}
say('built dist/', { ms: Date.now() - started, assets: copied });
