import type { StateValue } from 'xstate';
import { PcpflowError } from '../contracts/errors.ts';

/**
 * The backend machine's states as data: leaf paths, their names, and the conversions between
 * xstate's state values and paths. Apart from backend-machine.ts so that reading a snapshot
 * (decode, views, drift: `pcpflow status`) needs no xstate at run time.
 */

/** A programming error inside the decision core: an event reached a transition it cannot serve. */
export class MachineInvariantError extends PcpflowError {
  readonly code = 'MACHINE_INVARIANT';
}

/** Every leaf state as a dotted path, in document order; the snapshot codec accepts only these. */
export const LEAF_PATHS = [
  'up.serving',
  'up.awaitingReattach',
  'up.awaitingStream',
  'up.reattached',
  'detached',
  'promoted',
  'rebuilding.awaiting',
  'rebuilding.inProgress',
  'rebuilding.done',
  'attention',
] as const;
export type LeafPath = (typeof LEAF_PATHS)[number];

export type BackendStateName = 'up' | 'detached' | 'promoted' | 'rebuilding' | 'attention';
export const BACKEND_STATE_NAMES: readonly BackendStateName[] = ['up', 'detached', 'promoted', 'rebuilding', 'attention'];

export function valueToPath(value: StateValue): string {
  if (typeof value === 'string') return value;
  const entries = Object.entries(value);
  const first = entries[0];
  if (entries.length !== 1 || !first) return JSON.stringify(value);
  const [key, child] = first;
  return child === undefined ? key : `${key}.${valueToPath(child)}`;
}

export function pathToValue(path: LeafPath): StateValue {
  const [top, sub] = path.split('.');
  return sub === undefined ? (top ?? path) : { [top ?? path]: sub };
}

export function isLeafPath(path: string): path is LeafPath {
  return (LEAF_PATHS as readonly string[]).includes(path);
}

export function stateNameOf(path: LeafPath): BackendStateName {
  const top = path.split('.')[0];
  switch (top) {
    case 'up':
    case 'detached':
    case 'promoted':
    case 'rebuilding':
    case 'attention':
      return top;
    default:
      throw new MachineInvariantError(`unknown state ${path}`);
  }
}

