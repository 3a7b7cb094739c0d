import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { decide } from '../../machines/index.ts';
import { A, B, eventFactory, threeNodes } from './support.ts';

// What machines/ may import (contracts/, xstate, zod; no I/O, clock or randomness) is checked with
// every other folder's imports in test/layers.test.ts; here, that decide behaves as a pure function.

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
