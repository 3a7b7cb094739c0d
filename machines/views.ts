import type { Action, ActionType } from '../contracts/actions.ts';
import { formatAddress } from '../contracts/address.ts';
import { resolveAddress } from '../contracts/backend-resolution.ts';
import { stateNameOf, type BackendStateName, type LeafPath } from './state-path.ts';
import { backendPath, type ClusterSnapshot } from './snapshot.ts';
import { isAttached } from '../contracts/pgpool-node.ts';

export interface Expected {
  status: 'up' | 'down';
  role: 'primary' | 'standby';
}

export interface BackendView {
  address: string;
  state: BackendStateName;
  /** The leaf state, e.g. `up.awaitingReattach`, for audits and the console. */
  path: LeafPath;
  pending: Action | null;
  /** What pgpool should show; null when pcpflow has no opinion (attention). */
  expected: Expected | null;
}

export function expectedFor(state: BackendStateName): Expected | null {
  switch (state) {
    case 'up':
      return { status: 'up', role: 'standby' };
    case 'promoted':
      return { status: 'up', role: 'primary' };
    case 'detached':
    case 'rebuilding':
      return { status: 'down', role: 'standby' };
    case 'attention':
      return null;
  }
}

export function backendViews(s: ClusterSnapshot): BackendView[] {
  return s.backends.map((b) => {
    const path = backendPath(b);
    const state = stateNameOf(path);
    return { address: b.context.address, state, path, pending: b.context.pending, expected: expectedFor(state) };
  });
}

/**
 * Matches an address as EFM or pgpool spell it to a backend, by the one rule everyone uses
 * (contracts/backend-resolution.ts): `host:port` exactly, or a bare host when exactly one backend
 * has that host (EFM's %h carries no port). Ambiguous or unknown → null.
 */
export function resolveBackend(s: ClusterSnapshot, addressText: string): string | null {
  const res = resolveAddress(
    s.backends.map((b) => b.context.address),
    addressText,
  );
  return res.kind === 'match' ? res.address : null;
}

export interface ObservedNode {
  id: number;
  host: string;
  port: number;
  status: 'up' | 'waiting' | 'down' | 'unused';
  role: 'primary' | 'standby';
}

export interface Drift {
  backend: string;
  nodeId: number;
  observed: { status: ObservedNode['status']; role: ObservedNode['role'] };
  expected: string;
}

/** The state an action takes its backend to; what pgpool should then show is that state's expectedFor. */
function stateAfter(type: ActionType): BackendStateName {
  switch (type) {
    case 'attach':
    case 'await-streaming':
      return 'up';
    case 'detach':
      return 'detached';
    case 'promote':
    case 'promote-switchover':
      return 'promoted';
  }
}

/** What the action that gave up was meant to achieve. */
function intentOf(s: ClusterSnapshot, address: string): Expected | null {
  const gaveUp = s.backends.find((b) => b.context.address === address)?.context.gaveUp;
  return gaveUp ? expectedFor(stateAfter(gaveUp.type)) : null;
}

/** pgpool's `waiting` is an attached node no client has used yet: up, for our purposes. */

/** pgpool shows a node as expected. For a node expected down its role is not compared: pgpool reports whatever role it last saw. */
export function showsAsExpected(exp: Expected, observed: { status: ObservedNode['status']; role: ObservedNode['role'] }): boolean {
  return isAttached(observed.status) === (exp.status === 'up') && (exp.status === 'down' || observed.role === exp.role);
}

/**
 * Pure: which backends pgpool shows differently from what the machines expect. A backend with an
 * action in flight is skipped (the action is about to change it), and so is the whole cluster while
 * a promote is in flight, because pgpool then marks every other node down on purpose.
 */
export function findDrift(s: ClusterSnapshot, observed: ObservedNode[]): Drift[] {
  const views = backendViews(s);
  if (views.some((v) => v.pending?.type === 'promote' || v.pending?.type === 'promote-switchover')) return [];
  const drift: Drift[] = [];
  for (const node of observed) {
    const backend = resolveBackend(s, formatAddress({ host: node.host, port: node.port }));
    const view = views.find((v) => v.address === backend);
    if (!view || view.pending) continue;
    if (view.state === 'attention') {
      // A backend whose action gave up waits for a human. Once pgpool shows what that action was
      // for (the cause fixed and the action done by hand, or pgpool came round), report it: the
      // machine adopts pgpool's view and leaves attention. Until then nothing automatic acts.
      const intent = intentOf(s, view.address);
      if (intent && showsAsExpected(intent, node))
        drift.push({
          backend: view.address,
          nodeId: node.id,
          observed: { status: node.status, role: node.role },
          expected: `${intent.status}/${intent.role} (attention: the action that gave up is now in effect)`,
        });
      continue;
    }
    if (!view.expected) continue;
    const exp = view.expected;
    if (showsAsExpected(exp, node)) continue;
    drift.push({
      backend: view.address,
      nodeId: node.id,
      observed: { status: node.status, role: node.role },
      expected: `${exp.status}/${exp.role} (${view.state})`,
    });
  }
  return drift;
}
