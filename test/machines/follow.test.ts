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

/**
 * The failover as EFM runs it: the fence takes the failed primary out and, before EFM promotes,
 * every standby that will have to follow the new primary; the wait on its streaming starts once
 * its detach is confirmed, and the promote owes it nothing more.
 */
function promoted(): { s: ClusterSnapshot; wait: Action; ev: ReturnType<typeof eventFactory> } {
  const ev = eventFactory();
  let s = threeNodes();
  const fence = decide(s, ev('efm.fence', { backend: B, newPrimary: B, failedPrimary: A }), at(1));
  assert.deepEqual(fence.actions.map((a) => [a.type, a.backend]), [['detach', A], ['detach', C]]);
  s = decide(fence.snapshot, outcome(ev, fence.actions[0] as Action, 'changed'), at(2)).snapshot;
  const out = decide(s, outcome(ev, fence.actions[1] as Action, 'changed'), at(2));
  assert.deepEqual(out.actions.map((a) => [a.type, a.backend, a.primary]), [['await-streaming', C, B]], 'a wait, not an attach');
  const post = decide(out.snapshot, ev('efm.post-promotion', { backend: B, newPrimary: B, failedPrimary: A }), at(3));
  assert.deepEqual(post.actions.map((a) => a.type), ['promote']);
  const done = decide(post.snapshot, outcome(ev, post.actions[0] as Action, 'changed'), at(4));
  assert.deepEqual(done.actions, [], 'the standby already waits for this primary');
  assert.equal(pathOf(done.snapshot, C), 'up.awaitingStream');
  return { s: done.snapshot, wait: out.actions[0] as Action, ev };
}

test('the fence takes every standby that must follow the new primary out of load balancing before EFM promotes', () => {
  const ev = eventFactory();
  const fence = decide(threeNodes(), ev('efm.fence', { backend: B, newPrimary: B, failedPrimary: A }), at(1));
  // Both detaches are actions of the fence's own decision: the synchronous fence hook waits for
  // both before EFM promotes B, so no balanced read reaches C while B can take writes.
  assert.deepEqual(fence.actions.map((a) => [a.type, a.backend, a.primary]), [['detach', A, undefined], ['detach', C, B]]);
  assert.equal(pathOf(fence.snapshot, C), 'up.awaitingStream');
  assert.equal(pathOf(fence.snapshot, B), 'up.serving', 'the node being promoted keeps serving reads');
  assert.match(fence.audit.find((a) => a.backend === C)?.note ?? '', /before 127\.0\.0\.12:5432 can take writes through pgpool/);
});

test("a promote pgpool answers 'already primary' still takes the other standbys out before their wait", () => {
  // No fence (EFM ran with -noscripts for the fence, or it came too late): pgpool adopted B by
  // itself after the dead primary was detached, marking nobody down, so its promote says "already".
  const ev = eventFactory();
  const post = decide(threeNodes(), ev('efm.post-promotion', { backend: B, newPrimary: B, failedPrimary: A }), at(1));
  const already = decide(post.snapshot, outcome(ev, post.actions[0] as Action, 'already'), at(2));
  assert.deepEqual(already.actions.map((a) => [a.type, a.backend, a.primary]), [['detach', C, B]], 'C is detached first, not left attached during its wait');
  assert.match(already.audit.find((a) => a.backend === C && a.actionIds.length)?.note ?? '', /already made 127\.0\.0\.12:5432 its primary by itself/);
  const out = decide(already.snapshot, outcome(ev, already.actions[0] as Action, 'changed'), at(3));
  assert.deepEqual(out.actions.map((a) => [a.type, a.backend, a.primary]), [['await-streaming', C, B]]);
  const streamed = decide(out.snapshot, outcome(ev, out.actions[0] as Action, 'changed', 'waited 8000 ms'), at(11));
  assert.deepEqual(streamed.actions.map((a) => [a.type, a.backend]), [['attach', C]]);
});

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

test('remote-pre-promotion takes the standbys out first; a fence decided meanwhile waits for that detach too', () => {
  const ev = eventFactory();
  const pre = decide(threeNodes(), ev('efm.remote-pre-promotion', { backend: B, newPrimary: B }), at(1));
  assert.deepEqual(pre.actions.map((a) => [a.type, a.backend, a.primary]), [['detach', C, B]]);
  assert.match(pre.audit[0]?.note ?? '', /^remote-pre-promotion: EFM is about to promote/);
  const fence = decide(pre.snapshot, ev('efm.fence', { backend: B, newPrimary: B, failedPrimary: A }), at(2));
  assert.deepEqual(fence.actions.map((a) => [a.type, a.backend]), [['detach', A]]);
  assert.deepEqual(fence.awaits, [pre.actions[0]?.actionId], "the fence hook's verdict waits for C's detach in flight");
});
