import { requireBackend } from '../contracts/backend-resolution.ts';
import { InvalidInputError } from '../contracts/errors.ts';
import { machineGraph, type GraphEdge, type MachineGraph } from '../machines/index.ts';
import { toFoldedDot, toFoldedMermaid, type Visit } from './folded.ts';
import { HistoryParseError } from './errors.ts';

/**
 * Diagrams of the backend machine, drawn from the graph machines/graph.ts extracts from the
 * machine definition, never by hand, so the picture an auditor sees is the logic that decided. A
 * history overlays one backend's path: visited states filled, taken transitions drawn in red and
 * numbered in order. Rendering DOT to SVG needs Graphviz; the caller passes it in as `layout`
 * (graphviz.ts), so these functions stay pure and testable on DOT text.
 */

export type DiagramFormat = 'mermaid' | 'dot' | 'svg' | 'html';

export interface HistoryStep {
  n: number;
  backend: string;
  from: string;
  to: string;
  event?: string;
  eventId?: string;
  at?: string;
  actions?: string[];
  note?: string;
}

function leafFor(g: MachineGraph, path: string): string {
  return g.states.find((s) => s.path === path)?.initialLeaf ?? path;
}

function edgeLabel(e: GraphEdge): string {
  return [e.event, e.guard ? `[${e.guard}]` : '', e.action ? `/ ${e.action}` : ''].filter(Boolean).join(' ');
}

/** Audit JSON lines or `pcpflow simulate --json` lines → one backend's numbered path. */
export function parseHistory(text: string, backend?: string): { backend: string | null; steps: HistoryStep[] } {
  const rows: Omit<HistoryStep, 'n'>[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed);
    } catch {
      throw new HistoryParseError(`history line ${i + 1} is not JSON`);
    }
    if (!raw || typeof raw !== 'object') throw new HistoryParseError(`history line ${i + 1} is not a JSON object`);
    const r = raw as Record<string, unknown>;
    if (typeof r.backend !== 'string' || typeof r.from !== 'string' || typeof r.to !== 'string') return;
    // Ignored, rejected and duplicate events took no transition; the path shows decisions only.
    if (typeof r.kind === 'string' && r.kind !== 'decision') return;
    const actions = Array.isArray(r.actions)
      ? r.actions.flatMap((a: unknown) => {
          if (!a || typeof a !== 'object') return [];
          const o = a as Record<string, unknown>;
          return [[o.type, o.backend, o.actionId].filter((x) => typeof x === 'string').join(' ')];
        })
      : undefined;
    const event = typeof r.event === 'string' ? r.event : typeof r.eventType === 'string' ? r.eventType : undefined;
    rows.push({
      backend: r.backend,
      from: r.from,
      to: r.to,
      ...(event !== undefined ? { event } : {}),
      ...(typeof r.eventId === 'string' ? { eventId: r.eventId } : {}),
      ...(typeof r.at === 'string' ? { at: r.at } : {}),
      ...(actions ? { actions } : {}),
      ...(typeof r.note === 'string' ? { note: r.note } : {}),
    });
  });
  // --backend by the one rule the hooks and the CLI use, over the backends this history names.
  const named = [...new Set(rows.map((r) => r.backend))];
  let chosen: string | null;
  if (backend === undefined) chosen = rows.find((r) => r.from !== r.to)?.backend ?? rows[0]?.backend ?? null;
  else if (named.length === 0) chosen = null;
  else chosen = requireBackend(named, backend, '--backend', 'the history');
  const steps = rows.filter((r) => chosen !== null && r.backend === chosen).map((r, i) => ({ ...r, n: i + 1 }));
  return { backend: chosen, steps };
}

const dotQ = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function toDot(history: HistoryStep[] = [], title = 'pcpflow backend machine'): string {
  const g = machineGraph();
  const visited = new Set(history.flatMap((h) => [leafFor(g, h.from), leafFor(g, h.to)]));
  const lines: string[] = [
    'digraph backend {',
    `  graph [compound=true rankdir=LR fontname="Helvetica" label=${dotQ(title)} labelloc=t nodesep=0.5 ranksep=0.9];`,
    '  node [shape=box style="rounded,filled" fillcolor="#ffffff" fontname="Helvetica"];',
    '  edge [fontname="Helvetica" fontsize=9 color="#888888" fontcolor="#555555"];',
    '  "__start" [shape=point width=0.15 label=""];',
    '  "*" [shape=plaintext style="" label="any state"];',
  ];
  const nodeAttrs = (path: string, label: string, extra = ''): string => {
    const hit = visited.has(path);
    const style = hit ? ' fillcolor="#ffe9a8" color="#d62728" penwidth=2' : '';
    // What the state does nothing on, and why: the reasons the audit gives, shown on hover in the SVG.
    const ignores = g.states.find((x) => x.path === path)?.ignores ?? [];
    const tooltip = ignores.length ? ` tooltip=${dotQ([`${path} does nothing on:`, ...ignores.map((x) => `${x.event}: ${x.reason}`)].join('\n')).replaceAll('\n', '\\n')}` : '';
    return `${dotQ(path)} [label=${dotQ(label)}${style}${tooltip}${extra}];`;
  };
  for (const s of g.states.filter((x) => x.parent === null)) {
    if (s.compound) {
      lines.push(`  subgraph ${dotQ(`cluster_${s.path}`)} {`, `    label=${dotQ(s.label)}; style="rounded"; color="#444444";`);
      for (const c of g.states.filter((x) => x.parent === s.path)) lines.push(`    ${nodeAttrs(c.path, c.label)}`);
      lines.push('  }');
    } else if (s.path === 'boot') {
      lines.push(`  ${nodeAttrs(s.path, s.label, ' shape=diamond style="filled" fillcolor="#eeeeee"')}`);
    } else {
      lines.push(`  ${nodeAttrs(s.path, s.label, s.path === 'attention' ? ' color="#b00000"' : '')}`);
    }
  }
  lines.push('  "__start" -> "boot";');
  const compound = (p: string): boolean => g.states.some((s) => s.path === p && s.compound);
  const inside = (child: string, parent: string): boolean => child.startsWith(`${parent}.`);
  for (const e of g.edges) {
    const attrs = [`label=${dotQ(edgeLabel(e))}`];
    let tail = e.from;
    let head = e.to;
    if (compound(e.from)) {
      tail = leafFor(g, e.from);
      if (!inside(e.to, e.from) && e.to !== e.from) attrs.push(`ltail=${dotQ(`cluster_${e.from}`)}`);
    }
    if (compound(e.to)) {
      head = leafFor(g, e.to);
      if (!inside(e.from, e.to) && e.to !== e.from) attrs.push(`lhead=${dotQ(`cluster_${e.to}`)}`);
    }
    if (e.action) attrs.push('color="#1f5fa8"', 'fontcolor="#1f5fa8"');
    lines.push(`  ${dotQ(tail)} -> ${dotQ(head)} [${attrs.join(' ')}];`);
  }
  for (const h of history) {
    const label = `#${h.n}${h.event ? ` ${h.event}` : ''}`;
    lines.push(
      `  ${dotQ(leafFor(g, h.from))} -> ${dotQ(leafFor(g, h.to))} [label=${dotQ(label)} color="#d62728" fontcolor="#d62728" penwidth=2.2 constraint=false];`,
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

const mmId = (path: string): string => (path === '*' ? 'any_state' : path.replace(/\./g, '_'));
const mmText = (s: string): string => s.replace(/[:;#\n]/g, ' ').trim();

export function toMermaid(history: HistoryStep[] = []): string {
  const g = machineGraph();
  const visited = new Set(history.flatMap((h) => [leafFor(g, h.from), leafFor(g, h.to)]));
  const lines: string[] = ['stateDiagram-v2', '  [*] --> boot', '  state boot <<choice>>', '  any_state : any state'];
  for (const s of g.states.filter((x) => x.parent === null && x.compound)) {
    lines.push(`  state ${mmId(s.path)} {`, `    [*] --> ${mmId(s.initialLeaf)}`);
    for (const c of g.states.filter((x) => x.parent === s.path)) lines.push(`    ${mmId(c.path)} : ${c.label}`);
    lines.push('  }');
  }
  for (const e of g.edges) {
    const label = mmText(edgeLabel(e));
    lines.push(`  ${mmId(e.from)} --> ${mmId(e.to)}${label ? ` : ${label}` : ''}`);
  }
  for (const h of history) lines.push(`  ${mmId(leafFor(g, h.from))} --> ${mmId(leafFor(g, h.to))} : step ${h.n}${h.event ? ` ${mmText(h.event)}` : ''}`);
  if (visited.size > 0) {
    lines.push('  classDef visited fill:#ffe9a8,stroke:#d62728,stroke-width:2px');
    lines.push(`  class ${[...visited].map(mmId).join(',')} visited`);
  }
  return `${lines.join('\n')}\n`;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One self-contained page: the SVG inline plus the numbered timeline; no scripts, no network. */
export function toHtml(svg: string, history: HistoryStep[], backend: string | null): string {
  const title = backend ? `pcpflow — path of ${backend}` : 'pcpflow — backend state machine';
  const body = svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/<!DOCTYPE[^>]*>\s*/i, '');
  const rows = history
    .map(
      (h) =>
        `<tr><td class="n">${h.n}</td><td>${esc(h.at ?? '')}</td><td>${esc(h.event ?? '')}</td><td><code>${esc(h.from)}</code> → <code>${esc(h.to)}</code></td><td>${esc((h.actions ?? []).join(', '))}</td><td>${esc(h.note ?? '')}</td></tr>`,
    )
    .join('\n');
  const timeline = history.length
    ? `<h2>Timeline</h2><table><thead><tr><th>#</th><th>at</th><th>event</th><th>transition</th><th>actions</th><th>note</th></tr></thead><tbody>\n${rows}\n</tbody></table>`
    : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;margin:1.5rem;color:#222}
.diagram{overflow:auto;border:1px solid #ddd;padding:.5rem}
.diagram svg{max-width:100%;height:auto}
table{border-collapse:collapse;margin-top:.5rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.n{color:#d62728;font-weight:bold}
</style></head>
<body><h1>${esc(title)}</h1>
<div class="diagram">${body}</div>
${timeline}
</body></html>
`;
}

export type DiagramDetail = 'people' | 'full';

export interface RenderOptions {
  format: DiagramFormat;
  /** people (default): folded, visited transitions counted; full: every state, guard and edge. */
  detail?: DiagramDetail;
  history?: HistoryStep[];
  /** Transitions taken over a range (every backend): counted on the folded diagram. */
  visits?: Visit[];
  backend?: string | null;
  /** DOT → SVG; required for svg and html. */
  layout?: (dot: string) => string | Promise<string>;
}

export async function renderDiagram(opts: RenderOptions): Promise<string> {
  const history = opts.history ?? [];
  const full = opts.detail === 'full';
  const visits = opts.visits ?? history;
  const title = opts.backend ? `pcpflow backend machine — path of ${opts.backend}` : visits.length && !full ? 'pcpflow backend machine — transitions taken' : 'pcpflow backend machine';
  const dot = (): string => (full ? toDot(history, title) : toFoldedDot(visits, title));
  switch (opts.format) {
    case 'mermaid':
      return full ? toMermaid(history) : toFoldedMermaid(visits);
    case 'dot':
      return dot();
    case 'svg':
    case 'html': {
      if (!opts.layout) throw new InvalidInputError(`format ${opts.format} needs a Graphviz layout function`);
      const svg = await opts.layout(dot());
      return opts.format === 'svg' ? svg : toHtml(svg, history, opts.backend ?? null);
    }
  }
}
