import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { canReach, packagedBinaries, postgresOsUser, reachableBinaries, startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { freePort } from '../helpers/free-port.ts';

// As root, PostgreSQL runs as the `postgres` OS user, which cannot enter a 0700 folder: what `mktemp -d` makes, or
// root's home, where a fresh clone often lives. The embedded server must work from there anyway.

const asRoot = process.getuid?.() === 0;
const cleanup: string[] = [];
afterAll(() => {
  for (const p of cleanup) rmSync(p, { recursive: true, force: true });
});

/** Files a crashed or finished initdb might have left in the temp dir (the password it was given). */
const secretLeftovers = () => readdirSync(tmpdir()).filter((f) => f.startsWith('pg-password-') || f.startsWith('cs-initdb-'));

describe.runIf(asRoot)('embedded PostgreSQL as root from a private folder', () => {
  it('starts with its data dir inside a 0700 folder, and leaves no password file behind', { timeout: 120_000 }, async () => {
    const before = secretLeftovers();
    const privateDir = mkdtempSync(path.join(tmpdir(), 'cs-private-'));
    cleanup.push(privateDir);
    expect(statSync(privateDir).mode & 0o777).toBe(0o700);
    const runAs = await postgresOsUser();
    expect(canReach(path.join(privateDir, 'pg'), runAs, 1)).toBe(false);

    const server = await startEmbeddedPostgres({
      databaseDir: path.join(privateDir, 'pg'),
      port: await freePort(),
      database: 'probe',
      persistent: false,
    });
    try {
      // The cluster lives where postgres can reach it, and DATA_DIR points there.
      expect(server.dataDir).not.toBe(path.join(privateDir, 'pg'));
      expect(lstatSync(path.join(privateDir, 'pg')).isSymbolicLink()).toBe(true);
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      await client.end();
      expect(rows[0]!.db).toBe('probe');
    } finally {
      await server.stop();
    }
    expect(existsSync(server.dataDir)).toBe(false); // a throwaway cluster is gone after stop
    expect(secretLeftovers()).toEqual(before);
  });

  it('runs binaries installed inside a 0700 folder from a root-owned copy', { timeout: 120_000 }, async () => {
    const found = await packagedBinaries();
    const privateDir = mkdtempSync(path.join(tmpdir(), 'cs-private-bin-'));
    cleanup.push(privateDir);
    const nativeDir = path.join(privateDir, 'native');
    cpSync(found.nativeDir, nativeDir, { recursive: true, verbatimSymlinks: true });
    const inPrivate = {
      nativeDir,
      version: `test-${path.basename(privateDir)}`,
      postgres: path.join(nativeDir, 'bin', 'postgres'),
      initdb: path.join(nativeDir, 'bin', 'initdb'),
    };
    const runAs = await postgresOsUser();
    expect(canReach(inPrivate.postgres, runAs, 5)).toBe(false);

    const usable = reachableBinaries(inPrivate, runAs, () => {});
    const copy = path.dirname(path.dirname(usable.postgres));
    cleanup.push(copy);
    expect(copy.startsWith(privateDir)).toBe(false);
    const st = statSync(copy);
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o755]);
    const version = execFileSync(usable.postgres, ['--version'], { uid: runAs.uid, gid: runAs.gid, encoding: 'utf8' });
    expect(version).toMatch(/^postgres \(PostgreSQL\) \d+/);
    // Asked again, the same copy is used.
    expect(reachableBinaries(inPrivate, runAs, () => {}).postgres).toBe(usable.postgres);
  });
});
