import { toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';
import { backendMachine } from './backend-machine.ts';
import { isLeafPath } from './state-path.ts';
import { unhandledReasons } from './unhandled.ts';

/**
 * The backend machine as a graph of states and transitions, read from the machine definition
 * (xstate/graph's toDirectedGraph plus the eventless `boot` choices), never written by hand. The
 * diagrams (diagrams/) and the console's timeline lanes draw it, so the picture an auditor sees is
 * the logic that decided.
 */

export interface GraphState {
  /** Dotted path without the machine id: `up`, `up.serving`, `attention`. */
  path: string;
  label: string;
  parent: string | null;
  compound: boolean;
  /** For a compound state, the leaf entered by default. */
  initialLeaf: string;
  /**
   * For a leaf state, the events it takes no transition on and why (the machine's own words,
   * from state meta; `*` answers every other event), so a diagram can show what a state ignores.
   */
  ignores: Array<{ event: string; reason: string }>;
}

export interface GraphEdge {
  /** A state path, or `*` for transitions defined on the machine root (any state). */
  from: string;
  to: string;
  event: string;
  guard: string | null;
  action: string | null;
}

export interface MachineGraph {
  states: GraphState[];
  edges: GraphEdge[];
}

const ROOT = backendMachine.id;

function strip(id: string): string {
  return id === ROOT ? '*' : id.startsWith(`${ROOT}.`) ? id.slice(ROOT.length + 1) : id;
}

interface TransitionLike {
  guard?: unknown;
  actions?: readonly unknown[];
  target?: ReadonlyArray<{ id: string }> | undefined;
}

function guardName(t: TransitionLike): string | null {
  const g = t.guard;
  if (typeof g === 'string') return g;
  if (g && typeof g === 'object' && 'type' in g) {
    const params = 'params' in g && g.params && typeof g.params === 'object' && 'type' in g.params ? `(${String(g.params.type)})` : '';
    return `${String(g.type)}${params}`;
  }
  return null;
}

/** The PCP action a transition requests, if any: what a DBA wants to read on an edge. */
function actionName(t: TransitionLike): string | null {
  for (const a of t.actions ?? []) {
    if (a && typeof a === 'object' && 'type' in a && a.type === 'request' && 'params' in a) {
      const p = a.params;
      if (p && typeof p === 'object' && 'type' in p) return String(p.type);
    }
  }
  return null;
}

let cached: MachineGraph | null = null;

export function machineGraph(): MachineGraph {
  if (cached) return cached;
  const states: GraphState[] = [];
  const edges: GraphEdge[] = [];
  const visit = (n: DirectedGraphNode, parent: string | null): void => {
    const path = strip(n.id);
    if (path !== '*') {
      const initial = n.stateNode.initial?.target?.[0]?.id;
      states.push({
        path,
        label: n.stateNode.key,
        parent,
        compound: n.children.length > 0,
        initialLeaf: initial ? strip(initial) : path,
        ignores: isLeafPath(path) ? Object.entries(unhandledReasons(path)).map(([event, reason]) => ({ event, reason: reason.replaceAll('{path}', path) })) : [],
      });
    }
    for (const e of n.edges) {
      edges.push({
        from: strip(e.source.id),
        to: strip(e.target.id),
        event: e.label.text,
        guard: guardName(e.transition),
        action: actionName(e.transition),
      });
    }
    for (const c of n.children) visit(c, path === '*' ? null : path);
  };
  visit(toDirectedGraph(backendMachine), null);
  // Eventless choices are not edges in toDirectedGraph; read them from the state node itself.
  const boot = backendMachine.root.states.boot;
  for (const t of boot?.always ?? []) {
    const target = t.target?.[0];
    if (target) edges.push({ from: 'boot', to: strip(target.id), event: '', guard: guardName(t) ?? 'otherwise', action: null });
  }
  cached = { states, edges };
  return cached;
}

/** Whether a history's from/to names are states of this machine (leaf paths or top-level names). */
export function knownState(path: string): boolean {
  return isLeafPath(path) || machineGraph().states.some((s) => s.path === path);
}
