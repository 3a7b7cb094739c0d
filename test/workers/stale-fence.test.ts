import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseHookArgv } from '../../hooks/argv-to-event.ts';
import { decide, initialSnapshot } from '../../machines/index.ts';

const observed = new Date('2026-11-25T22:00:00Z');
const fence = parseHookArgv(['efm', 'fence', '127.0.0.12', '127.0.0.11'], { cluster: 'c1', now: observed, newId: () => 'fence-event-0001' });

const snapshot = (fenceMode: 'fail-open' | 'fail-closed') =>
  initialSnapshot({
    cluster: 'c1',
    backends: [
      { address: '127.0.0.11:5432', role: 'primary', attached: true },
      { address: '127.0.0.12:5432', role: 'standby', attached: true },
    ],
    policy: { detachHealthyPrimary: false, fenceMode, fenceTimeoutMs: 10_000 },
  });

// The rule lives in decide(), so replaying the audit of a late fail-closed fence decides as production did.
test('a fail-closed fence decided after its timeout is left alone; in time, or fail-open, it is decided', () => {
  const late = decide(snapshot('fail-closed'), fence, new Date(observed.getTime() + 60_000));
  assert.deepEqual(late.actions, []);
  assert.equal(late.audit[0]?.kind, 'event-ignored');
  assert.match(late.audit[0]?.note ?? '', /vetoed the promotion/);
  assert.equal(late.snapshot.backends[0]?.value, 'promoted');

  const inTime = decide(snapshot('fail-closed'), fence, new Date(observed.getTime() + 5_000));
  assert.deepEqual(inTime.actions.map((a) => a.type), ['detach']);
  const openLate = decide(snapshot('fail-open'), fence, new Date(observed.getTime() + 60_000));
  assert.deepEqual(openLate.actions.map((a) => a.type), ['detach']);
});
