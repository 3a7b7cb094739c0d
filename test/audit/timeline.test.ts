import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { GENESIS, linkRecords } from '../../audit/chain.ts';
import { buildTimeline } from '../../audit/timeline.ts';
import { summarize } from '../../audit/timeline-summary.ts';
import { incidentMarkdown } from '../../console/incident.ts';
import { stateColours, timelineSvg } from '../../console/timeline-svg.ts';
import type { AuditBody } from '../../contracts/audit.ts';
import type { NodeEvent } from '../../contracts/events.ts';
import { foldedGraph, toDot, toFoldedDot } from '../../diagrams/index.ts';
import { decide, decisionBodies, machineGraph } from '../../machines/index.ts';
import { A, B, CLUSTER, threeNodes } from '../machines/support.ts';

const T0 = Date.parse('2026-11-29T13:22:00.000Z');
const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

/** A standby fails and comes back; the detach needs a retry. Recorded as the decider and executor do. */
function incident(): AuditBody[] {
  let s = threeNodes();
  const bodies: AuditBody[] = [];
  const ev = (id: string, type: NodeEvent['type'], backend: string | null, rest: Record<string, unknown>, source: NodeEvent['source'] = 'efm'): NodeEvent =>
    ({ eventId: id, dedupeKey: id, source, cluster: CLUSTER, backend, observedAt: at(0), argv: [], type, ...rest }) as NodeEvent;
  const decideAt = (sec: number, e: NodeEvent): string[] => {
    const d = decide(s, e, new Date(at(sec)));
    bodies.push(...decisionBodies(CLUSTER, e, s, d, new Date(at(sec))));
    s = d.snapshot;
    return d.actions.map((a) => a.actionId);
  };
  const attempt = (sec: number, actionId: string, n: number, outcome: string): void => {
    bodies.push({ kind: 'action-attempt', cluster: CLUSTER, at: at(sec), backend: B, actionId, attempt: n, outcome, durationMs: 200, note: `Attempt ${n}: ${outcome}` });
  };
  const [detach = ''] = decideAt(1, ev('evt-detach-1', 'efm.detach', '127.0.0.12', { nodeType: 'standby' }));
  attempt(1.1, detach, 1, 'started');
  attempt(1.3, detach, 1, 'failed');
  attempt(2.1, detach, 2, 'started');
  attempt(2.3, detach, 2, 'changed');
  decideAt(2.4, ev(`outcome.${detach}`, 'action.outcome', B, { actionId: detach, action: 'detach', result: 'changed', attempt: 2 }, 'executor'));
  const [attach = ''] = decideAt(100, ev('evt-attach-1', 'efm.attach', '127.0.0.12', { nodeType: 'standby' }));
  attempt(100.1, attach, 1, 'started');
  attempt(100.3, attach, 1, 'changed');
  decideAt(100.4, ev(`outcome.${attach}`, 'action.outcome', B, { actionId: attach, action: 'attach', result: 'changed', attempt: 1 }, 'executor'));
  return bodies;
}

test('the timeline has a lane per backend with its states, hook events, action bars with retries and pgpool status', () => {
  const { records } = linkRecords(GENESIS, incident());
  const t = buildTimeline(CLUSTER, records, { from: T0, to: T0 + 120_000, backends: [A, B] });
  const lane = t.lanes.find((l) => l.backend === B);
  assert.ok(lane);
  assert.deepEqual(lane.spans.map((x) => x.state), ['up.serving', 'detached', 'up.serving']);
  assert.equal(lane.spans[1]?.from, T0 + 1000);
  // The EFM events (named by host alone) sit on the backend's lane; outcomes are bar ends, not markers.
  assert.deepEqual(lane.markers.map((m) => `${m.source} ${m.type}`), ['efm efm.detach', 'efm efm.attach']);
  const [detach, attach] = lane.actions;
  assert.equal(detach?.type, 'detach');
  assert.equal(detach?.attempts.length, 2);
  assert.deepEqual(detach?.attempts.map((x) => x.outcome), ['failed', 'changed']);
  assert.equal(detach?.start, T0 + 1100);
  assert.equal(detach?.end, T0 + 2300);
  assert.equal(attach?.result, 'changed');
  assert.deepEqual(lane.pgpool.map((p) => p.seen), ['down', 'up']);
  assert.equal(t.incidents.length, 2, 'two bursts, 98 s apart, each moved a backend');

  const [sum] = summarize(t).filter((x) => x.backend === B);
  assert.equal(sum?.retries, 1);
  assert.equal(sum?.outOfBalancingMs, 98_000);
  assert.deepEqual(sum?.states, ['up', 'detached', 'up']);
  const md = incidentMarkdown({ cluster: CLUSTER, timeline: t, summary: summarize(t), diagram: '', zoomed: [] }, new Date(T0 + 180_000));
  assert.match(md, /\| 127\.0\.0\.12:5432 \| up → detached → up \| efm 2 \| detach changed after 2 attempts in 1\.3 s; attach changed in 300 ms \| 1 \| 1 min 38 s/);

  const svg = timelineSvg(t);
  assert.equal((svg.match(/<g class="lane" /g) ?? []).length, 2);
  assert.match(svg, /<g class="action" data-action="evt-detach-1\.0" data-type="detach" data-result="changed" data-attempts="2"/);
  assert.match(svg, /<title>[^<]*EFM reports 127\.0\.0\.12:5432 failed/);
  assert.ok(!/<script/i.test(svg));
});

test('states, colours and the folded diagram come from the machine definition', () => {
  const tops = machineGraph()
    .states.filter((s) => s.parent === null && s.path !== 'boot')
    .map((s) => s.path);
  assert.deepEqual([...stateColours().keys()].sort(), [...tops].sort(), 'every top-level state has a colour');
  assert.deepEqual(foldedGraph().states.map((s) => s.path).sort(), [...tops].sort());
  // Lifecycle first: up → detached → promoted → rebuilding.
  assert.deepEqual(foldedGraph().states.map((s) => s.path).slice(0, 4), ['up', 'detached', 'promoted', 'rebuilding']);
  const people = toFoldedDot();
  const full = toDot();
  assert.ok(!/\[idle\]|pending|startsPrimary/.test(people), 'guards are folded away');
  assert.match(full, /\[idle\]/);
  assert.ok((people.match(/ -> /g) ?? []).length < (full.match(/ -> /g) ?? []).length / 1.5, 'far fewer edges than the full machine');
  // Over a range: the transitions taken are counted, the others faded.
  const ranged = toFoldedDot([
    { from: 'up.serving', to: 'detached' },
    { from: 'detached', to: 'up.serving' },
    { from: 'up.serving', to: 'detached' },
  ]);
  assert.match(ranged, /"up" -> "detached" \[label="detach \(PCP\) {2}×2" color="#d62728"/);
  assert.match(ranged, /"promoted" \[label="promoted" color="#cccccc"/);
});
