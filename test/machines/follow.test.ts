import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { Action } from '../../contracts/actions.ts';
import type { NodeEvent } from '../../contracts/events.ts';
import { backendViews, decide, type ClusterSnapshot } from '../../machines/index.ts';
import { A, B, C, eventFactory, threeNodes } from './support.ts';

/**
 * After a promotion a standby goes back into load balancing only once it streams from the new
 * primary: the decision core asks for an await-streaming action first and the attach only on its
 * success; a wait that gives up leaves it out, in attention.
 */
const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));
const pathOf = (s: ClusterSnapshot, a: string) => backendViews(s).find((v) => v.address === a)?.path;

function outcome(ev: ReturnType<typeof eventFactory>, a: Action, result: 'changed' | 'already' | 'gave-up', reason?: string): NodeEvent {
  return ev('action.outcome', { backend: a.backend, actionId: a.actionId, action: a.type, result, attempt: 1, ...(reason ? { reason } : {}) });
}

function promoted(): { s: ClusterSnapshot; wait: Action; ev: ReturnType<typeof eventFactory> } {
  const ev = eventFactory();
  let s = threeNodes();
  const fence = decide(s, ev('efm.fence', { backend: B, newPrimary: B, failedPrimary: A }), at(1));
  s = decide(fence.snapshot, outcome(ev, fence.actions[0] as Action, 'changed'), at(2)).snapshot;
  const post = decide(s, ev('efm.post-promotion', { backend: B, newPrimary: B, failedPrimary: A }), at(3));
  assert.deepEqual(post.actions.map((a) => a.type), ['promote']);
  const done = decide(post.snapshot, outcome(ev, post.actions[0] as Action, 'changed'), at(4));
  assert.deepEqual(done.actions.map((a) => [a.type, a.backend, a.primary]), [['await-streaming', C, B]], 'a wait, not an attach');
  assert.equal(pathOf(done.snapshot, C), 'up.awaitingStream');
  return { s: done.snapshot, wait: done.actions[0] as Action, ev };
}

test('after the promote the remaining standby is attached only once it streams from the new primary', () => {
  const { s, wait, ev } = promoted();
  const streamed = decide(s, outcome(ev, wait, 'changed', 'waited 8012 ms for it'), at(20));
  assert.deepEqual(streamed.actions.map((a) => [a.type, a.backend]), [['attach', C]]);
  assert.equal(pathOf(streamed.snapshot, C), 'up.reattached');
  const note = streamed.audit.map((a) => a.note).join(' ');
  assert.match(note, /streams from 127\.0\.0\.12:5432/);
  assert.match(note, /waited 8012 ms/, 'the audit says how long it waited');
});

test('a wait that gives up keeps the standby out, in attention', () => {
  const { s, wait, ev } = promoted();
  const d = decide(s, outcome(ev, wait, 'gave-up', 'did not stream within 120000 ms'), at(200));
  assert.deepEqual(d.actions, []);
  assert.equal(pathOf(d.snapshot, C), 'attention');
});

test("pgpool's follow-primary waits for streaming from the primary it names", () => {
  const ev = eventFactory();
  const d = decide(
    threeNodes(),
    ev('pgpool.follow-primary', {
      backend: C, nodeId: 2, host: '127.0.0.13', port: 5432, dataDir: '/d', newPrimaryId: 1, newPrimaryHost: '127.0.0.12',
      oldMainId: 0, oldPrimaryId: 0, newPrimaryPort: 5432, newPrimaryDataDir: '/d', oldPrimaryHost: '127.0.0.11', oldPrimaryPort: 5432,
    }),
    at(1),
  );
  assert.deepEqual(d.actions.map((a) => [a.type, a.backend, a.primary]), [['await-streaming', C, B]]);
});

test('an EFM attach during a promotion in flight waits for streaming; outside one it attaches', () => {
  const ev = eventFactory();
  let s = threeNodes();
  const det = decide(s, ev('efm.detach', { backend: C, nodeType: 'standby' }), at(1));
  s = decide(det.snapshot, outcome(ev, det.actions[0] as Action, 'changed'), at(2)).snapshot;
  const post = decide(s, ev('efm.post-promotion', { backend: B, newPrimary: B, failedPrimary: A }), at(3));
  const during = decide(post.snapshot, ev('efm.attach', { backend: C, nodeType: 'standby' }), at(4));
  assert.deepEqual(during.actions.map((a) => [a.type, a.backend, a.primary]), [['await-streaming', C, B]]);
  assert.equal(pathOf(during.snapshot, C), 'up.awaitingStream');

  const calm = decide(det.snapshot, outcome(ev, det.actions[0] as Action, 'changed'), at(5)).snapshot;
  const attach = decide(calm, ev('efm.attach', { backend: C, nodeType: 'standby' }), at(6));
  assert.deepEqual(attach.actions.map((a) => a.type), ['attach']);
});

test('the reconciler note says what pgpool showed and what was expected when they differ', () => {
  const ev = eventFactory();
  const d = decide(
    threeNodes(),
    ev('reconciler.drift', { source: 'reconciler', backend: B, nodeId: 1, observed: { status: 'up', role: 'primary' }, expected: 'up/standby (up)' }),
    at(1),
  );
  assert.deepEqual(d.actions.map((a) => [a.type, a.backend]), [['promote', A]], 'the rogue promote is repaired');
  const aboutB = d.audit.find((a) => a.backend === B);
  assert.match(aboutB?.note ?? '', /pgpool shows it up\/primary, the machine expects up\/standby/);
  assert.doesNotMatch(d.audit.map((a) => a.note).join(' '), /already shows what the machine expects/);
});
