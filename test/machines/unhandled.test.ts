import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { transition } from 'xstate';
import { getShortestPaths, toDirectedGraph } from 'xstate/graph';
import { backendMachine, LEAF_PATHS, unhandledReasons, type BackendEvent } from '../../machines/index.ts';
import type { BackendSnapshot } from '../../machines/backend-machine.ts';
import type { Origin } from '../../machines/backend-types.ts';
import { effectsOf } from '../../machines/effects.ts';
import { leafPathOf } from '../../machines/state-path.ts';
import { unhandledReason } from '../../machines/unhandled.ts';

/**
 * The reasons for "nothing to do" live in the machine's state meta: every event a reachable state
 * does not act on gets a filled-in sentence, and the same words are on the graph the diagram reads.
 */

const REF = { actionId: 'evt-1.0', eventId: 'evt-1', cluster: 'c1', why: 'test' };
const STATUSES = ['up', 'waiting', 'down', 'unused'] as const;

function eventsFor(s: BackendSnapshot): BackendEvent[] {
  const ids = [s.context.pending?.actionId, s.context.gaveUp?.actionId, 'unknown.0'].filter((x): x is string => x !== undefined);
  return [
    ...(['ATTACH', 'DETACH', 'PROMOTE', 'REATTACH', 'FOLLOW_PRIMARY', 'ATTACH_FOLLOWING', 'STREAMING', 'STEP_ASIDE', 'AWAIT_STREAM', 'REBUILD_STARTED', 'RETRY'] as const).map((type) => ({ type, ref: REF })),
    ...STATUSES.flatMap((status) => (['primary', 'standby'] as const).map((role) => ({ type: 'DRIFT' as const, ref: REF, observed: { status, role } }))),
    ...(['PEER_PROMOTING', 'DEMOTE', 'FAILED_PRIMARY', 'REBUILD_DONE', 'CLEAR'] as const).map((type) => ({ type })),
    ...ids.flatMap((actionId) => (['changed', 'already', 'failed', 'gave-up'] as const).map((result) => ({ type: 'OUTCOME' as const, actionId, result, reason: 'test' }))),
  ];
}

test('every event a reachable state does not act on has a reason with nothing left unfilled', () => {
  let unhandled = 0;
  for (const origin of ['primary', 'standby-attached', 'standby-detached'] as Origin[]) {
    for (const p of getShortestPaths(backendMachine, { input: { address: '127.0.0.11:5432', origin }, events: eventsFor, limit: 5000 })) {
      for (const ev of eventsFor(p.state)) {
        const [next, returned] = transition(backendMachine, p.state, ev);
        const effects = effectsOf(returned);
        if (leafPathOf(next) !== leafPathOf(p.state) || effects.requested || effects.notes.length || next.context !== p.state.context) continue;
        unhandled += 1;
        const reason = unhandledReason(p.state, ev);
        assert.doesNotMatch(reason, /[{}]/, `${leafPathOf(p.state)} + ${ev.type}: ${reason}`);
        assert.ok(reason.length > 10, reason);
      }
    }
  }
  assert.ok(unhandled > 100, `only ${unhandled} unhandled cases explored`);
});

test('the reasons are on the graph the diagram reads, and every leaf state has some', () => {
  const metas: unknown[] = [];
  const walk = (n: ReturnType<typeof toDirectedGraph>): void => {
    if (n.stateNode.meta) metas.push(n.stateNode.meta);
    n.children.forEach(walk);
  };
  walk(toDirectedGraph(backendMachine));
  assert.ok(metas.length >= 7);
  for (const path of LEAF_PATHS) assert.ok(unhandledReasons(path)['*'], path);
  assert.match(unhandledReasons('attention')['*'] ?? '', /needs attention/);
  assert.equal(unhandledReasons('promoted').PROMOTE, "already pgpool's primary");
});
