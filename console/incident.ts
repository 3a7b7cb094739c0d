import { buildTimeline, type Incident, type Timeline } from '../audit/timeline.ts';
import { formatDuration, summarize, type BackendSummary } from '../audit/timeline-summary.ts';
import type { AuditRecord } from '../contracts/audit.ts';
import { renderDiagram, type Visit } from '../diagrams/index.ts';
import { inlineSvg } from './svg.ts';
import { html, trusted, type SafeHtml } from './html.ts';
import { timelineSvg } from './timeline-svg.ts';

/**
 * The auditor's view of a cluster over a range, built once and drawn by the console (live) and by
 * `pcpflow audit report` (one self-contained file): the timeline, the incidents found in it, a
 * who/what/when/how-long summary per backend, the diagram with the transitions taken, and every
 * record with its sentence (the target of each click on the timeline).
 */
export interface IncidentView {
  cluster: string;
  timeline: Timeline;
  summary: BackendSummary[];
  /** The folded diagram with the range's transitions counted, as inline SVG. */
  diagram: string;
  /** Each incident drawn on its own, zoomed (the report has no script to zoom). */
  zoomed: Array<{ incident: Incident; svg: string }>;
}

export interface ViewInput {
  cluster: string;
  records: readonly AuditRecord[];
  from: number;
  to: number;
  backends?: readonly string[];
  layout: (dot: string) => string;
  /** Pre-render each incident zoomed (report); the console links to the range instead. */
  zoom?: boolean;
}

/** Every state change of every backend in the range, for the diagram's counts. */
export function visitsOf(records: readonly AuditRecord[], from: number, to: number): Visit[] {
  return records.flatMap((r) => {
    const t = Date.parse(r.at);
    return r.kind === 'decision' && r.backend && r.from && r.to && r.from !== r.to && t >= from && t <= to ? [{ from: r.from, to: r.to }] : [];
  });
}

export async function incidentView(i: ViewInput): Promise<IncidentView> {
  const timeline = buildTimeline(i.cluster, i.records, { from: i.from, to: i.to, ...(i.backends ? { backends: i.backends } : {}) });
  const visits = visitsOf(i.records, i.from, i.to);
  const diagram = inlineSvg(await renderDiagram({ format: 'svg', visits, layout: i.layout }));
  const zoomed = (i.zoom ? timeline.incidents : []).map((incident) => {
    const pad = Math.max(2000, (incident.to - incident.from) * 0.05);
    const t = buildTimeline(i.cluster, i.records, { from: incident.from - pad, to: incident.to + pad, ...(i.backends ? { backends: i.backends } : {}) });
    return { incident, svg: timelineSvg(t, { caption: `incident ${iso(incident.from)} → ${iso(incident.to)}` }) };
  });
  return { cluster: i.cluster, timeline, summary: summarize(timeline), diagram, zoomed };
}

const iso = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

function eventsText(e: Record<string, number>): string {
  const parts = Object.entries(e).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'none';
}

function actionsText(s: BackendSummary): string {
  if (s.actions.length === 0) return 'none';
  return s.actions.map((a) => `${a.type} ${a.result}${a.attempts > 1 ? ` after ${a.attempts} attempts` : ''}${a.end !== null ? ` in ${formatDuration(a.end - a.requestedAt)}` : ''}`).join('; ');
}

function outText(s: BackendSummary): string {
  if (s.outOfBalancingMs === 0) return 'never';
  return `${formatDuration(s.outOfBalancingMs)} (${s.outOfBalancing.map((o) => `${iso(o.from).slice(11)} → ${iso(o.to).slice(11)}`).join(', ')})`;
}

function concerns(s: BackendSummary): string {
  const c: string[] = [];
  if (s.repeated) c.push(`${s.repeated} action(s) asked again while the first was in flight`);
  if (s.gaveUp) c.push(`${s.gaveUp} gave up`);
  if (s.unconfirmed) c.push(`${s.unconfirmed} not confirmed by the end of the range`);
  return c.length ? c.join('; ') : 'none';
}

export function summaryTable(v: IncidentView): SafeHtml {
  return html`<table class="summary"><thead><tr><th>backend</th><th>states</th><th>events (by source)</th><th>PCP actions</th><th>retries</th><th>out of load balancing</th><th>done twice / not done</th></tr></thead><tbody>
${v.summary.map(
  (s) => html`<tr data-backend="${s.backend}"><td><code>${s.backend}</code></td><td>${s.states.join(' → ') || '-'}</td><td>${eventsText(s.events)}</td><td>${actionsText(s)}</td><td>${s.retries}</td><td>${outText(s)}</td><td class="${s.repeated || s.gaveUp || s.unconfirmed ? 'bad' : ''}">${concerns(s)}</td></tr>\n`,
)}</tbody></table>`;
}

export function recordsTable(records: readonly AuditRecord[]): SafeHtml {
  return html`<table class="records"><thead><tr><th>#</th><th>at</th><th>kind</th><th>backend</th><th>transition</th><th>actions</th><th>sentence</th></tr></thead><tbody>
${records.map((r) => {
  const { snapshot: _s, ...shown } = r;
  return html`<tr id="rec-${r.seq}" data-seq="${r.seq}"><td>${r.seq}</td><td>${r.at}</td><td>${r.kind}${r.eventType ? html`<br><span class="muted">${r.eventType}</span>` : ''}${r.outcome ? html`<br><b>${r.outcome}</b>` : ''}</td><td>${r.backend ? html`<code>${r.backend}</code>` : ''}</td><td>${r.from || r.to ? html`<code>${r.from ?? '·'} → ${r.to ?? '·'}</code>` : ''}</td><td>${(r.actions ?? []).map((a) => html`${a.type} <code>${a.actionId}</code> `)}${r.actionId ? html`<code>${r.actionId}</code> attempt ${r.attempt ?? ''}` : ''}</td><td>${r.note}<details><summary>record</summary><pre>${JSON.stringify(shown, null, 1)}</pre></details></td></tr>\n`;
})}</tbody></table>`;
}

export interface SectionOptions {
  /** Console: a link for a range (zoom, incident); null in the report (incidents are below). */
  rangeHref: ((from: number, to: number) => string) | null;
  laneHref?: (backend: string) => string;
}

function zoomLinks(t: Timeline, href: (from: number, to: number) => string): SafeHtml {
  const span = t.to - t.from;
  const mid = t.from + span / 2;
  return html`<p class="zoom">zoom: <a class="zoom-in" href="${href(mid - span / 4, mid + span / 4)}">in ×2</a><a class="zoom-out" href="${href(mid - span, mid + span)}">out ×2</a><a href="${href(t.from - span / 2, t.to - span / 2)}">← earlier</a><a href="${href(t.from + span / 2, t.to + span / 2)}">later →</a> <span class="muted">or drag across the timeline</span></p>`;
}

export function incidentSections(v: IncidentView, o: SectionOptions): SafeHtml {
  const t = v.timeline;
  const incidents = t.incidents.length
    ? html`<ol class="incidents">${t.incidents.map(
        (inc, n) =>
          html`<li class="incident" data-from="${inc.from}" data-to="${inc.to}">${iso(inc.from)} → ${iso(inc.to)} (${formatDuration(inc.to - inc.from)}): ${inc.events} events about ${inc.backends.join(', ') || 'the cluster'} — ${o.rangeHref ? html`<a class="incident-range" href="${o.rangeHref(inc.from - 2000, inc.to + 2000)}">show this range</a>` : html`<a href="#incident-${n + 1}">zoomed below</a>`}</li>`,
      )}</ol>`
    : html`<p class="muted">No burst of events in this range.</p>`;
  return html`<section class="incident-view" data-cluster="${v.cluster}">
<h2>timeline of cluster ${v.cluster}</h2>
${o.rangeHref ? zoomLinks(t, o.rangeHref) : ''}
<div class="timeline-box">${trusted(timelineSvg(t, o.laneHref ? { laneHref: o.laneHref } : {}))}</div>
<h2>incidents found</h2>
${incidents}
<h2>per backend: who, what, when, how long</h2>
${summaryTable(v)}
${v.zoomed.map((z, n) => html`<section class="zoomed" id="incident-${n + 1}"><h2>incident ${n + 1}</h2><div class="timeline-box">${trusted(z.svg)}</div></section>`)}
<h2>state diagram — transitions taken in this range</h2>
<div class="diagram">${trusted(v.diagram)}</div>
<h2>audit records (${t.records.length})</h2>
${recordsTable(t.records)}
</section>`;
}

/** The change-record summary: who/what/when/how long per backend, in Markdown. */
export function incidentMarkdown(v: IncidentView, now: Date = new Date()): string {
  const t = v.timeline;
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    `# pcpflow incident report — cluster ${v.cluster}`,
    '',
    `Range: ${iso(t.from)} → ${iso(t.to)} (${formatDuration(t.to - t.from)}). Made ${iso(now.getTime())} from ${t.records.length} audit records.`,
    '',
  ];
  if (t.incidents.length) {
    lines.push('## Incidents found', '');
    for (const inc of t.incidents) lines.push(`- ${iso(inc.from)} → ${iso(inc.to)} (${formatDuration(inc.to - inc.from)}): ${inc.events} events about ${inc.backends.join(', ') || 'the cluster'}`);
    lines.push('');
  }
  lines.push('## Per backend', '', '| backend | states | events | PCP actions | retries | out of load balancing | done twice / not done |', '|---|---|---|---|---|---|---|');
  for (const s of v.summary)
    lines.push(`| ${cell(s.backend)} | ${cell(s.states.join(' → ') || '-')} | ${cell(eventsText(s.events))} | ${cell(actionsText(s))} | ${s.retries} | ${cell(outText(s))} | ${cell(concerns(s))} |`);
  lines.push('', '## Decisions', '');
  // What changed or was refused; the bookkeeping of confirmed outcomes is in the HTML report.
  const told = (x: AuditRecord): boolean =>
    (x.kind === 'decision' && (x.from !== x.to || (x.actions?.length ?? 0) > 0)) || x.kind === 'event-ignored' || x.kind === 'event-rejected';
  for (const r of t.records.filter(told))
    lines.push(`- ${iso(Date.parse(r.at)).slice(11)} #${r.seq}${r.backend ? ` \`${r.backend}\`` : ''}${r.from || r.to ? ` ${r.from ?? '·'} → ${r.to ?? '·'}` : ''}${r.actions?.length ? ` (PCP ${r.actions.map((a) => a.type).join(', ')})` : ''}: ${cell(r.note)}`);
  return `${lines.join('\n')}\n`;
}
