import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { transition, type AnyTransitionDefinition } from 'xstate';
import { getShortestPaths, toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';
import { backendMachine, LEAF_PATHS, type BackendEvent } from '../../machines/index.ts';
import { expectedFor } from '../../machines/views.ts';
import type { BackendSnapshot } from '../../machines/backend-machine.ts';
import type { Origin } from '../../machines/backend-types.ts';
import { leafPathOf, stateNameOf } from '../../machines/state-path.ts';

/**
 * Model-based: xstate/graph generates the shortest path to every reachable (state, context) of the
 * backend machine from each origin; each path is then extended by every event once, which walks
 * every enabled transition. Each step is checked against the machine's promises (a new action only
 * when none is in flight, pending/expected consistent), and coverage is measured against the
 * transitions toDirectedGraph lists.
 */

const REF = { actionId: 'evt-1.0', eventId: 'evt-1', cluster: 'c1', why: 'model step' };

function eventsFor(s: BackendSnapshot): BackendEvent[] {
  const ids = [s.context.pending?.actionId, s.context.gaveUp?.actionId, 'unknown.0'].filter((x): x is string => x !== undefined);
  const outcomes = ids.flatMap((actionId) =>
    (['changed', 'already', 'failed', 'gave-up'] as const).map((result) => ({ type: 'OUTCOME' as const, actionId, result, reason: 'model' })),
  );
  return [
    { type: 'ATTACH', ref: REF },
    { type: 'DETACH', ref: REF },
    { type: 'PROMOTE', ref: REF },
    { type: 'REATTACH', ref: REF },
    { type: 'FOLLOW_PRIMARY', ref: REF },
    { type: 'ATTACH_FOLLOWING', ref: REF },
    { type: 'STREAMING', ref: REF },
    { type: 'STEP_ASIDE', ref: REF },
    { type: 'AWAIT_STREAM', ref: REF },
    { type: 'REBUILD_STARTED', ref: REF },
    { type: 'DRIFT', ref: REF, observed: { status: 'down', role: 'standby' } },
    { type: 'DRIFT', ref: REF, observed: { status: 'up', role: 'standby' } },
    { type: 'DRIFT', ref: REF, observed: { status: 'waiting', role: 'primary' } },
    { type: 'PEER_PROMOTING' },
    { type: 'DEMOTE' },
    { type: 'FAILED_PRIMARY' },
    { type: 'REBUILD_DONE' },
    { type: 'RETRY', ref: REF },
    { type: 'CLEAR' },
    ...outcomes,
  ];
}

function allTransitions(): Set<AnyTransitionDefinition> {
  const out = new Set<AnyTransitionDefinition>();
  const walk = (n: DirectedGraphNode): void => {
    for (const e of n.edges) out.add(e.transition);
    n.children.forEach(walk);
  };
  walk(toDirectedGraph(backendMachine));
  return out;
}

test('model-based: every state and every transition is reached by generated paths', () => {
  const known = allTransitions();
  const taken = new Set<AnyTransitionDefinition>();
  const visited = new Set<string>();
  let paths = 0;
  let steps = 0;
  const origins: Origin[] = ['primary', 'standby-attached', 'standby-detached'];
  for (const origin of origins) {
    const generated = getShortestPaths(backendMachine, {
      input: { address: '127.0.0.11:5432', origin },
      events: eventsFor,
      limit: 5000,
    });
    for (const p of generated) {
      paths += 1;
      const last = p.state;
      for (const ev of eventsFor(last)) {
        const enabled = backendMachine.getTransitionData(last, ev);
        const [next] = transition(backendMachine, last, ev);
        steps += 1;
        enabled.forEach((t) => taken.add(t));
        const path = leafPathOf(next);
        visited.add(path);
        // Invariant 2: a new action only when none was in flight.
        const started = next.context.pending !== null && next.context.pending !== last.context.pending;
        if (started) assert.equal(last.context.pending, null, `${leafPathOf(last)} + ${ev.type} started a second action`);
        // attention has no opinion and holds no action; every other state has an expectation.
        const state = stateNameOf(path);
        if (state === 'attention') assert.equal(next.context.pending, null);
        else assert.notEqual(expectedFor(state), null);
        // A promote is only ever requested into `promoted`, a detach only into a kept-out state.
        if (started && next.context.pending?.type === 'promote') assert.equal(path, 'promoted');
        // (or into the wait on streaming: a standby out of load balancing until it follows the new primary)
        if (started && next.context.pending?.type === 'detach') assert.match(path, /^(detached|rebuilding|up\.awaitingStream)/);
        // The wait on streaming starts only once the standby is out of pgpool: after its detach,
        // or after pgpool's follow_primary_command (pgpool marked it down), or from a kept-out state.
        if (started && next.context.pending?.type === 'await-streaming')
          assert.ok(leafPathOf(last) === 'up.awaitingStream' || ev.type === 'FOLLOW_PRIMARY' || /^(detached|rebuilding)/.test(leafPathOf(last)), `${leafPathOf(last)} + ${ev.type}`);
        if (started && next.context.pending?.type === 'attach') assert.match(path, /^up\./);
        // A standby re-attached after a promotion is attached only from the wait on its streaming.
        if (started && next.context.pending?.type === 'attach' && path === 'up.reattached') assert.equal(leafPathOf(last), 'up.awaitingStream');
        if (started && next.context.pending?.type === 'await-streaming') assert.equal(path, 'up.awaitingStream');
      }
      visited.add(leafPathOf(last));
    }
  }
  const missingStates = LEAF_PATHS.filter((s) => !visited.has(s));
  const missingEdges = [...known].filter((t) => !taken.has(t)).map((t) => `${t.source.id} ${t.eventType}`);
  const covered = [...known].filter((t) => taken.has(t)).length;
  console.log(`model coverage: states ${LEAF_PATHS.length - missingStates.length}/${LEAF_PATHS.length}, transitions ${covered}/${known.size} (${paths} paths, ${steps} steps)`);
  assert.deepEqual(missingStates, []);
  assert.deepEqual(missingEdges, []);
});
