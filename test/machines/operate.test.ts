import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { backendViews, decide, findDrift, type ClusterSnapshot } from '../../machines/index.ts';
import type { NodeEvent } from '../../contracts/events.ts';
import { A, B, C, eventFactory, threeNodes } from './support.ts';

const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));
const who = { user: 'dba', reason: 'kernel upgrade' };
const stateOf = (s: ClusterSnapshot, addr: string) => backendViews(s).find((v) => v.address === addr);

function outcome(ev: ReturnType<typeof eventFactory>, backend: string, actionId: string, action: 'attach' | 'detach' | 'promote', result: 'changed' | 'gave-up'): NodeEvent {
  return ev('action.outcome', { backend, actionId, action, result, attempt: 1, source: 'executor', ...(result === 'gave-up' ? { reason: 'pgpool unreachable' } : {}) });
}

test('an operator command is decided like an EFM event, with who ran it and why in the audit', () => {
  const ev = eventFactory();
  const d = decide(threeNodes(), ev('operator.command', { backend: C, command: 'detach', source: 'operator', ...who }), at(1));
  assert.deepEqual(d.actions.map((a) => [a.type, a.backend]), [['detach', C]]);
  assert.match(d.audit[0]?.note ?? '', /operator dba \(reason: kernel upgrade\) detaches/);
  assert.equal(stateOf(d.snapshot, C)?.state, 'detached');
});

test('an operator attach of a backend pcpflow already has attached re-asserts it through the executor', () => {
  const ev = eventFactory();
  const d = decide(threeNodes(), ev('operator.command', { backend: B, command: 'attach', source: 'operator', ...who }), at(1));
  assert.deepEqual(d.actions.map((a) => a.type), ['attach'], 'the executor checks pgpool and acts only if needed');
  assert.equal(stateOf(d.snapshot, B)?.path, 'up.serving');
});

test('maintenance holds a backend: EFM requests are kept, drift is held, and the latest request is decided when it ends', () => {
  const ev = eventFactory();
  let s = decide(threeNodes(), ev('operator.maintenance', { backend: C, on: true, all: false, source: 'operator', ...who }), at(1)).snapshot;
  assert.deepEqual(s.maintenance.map((m) => [m.backend, m.by]), [[C, 'dba']]);

  const detach = decide(s, ev('efm.detach', { backend: C, nodeType: 'standby' }), at(2));
  assert.deepEqual(detach.actions, [], 'no action while in maintenance');
  assert.match(detach.audit[0]?.note ?? '', /held: .* in maintenance .*kept/);
  s = detach.snapshot;
  assert.equal(stateOf(s, C)?.state, 'up', 'the machine stays where the operator put it');

  const drift = decide(s, ev('reconciler.drift', { backend: C, source: 'reconciler', nodeId: 2, observed: { status: 'down', role: 'standby' }, expected: 'up/standby' }), at(3));
  assert.deepEqual(drift.actions, []);
  assert.match(drift.audit[0]?.note ?? '', /held/);
  s = drift.snapshot;

  const attach = decide(s, ev('efm.attach', { backend: C, nodeType: 'standby' }), at(4));
  s = attach.snapshot;
  assert.equal(s.heldEvents.length, 1, 'only the latest request per backend is kept');
  assert.equal(s.heldEvents[0]?.event.type, 'efm.attach');

  // Other backends are not held.
  const other = decide(s, ev('efm.detach', { backend: B, nodeType: 'standby' }), at(5));
  assert.deepEqual(other.actions.map((a) => a.backend), [B]);

  const off = decide(s, ev('operator.maintenance', { backend: C, on: false, all: false, source: 'operator', ...who }), at(6));
  assert.deepEqual(off.snapshot.maintenance, []);
  assert.deepEqual(off.snapshot.heldEvents, []);
  assert.match(off.audit.map((a) => a.note).join(' '), /ends maintenance .*deciding the request kept meanwhile \(efm\.attach/);
});

test('maintenance --all holds every backend; a promotion still goes through', () => {
  const ev = eventFactory();
  let s = decide(threeNodes(), ev('operator.maintenance', { backend: null, on: true, all: true, source: 'operator', ...who }), at(1)).snapshot;
  assert.equal(s.maintenance.length, 3);
  const promo = decide(s, ev('efm.post-promotion', { backend: B, newPrimary: B, failedPrimary: A }), at(2));
  assert.deepEqual(promo.actions.map((a) => [a.type, a.backend]), [['promote', B]], 'EFM already promoted: pgpool must follow or writes stop');
  s = promo.snapshot;
  const done = decide(s, outcome(ev, B, promo.actions[0]?.actionId ?? '', 'promote', 'changed'), at(3));
  assert.deepEqual(done.actions, [], 'the re-attach of the other standby is held');
  assert.ok(done.audit.some((a) => a.backend === C && /held/.test(a.note)));
});

test('an operator command applies in maintenance (the operator is explicit)', () => {
  const ev = eventFactory();
  const s = decide(threeNodes(), ev('operator.maintenance', { backend: C, on: true, all: false, source: 'operator', ...who }), at(1)).snapshot;
  const d = decide(s, ev('operator.command', { backend: C, command: 'detach', source: 'operator', ...who }), at(2));
  assert.deepEqual(d.actions.map((a) => a.type), ['detach']);
  assert.equal(d.snapshot.maintenance.length, 1, 'maintenance stays on');
});

function inAttention(): { s: ClusterSnapshot; gaveUp: string; ev: ReturnType<typeof eventFactory> } {
  const ev = eventFactory();
  const det = decide(threeNodes(), ev('efm.detach', { backend: C, nodeType: 'standby' }), at(1));
  const gaveUp = det.actions[0]?.actionId ?? '';
  const s = decide(det.snapshot, outcome(ev, C, gaveUp, 'detach', 'gave-up'), at(2)).snapshot;
  assert.equal(stateOf(s, C)?.state, 'attention');
  return { s, gaveUp, ev };
}

test('attention recovers: a reconciler retry issues the intended action again', () => {
  const { s, gaveUp, ev } = inAttention();
  const retry = decide(s, ev('reconciler.retry', { backend: C, source: 'reconciler', actionId: gaveUp }), at(3));
  assert.deepEqual(retry.actions.map((a) => [a.type, a.backend]), [['detach', C]]);
  assert.equal(stateOf(retry.snapshot, C)?.state, 'detached');
  assert.match(retry.audit[0]?.note ?? '', /retry detach/);
  // A retry for an action that is no longer the one that gave up does nothing.
  const stale = decide(retry.snapshot, ev('reconciler.retry', { backend: C, source: 'reconciler', actionId: gaveUp }), at(4));
  assert.deepEqual(stale.actions, []);
});

test('attention clear takes the intent back without acting; the reconciler then sees the drift', () => {
  const { s, ev } = inAttention();
  const clear = decide(s, ev('operator.attention-clear', { backend: C, source: 'operator', ...who }), at(3));
  assert.deepEqual(clear.actions, []);
  assert.equal(stateOf(clear.snapshot, C)?.state, 'detached');
  assert.match(clear.audit[0]?.note ?? '', /clears the attention/);
  const drift = findDrift(clear.snapshot, [{ id: 2, host: '127.0.0.13', port: 5432, status: 'up', role: 'standby' }]);
  assert.equal(drift[0]?.backend, C, 'pgpool still has it up: drift the reconciler repairs');
});

test('an operator attach of a backend in attention sets the action that gave up aside and attaches', () => {
  const { s, ev } = inAttention();
  const d = decide(s, ev('operator.command', { backend: C, command: 'attach', source: 'operator', ...who }), at(3));
  assert.deepEqual(d.actions.map((a) => a.type), ['attach']);
  assert.equal(stateOf(d.snapshot, C)?.state, 'up');
});
