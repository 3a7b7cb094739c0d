import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { eventsFrom, replay } from '../../simulation/index.ts';
import { A, B, eventFactory, threeNodes } from '../machines/support.ts';

test('replay decides recorded events and audit payloads alike, at their recorded time', () => {
  const ev = eventFactory();
  const detach = ev('efm.detach', { backend: B, nodeType: 'standby' });
  const again = { ...ev('efm.detach', { backend: B, nodeType: 'standby' }), dedupeKey: detach.dedupeKey };
  const lines = [
    JSON.stringify(detach),
    JSON.stringify({ kind: 'decision', cluster: 'c1', at: '2024-01-01T00:00:10.000Z', note: 'x', payload: again }),
    JSON.stringify({ kind: 'action-attempt', cluster: 'c1', at: '2024-01-01T00:00:11.000Z', note: 'no payload: skipped' }),
  ].join('\n');
  const events = eventsFrom(lines);
  assert.equal(events.length, 2);
  const out = replay(threeNodes(), events);
  assert.deepEqual(out.rows.map((r) => r.kind), ['decision', 'event-duplicate']);
  assert.deepEqual(out.rows[0]?.actions.map((a) => `${a.type} ${a.backend}`), [`detach ${B}`]);
  assert.equal(out.snapshot.backends.find((b) => b.context.address === A)?.value, 'promoted');
});
