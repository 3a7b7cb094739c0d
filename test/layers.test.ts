import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { test } from 'node:test';

/**
 * The layering rule (README, Architecture), derived from the source: a folder imports only from
 * folders in lower layers, never from its own layer's neighbours or from above. Each layer lists
 * its folders; a new top-level source folder fails here until it is given a place.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['contracts'],
  ['runtime'],
  ['machines'],
  ['diagrams'],
  ['pcp', 'hooks', 'audit'],
  ['simulation', 'replication'],
  ['workers'],
  ['console', 'lab'],
  ['cli'],
  ['testkit', 'scripts'],
  ['bench', 'test'],
];

/**
 * Imports that break the rule today, each with the work that removes it. Keep this list short and
 * named: an exception without an owner becomes the rule.
 */
const TEMPORARY_EXCEPTIONS: ReadonlyArray<{ from: string; to: string; why: string }> = [
];

const root = join(import.meta.dirname, '..');
const SOURCE = /\.(ts|mts|mjs|js|cjs)$/;
const SKIP = new Set(['node_modules', 'build', 'bin', 'artifacts', 'deploy', 'docs']);

function rankOf(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder));
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (SOURCE.test(e.name)) out.push(p);
  }
  return out;
}

/** Module specifiers of static imports and re-exports, side-effect imports and dynamic import(). */
function specifiers(text: string): string[] {
  const re = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|[\s;])import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g;
  return [...text.matchAll(re)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

const topOf = (rel: string): string => rel.split(sep)[0] ?? rel;

const files = sourceFiles(root)
  .map((abs) => relative(root, abs))
  .filter((rel) => rel.includes(sep));

test('every top-level source folder has a layer', () => {
  const folders = [...new Set(files.map(topOf))].sort();
  assert.ok(folders.includes('machines') && folders.includes('cli'), `found ${folders.join(', ')}`);
  assert.deepEqual(
    folders.filter((f) => rankOf(f) < 0),
    [],
    'give each new folder a place in LAYERS (and in the README architecture section)',
  );
});

test('folders import only from lower layers (no upward or sideways import)', () => {
  const violations: string[] = [];
  const excused = new Set<string>();
  for (const rel of files) {
    const from = topOf(rel);
    const text = readFileSync(join(root, rel), 'utf8');
    for (const spec of specifiers(text)) {
      if (!spec.startsWith('.')) continue;
      const target = normalize(join(dirname(rel), spec));
      const to = topOf(target);
      if (to === from) continue;
      if (rankOf(to) >= 0 && rankOf(to) < rankOf(from)) continue;
      const exception = TEMPORARY_EXCEPTIONS.find((x) => rel === x.from && target.split(sep).join('/').startsWith(x.to));
      if (exception) {
        excused.add(exception.from);
        continue;
      }
      const how = rankOf(to) === rankOf(from) ? 'sideways' : 'upward';
      violations.push(`${rel} imports ${spec} (${how}: ${from} → ${to})`);
    }
  }
  assert.deepEqual(violations, []);
  // An exception whose import is gone must leave the list with it.
  assert.deepEqual(
    TEMPORARY_EXCEPTIONS.filter((x) => !excused.has(x.from)).map((x) => x.from),
    [],
    'remove exceptions that no longer apply',
  );
});

test('machines/ imports only contracts/, xstate and zod, and touches no I/O, clock or randomness', () => {
  const machines = files.filter((rel) => topOf(rel) === 'machines');
  assert.ok(machines.length >= 5);
  for (const rel of machines) {
    const text = readFileSync(join(root, rel), 'utf8');
    for (const s of specifiers(text)) {
      const target = s.startsWith('.') ? normalize(join(dirname(rel), s)) : s;
      const ok = (s.startsWith('.') && ['machines', 'contracts'].includes(topOf(target))) || s === 'xstate' || s === 'xstate/graph' || s === 'zod';
      assert.ok(ok, `${rel} imports ${s}`);
    }
    for (const banned of ['node:', 'child_process', 'Date.now', 'Math.random', 'randomUUID', 'new Date(', 'process.', 'setTimeout']) {
      assert.ok(!text.includes(banned), `${rel} uses ${banned}`);
    }
  }
});

test('simulation/ and diagrams/ do no I/O of their own and read no clock or randomness', () => {
  const pure = files.filter((rel) => ['simulation', 'diagrams'].includes(topOf(rel)));
  assert.ok(pure.length >= 6);
  for (const rel of pure) {
    const text = readFileSync(join(root, rel), 'utf8');
    for (const banned of ['node:', 'child_process', 'Date.now', 'Math.random', 'randomUUID', 'process.', 'setTimeout']) {
      assert.ok(!text.includes(banned), `${rel} uses ${banned}`);
    }
  }
});
