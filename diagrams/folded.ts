import { machineGraph, type GraphEdge } from '../machines/index.ts';

/**
 * The backend machine drawn for people: one box per top-level state, one arrow per pair of states
 * a DBA reasons about, labelled with the events that take it and the PCP action it asks for.
 * Folded away (see `--detail full` for them): substates and moves between them, guards, the
 * eventless boot choice, and outcome bookkeeping (a confirmed or failed attempt that keeps the
 * state). Derived from the machine definition like the full diagram, so a state added to the
 * machine appears here with no edit: a new top-level state becomes a box, a new substate folds
 * into its parent. Over a range, the transitions taken are drawn heavy with their counts and the
 * others faded; Graphviz places labels (never on top of each other) and the ranks follow the
 * lifecycle up → detached → promoted → rebuilding.
 */

export interface Visit {
  from: string;
  to: string;
}

export interface FoldedEdge {
  from: string;
  to: string;
  events: string[];
  actions: string[];
  /** How many times the range took it (0 when not drawn over a range). */
  count: number;
  /** On a state's loop: moves between its substates in the range. */
  within?: number;
}

export interface FoldedGraph {
  /** Top-level states in lifecycle order. */
  states: Array<{ path: string; entered: number }>;
  edges: FoldedEdge[];
}

/** The lifecycle a DBA reads left to right; states the machine adds later follow in its order. */
const LIFECYCLE = ['up', 'detached', 'promoted', 'rebuilding', 'attention'];

const top = (path: string): string => (path === '*' ? '*' : (path.split('.')[0] ?? path));

/** `REBUILD_STARTED` → `rebuild started`; an outcome is named by what it means here. */
function eventName(e: GraphEdge): string {
  if (e.event === 'OUTCOME') {
    if (e.guard?.startsWith('pendingGaveUp')) return 'action gave up';
    if (e.guard?.startsWith('lateSuccess')) return 'late confirmation';
    return 'outcome';
  }
  return e.event.toLowerCase().replace(/_/g, ' ');
}

/** Bookkeeping: a move that stays in its top-level state and asks pgpool for nothing. */
function isBookkeeping(e: GraphEdge): boolean {
  return e.from === 'boot' || (top(e.from) === top(e.to) && e.action === null);
}

export function foldedGraph(visits: readonly Visit[] = []): FoldedGraph {
  const g = machineGraph();
  const tops = g.states.filter((s) => s.parent === null && s.path !== 'boot').map((s) => s.path);
  const order = [...LIFECYCLE.filter((s) => tops.includes(s)), ...tops.filter((s) => !LIFECYCLE.includes(s))];
  const counts = new Map<string, number>();
  const entered = new Map<string, number>();
  for (const v of visits) {
    const key = `${top(v.from)}>${top(v.to)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (top(v.from) !== top(v.to)) entered.set(top(v.to), (entered.get(top(v.to)) ?? 0) + 1);
  }
  const edges = new Map<string, FoldedEdge>();
  for (const e of g.edges) {
    if (isBookkeeping(e)) continue;
    const from = top(e.from);
    const to = top(e.to);
    const key = `${from}>${to}`;
    let f = edges.get(key);
    if (!f) edges.set(key, (f = { from, to, events: [], actions: [], count: 0 }));
    const name = eventName(e);
    if (!f.events.includes(name)) f.events.push(name);
    if (e.action && !f.actions.includes(e.action)) f.actions.push(e.action);
  }
  // What the range took: an edge of the folded graph, or a visited move inside one state (drawn
  // as a loop only then), or from "any state".
  for (const [key, count] of counts) {
    const [from = '', to = ''] = key.split('>');
    if (from === to) {
      // Moves between substates share the state's loop (one loop, one label) but are counted
      // apart: they are not the loop's events.
      const loop = edges.get(key);
      if (loop) loop.within = count;
      else edges.set(key, { from, to, events: [], actions: [], count: 0, within: count });
      continue;
    }
    const f = edges.get(key) ?? edges.get(`*>${to}`);
    if (f) f.count += count;
    else edges.set(key, { from, to, events: ['taken'], actions: [], count });
  }
  return { states: order.map((path) => ({ path, entered: entered.get(path) ?? 0 })), edges: [...edges.values()] };
}

const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Events on the first line; the PCP action pcpflow sends on the second (when its name adds something). */
function edgeText(e: FoldedEdge, newline = '\n'): string {
  const extra = e.actions.filter((a) => !e.events.includes(a));
  const pcp = e.actions.length === 0 ? '' : extra.length ? `${newline}PCP ${e.actions.join(', ')}` : ' (PCP)';
  const within = e.within ? `${e.events.length ? newline : ''}between its substates ×${e.within}` : '';
  return `${e.events.join(', ')}${pcp}${e.count ? `  ×${e.count}` : ''}${within}`;
}

export function toFoldedDot(visits: readonly Visit[] = [], title = 'pcpflow backend machine'): string {
  const g = foldedGraph(visits);
  const ranged = visits.length > 0;
  const lines = [
    'digraph backend {',
    `  graph [rankdir=LR fontname="Helvetica" label=${q(title)} labelloc=t nodesep=0.6 ranksep=1.1 forcelabels=true pad="0.6,0.3"];`,
    '  node [shape=box style="rounded,filled" fillcolor="#ffffff" fontname="Helvetica" fontsize=13 margin="0.25,0.12"];',
    '  edge [fontname="Helvetica" fontsize=10];',
  ];
  for (const s of g.states) {
    const hit = s.entered > 0;
    const faded = ranged && !hit;
    const attrs = [
      `label=${q(hit ? `${s.path}\n(entered ×${s.entered})` : s.path)}`,
      hit ? 'fillcolor="#ffe9a8" color="#d62728" penwidth=2' : faded ? 'color="#cccccc" fontcolor="#aaaaaa"' : '',
      s.path === 'attention' && !faded ? 'color="#b00000"' : '',
    ].filter(Boolean);
    lines.push(`  ${q(s.path)} [${attrs.join(' ')}];`);
  }
  if (g.edges.some((e) => e.from === '*')) lines.push('  "*" [shape=plaintext style="" label="any state" fontcolor="#777777"];');
  // The lifecycle as invisible heavy edges: Graphviz ranks the states in that order.
  const life = g.states.map((s) => s.path);
  for (let i = 1; i < life.length; i++) lines.push(`  ${q(life[i - 1] ?? '')} -> ${q(life[i] ?? '')} [style=invis weight=20];`);
  if (g.edges.some((e) => e.from === '*')) lines.push('  { rank=same; "*"; "attention"; }');
  const rank = (p: string): number => (p === '*' ? life.length : life.indexOf(p));
  for (const e of g.edges) {
    const attrs = [`label=${q(edgeText(e))}`];
    // A way back is written forward with its arrow reversed: it still ranks (so Graphviz keeps its
    // label clear of the others) without pulling the states out of lifecycle order.
    const back = rank(e.to) < rank(e.from);
    if (back) attrs.push('dir=back');
    if (e.count > 0 || e.within) attrs.push('color="#d62728" fontcolor="#d62728" penwidth=2.6');
    else if (ranged) attrs.push('color="#dddddd" fontcolor="#bbbbbb"');
    else attrs.push(e.actions.length ? 'color="#1f5fa8" fontcolor="#1f5fa8"' : 'color="#888888" fontcolor="#555555"');
    lines.push(back ? `  ${q(e.to)} -> ${q(e.from)} [${attrs.join(' ')}];` : `  ${q(e.from)} -> ${q(e.to)} [${attrs.join(' ')}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

const mm = (p: string): string => (p === '*' ? 'any_state' : p.replace(/[^A-Za-z0-9_]/g, '_'));

export function toFoldedMermaid(visits: readonly Visit[] = []): string {
  const g = foldedGraph(visits);
  const lines = ['stateDiagram-v2', '  direction LR'];
  for (const s of g.states) lines.push(`  ${mm(s.path)} : ${s.path}${s.entered ? ` (entered ×${s.entered})` : ''}`);
  if (g.edges.some((e) => e.from === '*')) lines.push('  any_state : any state');
  for (const e of g.edges) lines.push(`  ${mm(e.from)} --> ${mm(e.to)} : ${edgeText(e, ' ').replace(/[:;#\n]/g, ' ')}`);
  const hit = g.states.filter((s) => s.entered > 0).map((s) => mm(s.path));
  if (hit.length) lines.push('  classDef visited fill:#ffe9a8,stroke:#d62728,stroke-width:2px', `  class ${hit.join(',')} visited`);
  return `${lines.join('\n')}\n`;
}
