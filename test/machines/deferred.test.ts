import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { backendViews, decide } from '../../machines/index.ts';
import { C, eventFactory, threeNodes } from './support.ts';

const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));

test('an attach that arrives while the detach is still in flight is kept and issued after its outcome', () => {
  const ev = eventFactory();
  let s = threeNodes();
  const detach = decide(s, ev('efm.detach', { backend: C, nodeType: 'standby' }), at(1));
  assert.equal(detach.actions[0]?.type, 'detach');
  s = detach.snapshot;

  const attach = decide(s, ev('efm.attach', { backend: C, nodeType: 'standby' }), at(2));
  assert.deepEqual(attach.actions, [], 'no second action while the detach is in flight');
  assert.match(attach.audit[0]?.note ?? '', /kept and decided again/);
  s = attach.snapshot;

  const outcome = ev('action.outcome', { backend: C, actionId: detach.actions[0]?.actionId ?? '', action: 'detach', result: 'changed', attempt: 1 });
  const done = decide(s, outcome, at(3));
  assert.deepEqual(done.actions.map((a) => [a.type, a.backend]), [['attach', C]], 'the kept attach is issued');
  // The kept request's own id, so the attach traces back to the hook call that asked for it.
  const keptId = s.deferredEvents[0]?.event.eventId ?? '';
  assert.ok(done.actions[0]?.actionId.startsWith(`${keptId}.`), done.actions[0]?.actionId);
  assert.equal(done.actions[0]?.eventId, keptId);
  const keptRecord = done.audit.find((a) => a.actionIds.includes(done.actions[0]?.actionId ?? ''));
  assert.equal(keptRecord?.eventId, keptId, 'the decision record names the kept request');
  assert.deepEqual(done.snapshot.deferredEvents, []);
  assert.equal(backendViews(done.snapshot).find((v) => v.address === C)?.pending?.type, 'attach');
});
