import type { AuditRecord } from '../contracts/audit.ts';
import type { BackendStatus, ClusterStatus } from '../workers/status.ts';
import { CLIENT_SCRIPT, REPORT_CSP, STYLE } from './assets.ts';
import { incidentSections, type IncidentView } from './incident.ts';
import type { BackendData } from './data.ts';
import { html, trusted, type SafeHtml } from './html.ts';
import { RANGE_PRESETS, type TimeRange } from './range.ts';
import type { Episode } from './timeline.ts';

/** Server-rendered pages. Every value from outside goes through `html`, which escapes it. */

export function backendHref(cluster: string, address: string, suffix = ''): string {
  return `/cluster/${encodeURIComponent(cluster)}/backend/${encodeURIComponent(address)}${suffix}`;
}

function rangeSearch(range: TimeRange): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(range.query)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

interface LayoutOptions {
  title: string;
  crumbs?: SafeHtml;
  main: SafeHtml;
  /** The cluster whose audit events refresh this page; '' = any; null = not live. */
  liveCluster: string | null;
  tools?: SafeHtml;
  /** A link home makes no sense in an exported file. */
  home?: boolean;
  /** A policy in the page itself, for a file opened from disk (no server sends headers then). */
  csp?: string;
}

export function page(o: LayoutOptions): string {
  const live = o.liveCluster !== null;
  const events = live ? `/events${o.liveCluster ? `?cluster=${encodeURIComponent(o.liveCluster)}` : ''}` : null;
  return `<!DOCTYPE html>\n${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${o.csp ? html`<meta http-equiv="Content-Security-Policy" content="${o.csp}">` : ''}<title>${o.title}</title><style>${trusted(STYLE)}</style></head>
<body data-cluster="${o.liveCluster ?? ''}" data-events="${events ?? ''}" data-live="off">
<header><h1>${o.home === false ? 'pcpflow' : html`<a href="/">pcpflow console</a>`}</h1>${o.crumbs ?? ''}${live ? html`<span id="live" class="live">connecting…</span>` : ''}${o.tools ?? ''}</header>
<main>${o.main}</main>
${live ? html`<script>${trusted(CLIENT_SCRIPT)}</script>` : ''}
</body></html>`.text}\n`;
}

function pgpoolCell(b: BackendStatus): SafeHtml {
  const main = b.pgpool ? html`#${b.pgpool.nodeId} ${b.pgpool.status} / ${b.pgpool.role}` : html`<span class="muted">not in pgpool's view</span>`;
  // A watchdog cluster whose pgpools show this backend differently: each one's view, flagged.
  if (!b.disagreement) return main;
  const each = Object.entries(b.views).map(([endpoint, seen]) => `${endpoint} ${seen ?? 'unreachable'}`);
  return html`${main}<br><span class="bad disagreement">pgpools disagree: ${each.join(', ')}</span>`;
}

function statusCells(b: BackendStatus): SafeHtml {
  const state = b.machine ?? '-';
  return html`<td class="machine state state-${state}">${state}</td><td class="pgpool">${pgpoolCell(b)}</td>
<td class="pending">${b.pending ? html`${b.pending.type} <code>${b.pending.actionId}</code>` : html`<span class="muted">none</span>`}</td>
<td class="drift ${b.drift ? 'bad' : ''}">${b.drift ?? html`<span class="muted">none</span>`}</td>`;
}

const STATUS_HEAD = html`<th>machine</th><th>pgpool (live)</th><th>in flight</th><th>drift</th>`;

function pgpoolLine(s: ClusterStatus): SafeHtml {
  const line = s.pgpoolEndpoint
    ? html`pgpool answered at <code>${s.pgpoolEndpoint}</code>`
    : html`<span class="bad">pgpool unreachable: ${s.pgpoolError ?? 'unknown error'}</span>`;
  if (s.pgpools.length < 2) return html`<p>${line}</p>`;
  // A watchdog cluster: every pgpool with its own role, and the leader whose table pcpflow follows.
  const each = s.pgpools.map(
    (p) => html`<li class="pgpool-member" data-endpoint="${p.endpoint}"><code>${p.endpoint}</code> ${p.reachable ? (p.watchdogRole ?? 'no watchdog') : html`<span class="bad">unreachable</span>`}</li>`,
  );
  return html`<p>${line}; watchdog leader: <strong class="leader">${s.leader ?? 'none answering'}</strong></p><ul class="pgpools">${each}</ul>`;
}

function auditLine(r: AuditRecord): SafeHtml {
  const move = r.from || r.to ? html` <code>${r.from ?? '·'} → ${r.to ?? '·'}</code>` : '';
  return html`<li><span class="muted">${r.at}</span> #${r.seq} ${r.kind}${r.backend ? html` <code>${r.backend}</code>` : ''}${move}: ${r.note}</li>`;
}

export function overviewMain(statuses: readonly ClusterStatus[]): SafeHtml {
  return html`${statuses.map(
    (s) => html`<section class="cluster" data-cluster="${s.cluster}">
<h2>cluster <a href="${clusterHref(s.cluster)}">${s.cluster}</a> <span class="muted">snapshot v${s.version ?? '-'}</span></h2>
${pgpoolLine(s)}
<table><thead><tr><th>backend</th>${STATUS_HEAD}</tr></thead><tbody>
${s.backends.map((b) => html`<tr data-backend="${b.address}"><td><a href="${backendHref(s.cluster, b.address)}">${b.address}</a></td>${statusCells(b)}</tr>\n`)}
</tbody></table>
<h2>last audit entries</h2><ol class="audit">${s.lastAudit.map(auditLine)}</ol>
</section>`,
  )}`;
}

export function clusterHref(cluster: string, suffix = '', q: Record<string, string> = {}): string {
  const search = new URLSearchParams(q).toString();
  return `/cluster/${encodeURIComponent(cluster)}${suffix}${search ? `?${search}` : ''}`;
}

/** A cluster: its backends, then the timeline with incidents, summary, diagram and records. */
export function clusterMain(status: ClusterStatus, v: IncidentView, range: TimeRange): SafeHtml {
  const rangeHref = (from: number, to: number): string => clusterHref(v.cluster, '', { since: new Date(from).toISOString(), until: new Date(to).toISOString() });
  return html`${overviewMain([status])}
${incidentSections(v, { rangeHref, laneHref: (b) => backendHref(v.cluster, b) })}
<p><a class="export" href="${clusterHref(v.cluster, '/report.html', Object.fromEntries(Object.entries(range.query).filter((e): e is [string, string] => typeof e[1] === 'string')))}" download>export this view as one HTML file</a></p>`;
}

export function clusterPage(status: ClusterStatus, v: IncidentView, range: TimeRange): string {
  return page({
    title: `pcpflow — cluster ${v.cluster}`,
    crumbs: html`<span>cluster ${v.cluster}</span>`,
    tools: rangeForm(range),
    main: clusterMain(status, v, range),
    liveCluster: v.cluster,
  });
}

export function overviewPage(statuses: readonly ClusterStatus[]): string {
  return page({ title: 'pcpflow console', main: overviewMain(statuses), liveCluster: '' });
}

function stepLine(role: string, r: AuditRecord): SafeHtml {
  const move = r.from || r.to ? html` <code>${r.from ?? '·'} → ${r.to ?? '·'}</code>` : '';
  const actions = r.actions?.length ? html` requests ${r.actions.map((a, i) => html`${i ? ', ' : ''}${a.type} <code>${a.actionId}</code>`)}` : '';
  const attempt = r.kind === 'action-attempt' ? html` attempt ${r.attempt ?? '?'}: <b>${r.outcome ?? ''}</b>${r.durationMs !== undefined ? ` in ${r.durationMs} ms` : ''}${r.endpoint ? html` via ${r.endpoint}` : ''}` : '';
  return html`<li class="step step-${role}"><span class="role">${role}</span> <span class="muted">${r.at} #${r.seq}</span> ${r.kind}${move}${actions}${attempt} — ${r.note}</li>`;
}

function episodeBlock(e: Episode): SafeHtml {
  return html`<div class="episode"><h3>${e.title} <span class="muted">${e.at}</span>${e.received ? html` · <code>${e.received}</code>` : ''}</h3>
<ol>${e.steps.map((s) => stepLine(s.role, s.record))}</ol></div>`;
}

function rangeText(r: TimeRange): string {
  if (r.preset === 'custom') return `from ${r.since?.toISOString() ?? 'the beginning'} to ${r.until?.toISOString() ?? 'now'}`;
  return r.preset === 'all' ? 'all records' : `the last ${r.preset}`;
}

export function backendMain(d: BackendData, opts: { report: boolean }): SafeHtml {
  const b = d.backend;
  const path = d.steps.length
    ? html`<table class="path"><thead><tr><th>#</th><th>at</th><th>event</th><th>transition</th><th>actions</th><th>note</th></tr></thead><tbody>
${d.steps.map((s) => html`<tr><td class="n">${s.n}</td><td>${s.at ?? ''}</td><td>${s.event ?? ''}</td><td><code>${s.from}</code> → <code>${s.to}</code></td><td>${(s.actions ?? []).join(', ')}</td><td>${s.note ?? ''}</td></tr>\n`)}
</tbody></table>`
    : html`<p class="muted">No state change of this backend in ${rangeText(d.range)}.</p>`;
  const chain = d.chain.ok
    ? html`<p class="ok chain">Hash chain of cluster ${d.cluster} intact: ${d.chain.checked} records checked.</p>`
    : html`<div class="bad chain"><p>Hash chain of cluster ${d.cluster} is BROKEN (${d.chain.checked} records checked):</p><ul>${d.chain.problems.map((p) => html`<li>${p}</li>`)}</ul></div>`;
  return html`<section class="backend" data-backend="${d.address}">
<h2>backend ${d.address} in cluster ${d.cluster}</h2>
${pgpoolLine(d.status)}
<table id="backend-status"><thead><tr>${STATUS_HEAD}</tr></thead><tbody><tr>${b ? statusCells(b) : html`<td colspan="4" class="muted">not a backend of the current snapshot</td>`}</tr></tbody></table>
<h2>state diagram — path in ${rangeText(d.range)}</h2>
<div class="diagram">${trusted(d.svg)}</div>
${path}
<h2>audit timeline (${d.records.length} records)</h2>
${d.episodes.length ? d.episodes.map(episodeBlock) : html`<p class="muted">No audit record for this backend in ${rangeText(d.range)}.</p>`}
<h2>hash chain verification</h2>
${chain}
${opts.report ? '' : html`<p><a class="export" href="${backendHref(d.cluster, d.address, `/report.html${rangeSearch(d.range)}`)}" download>export this view as one HTML file</a></p>`}
</section>`;
}

function rangeForm(r: TimeRange): SafeHtml {
  const labels: Record<string, string> = { '1h': 'last hour', '24h': 'last 24 hours', '7d': 'last 7 days', all: 'all' };
  return html`<form method="get" class="range"><label>range <select name="range" data-autosubmit>
${RANGE_PRESETS.map((p) => html`<option value="${p}"${r.preset === p ? trusted(' selected') : ''}>${labels[p] ?? p}</option>`)}
</select></label>
<label>since <input name="since" value="${r.query.since ?? ''}" placeholder="2h or ISO time"></label>
<label>until <input name="until" value="${r.query.until ?? ''}" placeholder="ISO time"></label>
<button type="submit">show</button></form>`;
}

export function backendPage(d: BackendData): string {
  return page({
    title: `pcpflow — ${d.address} (${d.cluster})`,
    crumbs: html`<span>cluster ${d.cluster} › <code>${d.address}</code></span>`,
    tools: rangeForm(d.range),
    main: backendMain(d, { report: false }),
    liveCluster: d.cluster,
  });
}

/** The export: the same view, one file, no script, no link out, stamped with when it was made. */
export function reportPage(d: BackendData, now: Date = new Date()): string {
  return page({
    title: `pcpflow report — ${d.address} (${d.cluster})`,
    crumbs: html`<span>report of <code>${d.address}</code> in cluster ${d.cluster}, made ${now.toISOString()}</span>`,
    main: backendMain(d, { report: true }),
    liveCluster: null,
    home: false,
  });
}

export function messagePage(status: number, title: string, message: string): string {
  return page({ title: `pcpflow — ${title}`, main: html`<h2>${status} ${title}</h2><p>${message}</p>`, liveCluster: null });
}

/** `pcpflow audit report`: the cluster's incident view as one file, no script, nothing from outside. */
export function incidentReportPage(v: IncidentView, now: Date = new Date()): string {
  const t = v.timeline;
  return page({
    title: `pcpflow incident report — cluster ${v.cluster}`,
    crumbs: html`<span>cluster ${v.cluster}, ${new Date(t.from).toISOString()} → ${new Date(t.to).toISOString()}, made ${now.toISOString()}</span>`,
    main: incidentSections(v, { rangeHref: null }),
    liveCluster: null,
    home: false,
    csp: REPORT_CSP,
  });
}
