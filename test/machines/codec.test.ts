import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { PcpflowError } from '../../contracts/errors.ts';
import { backendViews, decide, decodeSnapshot, encodeSnapshot, SnapshotDecodeError } from '../../machines/index.ts';
import { A, B, eventFactory, threeNodes } from './support.ts';

test('a snapshot survives encode → decode unchanged, mid-action included', () => {
  const ev = eventFactory();
  const s0 = threeNodes();
  const d = decide(s0, ev('efm.post-promotion', { backend: B, newPrimary: B, failedPrimary: A }), new Date('2024-01-01T00:00:01Z'));
  const back = decodeSnapshot(encodeSnapshot(d.snapshot));
  assert.deepEqual(back, d.snapshot);
  const views = backendViews(back);
  assert.equal(views.find((v) => v.address === B)?.pending?.type, 'promote');
  assert.equal(views.find((v) => v.address === A)?.state, 'rebuilding');
});

test('decodeSnapshot refuses garbage with a typed error', () => {
  const bad = [
    'not json',
    '[]',
    '{}',
    JSON.stringify({ ...threeNodes(), schemaVersion: 99 }),
    JSON.stringify({ ...threeNodes(), backends: [{ value: 'flying', context: threeNodes().backends[0]?.context }] }),
    JSON.stringify({ ...threeNodes(), extra: 1 }),
  ];
  for (const text of bad) {
    assert.throws(() => decodeSnapshot(text), (err: unknown) => err instanceof SnapshotDecodeError && err instanceof PcpflowError && err.exitCode === 2, text.slice(0, 40));
  }
});

test('decodeSnapshot rejects two promoted backends (invariant 1 holds at rest too)', () => {
  const s = threeNodes();
  const tampered = { ...s, backends: s.backends.map((b) => ({ ...b, value: 'promoted' })) };
  assert.throws(() => decodeSnapshot(JSON.stringify(tampered)), /at most one/);
});

test('a newer schemaVersion asks for an upgrade instead of guessing', () => {
  assert.throws(() => decodeSnapshot(JSON.stringify({ ...threeNodes(), schemaVersion: 2 })), /upgrade pcpflow/);
});
