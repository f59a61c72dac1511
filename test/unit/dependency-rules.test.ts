import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/run-process.ts';

// The dependency rules (dependency-rules.json) hold on the real tree, and the checker catches a violation planted in
// a copy of it: the rule, the importing file and the imported one are named, and the exit code fails CI.

const SCRIPT = path.join(ROOT, 'scripts/check-dependencies.mjs');
const check = (root: string) => {
  const run = spawnSync(process.execPath, [SCRIPT, '--root', root], { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
};

const copies: string[] = [];
/** A copy of the sources, the rules and the baseline, for planting violations in. */
function copyOfTree(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dependency-rules-'));
  copies.push(dir);
  for (const entry of ['src', 'entities', 'dependency-rules.json', 'dependency-baseline.json']) {
    cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  return dir;
}
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

describe('dependency rules', () => {
  it('hold on the tree as it is (known violations are the baseline, and every baseline entry still occurs)', () => {
    const { status, output } = check(ROOT);
    expect(output).toContain('OK: no new violations');
    expect(status).toBe(0);
  });

  it('fail on domain code importing the transport, naming the file, what it imports and the rule', () => {
    const dir = copyOfTree();
    writeFileSync(
      path.join(dir, 'src/institutions/planted.ts'),
      `import { t } from '../api/trpc.ts';\nimport { initTRPC } from '@trpc/server';\nexport const planted = [t, initTRPC];\n`,
    );
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain('[domain-imports-no-workers-or-api] src/institutions/planted.ts → src/api/trpc.ts');
    expect(output).toContain('[domain-imports-no-transport] src/institutions/planted.ts → @trpc/server');
    expect(output).toContain("src/institutions/planted.ts:1 imports '../api/trpc.ts'");
  });

  it('fail on a new folder cycle, with an import for each of its edges', () => {
    const dir = copyOfTree();
    // connections imports src/db (the keyset cursor); db importing connections back closes a cycle.
    writeFileSync(path.join(dir, 'src/db/planted.ts'), `export { ConnectionRepository } from '../connections/connection.repository.ts';\n`);
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toMatch(/\[no-folder-cycles\] src\/db → src\/connections/);
    expect(output).toContain("src/db/planted.ts:1 imports '../connections/connection.repository.ts'");
  });

  it('fail on an import against the layer order connect → connections → jobs', () => {
    const dir = copyOfTree();
    writeFileSync(path.join(dir, 'src/jobs/planted.ts'), `export { presentConnection } from '../connections/connection.presenter.ts';\n`);
    writeFileSync(path.join(dir, 'src/connections/planted.ts'), `export type { JobService } from '../connect/job.service.ts';\n`);
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain('[jobs-below-connections-and-connect] src/jobs/planted.ts → src/connections/connection.presenter.ts');
    expect(output).toContain('[connections-below-connect] src/connections/planted.ts → src/connect/job.service.ts');
    expect(output).toContain("src/jobs/planted.ts:1 imports '../connections/connection.presenter.ts'");
  });

  it('ignore imports written in comments, strings and templates, and see dynamic ones', () => {
    const dir = copyOfTree();
    writeFileSync(
      path.join(dir, 'src/institutions/planted.ts'),
      [
        `// import express from 'express';`,
        `/* export * from '../api/trpc.ts'; */`,
        `const a = "import x from 'express'";`,
        'const b = `${a} import(\'../api/trpc.ts\') ${`nested ${"}"}`}`;',
        `const c = /import '\\/express'/g;`,
        `export const loaded = [a, b, c, () => import('../scheduler/schedules.ts')];`,
      ].join('\n'),
    );
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain('[domain-imports-no-workers-or-api] src/institutions/planted.ts → src/scheduler/schedules.ts');
    expect(output).not.toContain('planted.ts → express');
    expect(output).not.toContain('planted.ts → src/api/trpc.ts');
  });

  it('fail when a baseline entry no longer occurs, so the baseline only shrinks', () => {
    const dir = copyOfTree();
    const baselinePath = path.join(dir, 'dependency-baseline.json');
    const baseline = JSON.parse(readFileSync(baselinePath, 'utf8')) as { violations: { rule: string; from: string; to: string }[] };
    baseline.violations.push({ rule: 'domain-imports-no-transport', from: 'src/connections/connection.service.ts', to: 'express' });
    writeFileSync(baselinePath, JSON.stringify(baseline));
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain('baseline entry no longer occurs');
    expect(output).toContain('[domain-imports-no-transport] src/connections/connection.service.ts → express');
  });
});
