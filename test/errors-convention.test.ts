import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';

/**
 * The error convention (README, Architecture): every error class pcpflow raises extends
 * PcpflowError (contracts/errors.ts, which carries a `cause` and a DBA-facing message), and lives
 * in its folder's errors module: `<folder>/errors.ts`, or `<folder>/errors/` with one file per
 * class where a folder has many (pcp/).
 */
const root = join(import.meta.dirname, '..');
const SOURCE_FOLDERS = ['contracts', 'runtime', 'machines', 'diagrams', 'simulation', 'pcp', 'hooks', 'audit', 'replication', 'workers', 'console', 'lab', 'cli'];

/** Classes allowed out of place for now, as "file ClassName", each with the work that moves it. None today. */
const TEMPORARY_EXCEPTIONS = new Set<string>();

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const isErrorsModule = (rel: string): boolean => {
  const parts = rel.split(sep);
  return (parts.length === 2 && parts[1] === 'errors.ts') || (parts.length === 3 && parts[1] === 'errors');
};

test('error classes extend PcpflowError and live in their folder’s errors module', () => {
  const problems: string[] = [];
  let seen = 0;
  const excused = new Set<string>();
  for (const folder of SOURCE_FOLDERS) {
    for (const abs of files(join(root, folder))) {
      const rel = relative(root, abs);
      const text = readFileSync(abs, 'utf8');
      for (const m of text.matchAll(/class\s+(\w+)\s+extends\s+(\w+)/g)) {
        const [, name = '', base = ''] = m;
        const isError = base === 'Error' || /Error$/.test(base) || /Error$/.test(name);
        if (!isError) continue;
        seen++;
        if (TEMPORARY_EXCEPTIONS.has(`${rel} ${name}`)) {
          excused.add(`${rel} ${name}`);
          continue;
        }
        if (base === 'Error' && name !== 'PcpflowError') problems.push(`${rel}: ${name} extends Error, not PcpflowError`);
        if (!isErrorsModule(rel)) problems.push(`${rel}: ${name} belongs in ${folder}/errors.ts (or ${folder}/errors/)`);
        if (!/Error$/.test(name)) problems.push(`${rel}: ${name} should be named …Error`);
      }
    }
  }
  assert.ok(seen >= 30, `found only ${seen} error classes`);
  assert.deepEqual(problems, []);
  assert.deepEqual([...TEMPORARY_EXCEPTIONS].filter((x) => !excused.has(x)), [], 'remove exceptions that no longer apply');
});
