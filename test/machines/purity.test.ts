import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decide } from '../../machines/index.ts';
import { A, B, eventFactory, threeNodes } from './support.ts';

const dir = join(import.meta.dirname, '../../machines');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

test('machines/ imports only contracts/, xstate and zod (no I/O)', () => {
  assert.ok(files.length >= 5);
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    const specs = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? '');
    for (const s of specs) {
      const ok = s.startsWith('./') || s.startsWith('../contracts/') || s === 'xstate' || s === 'xstate/graph' || s === 'zod';
      assert.ok(ok, `${f} imports ${s}`);
    }
    for (const banned of ['node:', 'child_process', 'Date.now', 'Math.random', 'randomUUID', 'new Date(', 'process.', 'setTimeout']) {
      assert.ok(!text.includes(banned), `${f} uses ${banned}`);
    }
  }
});

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

test('decide is pure: same inputs, same outputs, input untouched', () => {
  const ev = eventFactory();
  const s = deepFreeze(threeNodes());
  const e = deepFreeze(ev('efm.post-promotion', { backend: B, newPrimary: B, failedPrimary: A }));
  const now = new Date('2024-01-01T00:00:05Z');
  const before = JSON.stringify(s);
  const d1 = decide(s, e, now);
  const d2 = decide(s, e, now);
  assert.deepEqual(d1, d2);
  assert.equal(JSON.stringify(s), before);
  assert.deepEqual(d1.actions.map((a) => a.actionId), [`${e.eventId}.0`]);
});
