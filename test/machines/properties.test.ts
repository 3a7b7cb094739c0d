import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Action } from '../../contracts/actions.ts';
import type { NodeEvent } from '../../contracts/events.ts';
import { backendViews, decide, decodeSnapshot, encodeSnapshot, type ClusterSnapshot } from '../../machines/index.ts';
import { A, B, C, CLUSTER, threeNodes } from './support.ts';

/**
 * Random event sequences (EFM and pgpool hooks in any order, gaps, duplicate deliveries,
 * outcomes of every kind for actions in flight, drift reports) against the design invariants.
 */

const ADDRS = [A, B, C, '127.0.0.11', '127.0.0.13', '10.0.0.99'] as const;
const NODE_IDS: Record<string, number> = { [A]: 0, [B]: 1, [C]: 2 };

type Step =
  | { kind: 'hook'; make: (id: string) => NodeEvent }
  | { kind: 'outcome'; pick: number; result: 'changed' | 'already' | 'failed' | 'gave-up' }
  | { kind: 'redeliver'; pick: number };

const base = (id: string, backend: string | null, source: NodeEvent['source'] = 'efm') => ({
  eventId: id,
  dedupeKey: `k-${id}`,
  source,
  cluster: CLUSTER,
  backend,
  observedAt: '2024-01-01T00:00:00.000Z',
  argv: [],
});

const addr = fc.constantFrom(...ADDRS);
const known = fc.constantFrom(A, B, C);
const hook: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ a: addr, t: fc.constantFrom('primary', 'standby') as fc.Arbitrary<'primary' | 'standby'> }).map(({ a, t }) => ({
    kind: 'hook' as const,
    make: (id: string): NodeEvent => ({ ...base(id, a), type: 'efm.detach', nodeType: t }),
  })),
  fc.record({ a: addr, t: fc.constantFrom('primary', 'standby') as fc.Arbitrary<'primary' | 'standby'> }).map(({ a, t }) => ({
    kind: 'hook' as const,
    make: (id: string): NodeEvent => ({ ...base(id, a), type: 'efm.attach', nodeType: t }),
  })),
  fc.record({ p: addr, f: fc.option(addr, { nil: null }) }).map(({ p, f }) => ({
    kind: 'hook' as const,
    make: (id: string): NodeEvent => ({ ...base(id, p), type: 'efm.fence', newPrimary: p, failedPrimary: f }),
  })),
  fc.record({ p: addr, f: fc.option(addr, { nil: null }) }).map(({ p, f }) => ({
    kind: 'hook' as const,
    make: (id: string): NodeEvent => ({ ...base(id, p), type: 'efm.post-promotion', newPrimary: p, failedPrimary: f }),
  })),
  known.map((a) => ({
    kind: 'hook' as const,
    make: (id: string): NodeEvent => ({
      ...base(id, a, 'pgpool'),
      type: 'pgpool.follow-primary',
      nodeId: NODE_IDS[a] ?? 0,
      host: a.split(':')[0] ?? a,
      port: 5432,
      dataDir: '/data',
      newPrimaryId: 1,
      newPrimaryHost: '127.0.0.12',
      oldMainId: 0,
      oldPrimaryId: 0,
      newPrimaryPort: 5432,
      newPrimaryDataDir: '/data',
      oldPrimaryHost: '127.0.0.11',
      oldPrimaryPort: 5432,
    }),
  })),
  fc.record({ a: known, done: fc.boolean() }).map(({ a, done }) => ({
    kind: 'hook' as const,
    make: (id: string): NodeEvent => ({ ...base(id, a, 'operator'), type: done ? 'operator.rebuild-done' : 'operator.rebuild-started' }),
  })),
  fc
    .record({
      a: known,
      status: fc.constantFrom('up', 'waiting', 'down', 'unused') as fc.Arbitrary<'up' | 'waiting' | 'down' | 'unused'>,
      role: fc.constantFrom('primary', 'standby') as fc.Arbitrary<'primary' | 'standby'>,
    })
    .map(({ a, status, role }) => ({
      kind: 'hook' as const,
      make: (id: string): NodeEvent => ({
        ...base(id, a, 'reconciler'),
        type: 'reconciler.drift',
        nodeId: NODE_IDS[a] ?? 0,
        observed: { status, role },
        expected: 'x',
      }),
    })),
  fc.constantFrom('efm.resumed', 'efm.db-failure', 'efm.primary-isolated').map((type) => ({
    kind: 'hook' as const,
    make: (id: string): NodeEvent => ({ ...base(id, null), type }) as NodeEvent,
  })),
  addr.map((p) => ({
    kind: 'hook' as const,
    make: (id: string): NodeEvent => ({ ...base(id, p), type: 'efm.remote-post-promotion', newPrimary: p }),
  })),
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: hook },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('outcome' as const),
      pick: fc.nat(),
      result: fc.constantFrom('changed', 'already', 'failed', 'gave-up') as fc.Arbitrary<'changed' | 'already' | 'failed' | 'gave-up'>,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('redeliver' as const), pick: fc.nat() }) },
);

function promotedCount(s: ClusterSnapshot): number {
  return backendViews(s).filter((v) => v.state === 'promoted').length;
}

function states(s: ClusterSnapshot): string {
  return JSON.stringify(s.backends);
}

/** Runs one sequence and checks every invariant after every decision; returns decisions made. */
function check(steps: Step[], detachHealthyPrimary: boolean): void {
  let s = threeNodes({ detachHealthyPrimary });
  const delivered: NodeEvent[] = [];
  let inFlight: Action[] = [];
  let n = 0;
  let clock = Date.parse('2024-01-01T00:00:00Z');
  for (const st of steps) {
    let event: NodeEvent;
    if (st.kind === 'hook') event = st.make(`evt-${String(++n).padStart(6, '0')}`);
    else if (st.kind === 'redeliver') {
      const prev = delivered[st.pick % Math.max(delivered.length, 1)];
      if (!prev) continue;
      event = prev;
    } else {
      const a = inFlight[st.pick % Math.max(inFlight.length, 1)];
      if (!a) continue;
      const id = `evt-${String(++n).padStart(6, '0')}`;
      event = { ...base(id, a.backend, 'executor'), type: 'action.outcome', actionId: a.actionId, action: a.type, result: st.result, attempt: 1 };
    }
    clock += 1000;
    const now = new Date(clock);
    const pendingBefore = new Map(backendViews(s).map((v) => [v.address, v.pending]));
    const d = decide(s, event, now);
    // Every event is audited.
    assert.ok(d.audit.length >= 1, `${event.type} left no audit entry`);
    // At most one promoted.
    assert.ok(promotedCount(d.snapshot) <= 1, 'two backends promoted');
    // No second action for a backend with one in flight, and at most one per backend per decision.
    const perBackend = new Set<string>();
    for (const a of d.actions) {
      // The one exception: the outcome that ends a backend's action frees it in the same decision
      // (a promote deferred behind that action is then issued).
      const was = pendingBefore.get(a.backend) ?? null;
      const freedNow = event.type === 'action.outcome' && event.result !== 'failed' && was?.actionId === event.actionId;
      if (!freedNow) assert.equal(was, null, `${a.type} for ${a.backend} while ${was?.actionId} in flight`);
      assert.ok(!perBackend.has(a.backend), `two actions for ${a.backend} in one decision`);
      perBackend.add(a.backend);
      // An action carries the id of the event that caused it: this one, or a request kept earlier.
      const causes = [event.eventId, ...s.deferredEvents.map((k) => k.event.eventId)];
      assert.ok(causes.some((id) => a.actionId.startsWith(`${id}.`)), `${a.actionId} names none of ${causes.join(', ')}`);
    }
    // The same event delivered again: same state, no action.
    if (delivered.some((e) => e.eventId === event.eventId)) {
      assert.deepEqual(d.actions, []);
      assert.equal(states(d.snapshot), states(s));
      assert.equal(d.audit[0]?.kind, 'event-duplicate');
    }
    const again = decide(d.snapshot, event, new Date(clock + 500));
    assert.deepEqual(again.actions, []);
    assert.equal(states(again.snapshot), states(d.snapshot));
    // Snapshots stay decodable and decoding is lossless.
    assert.deepEqual(decodeSnapshot(encodeSnapshot(d.snapshot)), d.snapshot);
    // What the machines hold as in flight is exactly what was issued and not yet finished.
    const pendingNow = backendViews(d.snapshot).flatMap((v) => (v.pending ? [v.pending.actionId] : []));
    inFlight = [...inFlight, ...d.actions].filter((a) => pendingNow.includes(a.actionId));
    assert.equal(inFlight.length, pendingNow.length);
    delivered.push(event);
    s = d.snapshot;
  }
}

test('invariants hold for random sequences (default policy)', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => check(steps, false)),
    { numRuns: 6000, seed: 4242 },
  );
});

test('invariants hold for random sequences (detachHealthyPrimary on)', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => check(steps, true)),
    { numRuns: 4000, seed: 1717 },
  );
});
