import type { Expected } from './views.ts';
import { expectedFor, showsAsExpected } from './views.ts';
import { backendMachine, type BackendSnapshot } from './backend-machine.ts';
import { type BackendEvent, type StateMeta } from './backend-types.ts';
import { MachineInvariantError } from './errors.ts';
import { leafPathOf, stateNameOf, type LeafPath } from './state-path.ts';

/**
 * Why a backend machine did not act on an event, in words a DBA reads in the audit trail. The
 * words live in the machine's state meta, next to the transitions not taken (backend-machine.ts),
 * so the diagram can show the same reasons; this module only picks the one that answers and
 * fills in the backend's and the event's particulars.
 */

type Key = keyof NonNullable<StateMeta['unhandled']>;

/** The state nodes a leaf path is in, innermost first, the machine root last. */
function chainOf(path: LeafPath): StateMeta[] {
  const ids: string[] = [];
  for (const part of path.split('.')) ids.push(ids.length ? `${ids[ids.length - 1]}.${part}` : `${backendMachine.id}.${part}`);
  return [...ids.reverse(), backendMachine.id].map((id) => backendMachine.getStateNodeById(id).meta ?? {});
}

/** Every reason a state gives for the events it does not act on, innermost answer first: for the diagram. */
export function unhandledReasons(path: LeafPath): Partial<Record<Key, string>> {
  const reasons: Partial<Record<Key, string>> = {};
  for (const meta of chainOf(path).reverse()) Object.assign(reasons, meta.unhandled);
  return reasons;
}

const ROOT: StateMeta = backendMachine.root.meta ?? {};

function keyOf(ev: BackendEvent, expected: Expected | null): Key {
  if (ev.type === 'DRIFT' && expected !== null && !showsAsExpected(expected, ev.observed)) return 'DRIFT.unexpected';
  return ev.type;
}

function template(snap: BackendSnapshot, ev: BackendEvent, path: LeafPath): string {
  const { pending } = snap.context;
  // An outcome for no action in flight and a second action for a busy backend are answered the
  // same way in every state; every other answer comes from the state the backend is in.
  if (ev.type === 'OUTCOME' && ROOT.lateOutcome) return ROOT.lateOutcome;
  if (pending && 'ref' in ev && ROOT.inFlight) return ROOT.inFlight;
  const key = keyOf(ev, expectedFor(stateNameOf(path)));
  for (const meta of chainOf(path)) {
    const text = meta.unhandled?.[key] ?? meta.unhandled?.['*'];
    if (text !== undefined) return text;
  }
  // The machine root answers `*`, so only a broken machine definition gets here.
  throw new MachineInvariantError(`no reason in the machine for ${ev.type} in ${path}`);
}

export function unhandledReason(snap: BackendSnapshot, ev: BackendEvent): string {
  const path = leafPathOf(snap);
  const { pending, gaveUp } = snap.context;
  const expected = expectedFor(stateNameOf(path));
  const facts: Record<string, string> = {
    event: ev.type,
    path,
    actionId: ev.type === 'OUTCOME' ? ev.actionId : '',
    pending: pending ? `${pending.type} ${pending.actionId}` : 'no action',
    gaveUp: gaveUp ? `${gaveUp.type} ${gaveUp.actionId} gave up (${gaveUp.reason})` : 'an action gave up',
    observed: ev.type === 'DRIFT' ? `${ev.observed.status}/${ev.observed.role}` : '',
    expected: expected ? `${expected.status}/${expected.role}` : 'nothing',
  };
  return template(snap, ev, path).replace(/\{(\w+)\}/g, (whole, name: string) => facts[name] ?? whole);
}
