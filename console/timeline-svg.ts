import { formatDuration } from '../audit/timeline-summary.ts';
import type { ActionBar, EventMarker, Lane, PgpoolSpan, StateSpan, Timeline } from '../audit/timeline.ts';
import { machineGraph } from '../machines/index.ts';
import { esc } from './html.ts';

/**
 * The cluster timeline as one SVG, shared by the console, the HTML report and the README picture.
 * No script: hovering shows each element's audit sentence (SVG <title>), clicking follows a link
 * to the record (`#rec-<seq>`, a row of the records table next to it). Every drawn element carries
 * data attributes (lane, state, action, result, seq) so a test can check the picture against the
 * audit. State colours come from the machine's own top-level states: a new state gets a colour.
 */

const KNOWN_COLOURS: Record<string, string> = {
  up: '#4caf50',
  promoted: '#1f77b4',
  detached: '#9e9e9e',
  rebuilding: '#ff9800',
  attention: '#d62728',
};
const SPARE = ['#8e44ad', '#16a085', '#c0392b', '#d35400', '#2c3e50', '#7f8c8d', '#27ae60', '#e84393'];

export function stateColours(): Map<string, string> {
  const tops = machineGraph()
    .states.filter((s) => s.parent === null && s.path !== 'boot')
    .map((s) => s.path);
  const out = new Map<string, string>();
  let spare = 0;
  for (const t of tops) out.set(t, KNOWN_COLOURS[t] ?? SPARE[spare++ % SPARE.length] ?? '#555555');
  return out;
}

export const SOURCE_COLOURS: Record<string, string> = {
  efm: '#6a1b9a',
  pgpool: '#00838f',
  operator: '#ef6c00',
  reconciler: '#5d4037',
  executor: '#37474f',
  hook: '#b00000',
};
const PGPOOL_COLOURS: Record<PgpoolSpan['seen'], string> = { up: '#81c784', primary: '#64b5f6', down: '#e57373', unknown: '#e0e0e0' };

const W = 1100;
const GUTTER = 170;
const RIGHT = 16;
const AXIS_H = 34;
const LANE_H = 80;
const CLUSTER_H = 26;
const LEGEND_H = 52;

const TICKS = [1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3, 43200e3, 86400e3];

function tickStep(span: number): number {
  return TICKS.find((t) => span / t <= 10) ?? 86400e3 * Math.ceil(span / 86400e3 / 10);
}

function clock(ms: number, step: number): string {
  const iso = new Date(ms).toISOString();
  return step < 60_000 ? iso.slice(11, 19) : step < 86_400_000 ? iso.slice(11, 16) : iso.slice(5, 16).replace('T', ' ');
}

const title = (text: string): string => `<title>${esc(text)}</title>`;
const link = (seq: number | null, inner: string): string => (seq === null ? inner : `<a href="#rec-${seq}">${inner}</a>`);
const time = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
/** Roughly the width of a label in the 11 px sans-serif used here, to never draw one wider than its room. */
const textWidth = (s: string, px = 11): number => s.length * px * 0.58;

export interface TimelineSvgOptions {
  /** Where a lane's name links to (the backend page); none in a report. */
  laneHref?: (backend: string) => string;
  /** A caption above the axis. */
  caption?: string;
}

export function timelineSvg(t: Timeline, opts: TimelineSvgOptions = {}): string {
  const colours = stateColours();
  const span = Math.max(t.to - t.from, 1);
  const plotW = W - GUTTER - RIGHT;
  const x = (ms: number): number => GUTTER + ((Math.min(Math.max(ms, t.from), t.to) - t.from) / span) * plotW;
  const hasCluster = t.clusterMarkers.length > 0;
  const height = AXIS_H + t.lanes.length * LANE_H + (hasCluster ? CLUSTER_H : 0) + LEGEND_H;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" font-family="Helvetica,Arial,sans-serif" font-size="11" data-cluster="${esc(t.cluster)}" data-t0="${t.from}" data-t1="${t.to}" data-x0="${GUTTER}" data-x1="${GUTTER + plotW}" role="img" aria-label="${esc(`timeline of cluster ${t.cluster}`)}">`,
    `<rect x="0" y="0" width="${W}" height="${height}" fill="#ffffff"/>`,
  );
  // Axis with round ticks; the label of a tick too close to the previous one is left out.
  const step = tickStep(span);
  out.push(`<g class="axis">`);
  if (opts.caption) out.push(`<text x="4" y="12" font-weight="bold">${esc(opts.caption)}</text>`);
  let lastLabel = -Infinity;
  for (let tk = Math.ceil(t.from / step) * step; tk <= t.to; tk += step) {
    const px = x(tk);
    out.push(`<line x1="${px.toFixed(1)}" y1="${AXIS_H - 6}" x2="${px.toFixed(1)}" y2="${height - LEGEND_H}" stroke="#eeeeee"/>`);
    const label = clock(tk, step);
    if (px - lastLabel > textWidth(label) + 8 && px + textWidth(label) / 2 < W) {
      out.push(`<text x="${px.toFixed(1)}" y="${AXIS_H - 10}" text-anchor="middle" fill="#555">${esc(label)}</text>`);
      lastLabel = px;
    }
  }
  out.push(`<text x="${GUTTER}" y="12" fill="#777" font-size="10">${esc(`${time(t.from)} → ${time(t.to)} UTC (${formatDuration(span)})`)}</text>`);
  out.push(`</g>`);

  t.lanes.forEach((l, i) => out.push(laneSvg(l, AXIS_H + i * LANE_H, x, colours, opts)));
  if (hasCluster) {
    const y = AXIS_H + t.lanes.length * LANE_H;
    out.push(`<g class="lane lane-cluster" data-lane="cluster"><text x="8" y="${y + 16}" fill="#333">cluster-wide</text>`);
    out.push(`<line x1="${GUTTER}" y1="${y + 12}" x2="${GUTTER + plotW}" y2="${y + 12}" stroke="#dddddd"/>`);
    for (const p of placeMarkers(t.clusterMarkers, x, 1)) out.push(markerSvg(p.m, p.px, y + 12, 'cluster', p.letter));
    out.push(`</g>`);
  }
  out.push(legendSvg(height - LEGEND_H + 8, colours));
  out.push(`</svg>`);
  return out.join('\n');
}

function laneSvg(l: Lane, y: number, x: (ms: number) => number, colours: Map<string, string>, opts: TimelineSvgOptions): string {
  const out: string[] = [];
  const lane = esc(l.backend);
  out.push(`<g class="lane" data-lane="${lane}">`);
  const name = `<text x="8" y="${y + 40}" font-weight="bold" fill="#222">${lane}</text>`;
  out.push(opts.laneHref ? `<a href="${esc(opts.laneHref(l.backend))}">${name}</a>` : name);
  out.push(`<text x="8" y="${y + 54}" fill="#888" font-size="9">actions</text><text x="8" y="${y + 67}" fill="#888" font-size="9">pgpool seen</text>`);
  out.push(`<line x1="${GUTTER}" y1="${y + LANE_H - 2}" x2="${W - RIGHT}" y2="${y + LANE_H - 2}" stroke="#e6e6e6"/>`);
  for (const s of l.spans) out.push(spanSvg(s, y + 28, x, colours, l.backend));
  l.actions.forEach((a) => out.push(actionSvg(a, y + 48, x, l.backend)));
  for (const p of l.pgpool) out.push(pgpoolSvg(p, y + 62, x, l.backend));
  // Markers last, above the state band, stacked in up to three rows so none hides another.
  for (const p of placeMarkers(l.markers, x, 3)) out.push(markerSvg(p.m, p.px, y + 24 - p.row * 10, l.backend, p.letter));
  out.push(`</g>`);
  return out.join('\n');
}

function spanSvg(s: StateSpan, y: number, x: (ms: number) => number, colours: Map<string, string>, backend: string): string {
  const top = s.state.split('.')[0] ?? s.state;
  const x0 = x(s.from);
  const w = Math.max(x(s.to) - x0, 1);
  const fill = colours.get(top) ?? '#555555';
  const tip = `${backend}: ${s.state} from ${time(s.from)} for ${formatDuration(s.to - s.from)}${s.seq !== null ? ` (audit #${s.seq})` : ' (state before the range)'}`;
  const label = textWidth(s.state) + 6 < w ? `<text x="${(x0 + 4).toFixed(1)}" y="${y + 12}" fill="#ffffff" pointer-events="none">${esc(s.state)}</text>` : '';
  return link(
    s.seq,
    `<g class="span" data-state="${esc(s.state)}" data-top="${esc(top)}" data-from="${s.from}" data-to="${s.to}" data-seq="${s.seq ?? ''}"><rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="17" fill="${fill}" rx="2"/>${label}${title(tip)}</g>`,
  );
}

function actionSvg(a: ActionBar, y: number, x: (ms: number) => number, backend: string): string {
  const failedColour = '#d62728';
  const colour = a.result === 'gave-up' ? failedColour : a.result === 'in-flight' ? '#ffb300' : '#1f5fa8';
  const x0 = x(a.start);
  const x1 = x(a.end ?? a.start);
  const retries = a.attempts.filter((t) => t.outcome === 'failed').length;
  const tip = `${a.type} ${backend} (${a.actionId}): requested ${time(a.requestedAt)}, ${a.end === null ? 'still in flight' : `${a.result} ${time(a.end)} after ${formatDuration(a.end - a.requestedAt)}`}; ${a.attempts.length} attempt(s)${retries ? `, ${retries} failed` : ''}. ${a.reason}`;
  const parts = [
    // A thin line from the decision to the first attempt: the queueing time.
    `<line x1="${x(a.requestedAt).toFixed(1)}" y1="${y + 4}" x2="${x0.toFixed(1)}" y2="${y + 4}" stroke="${colour}" stroke-dasharray="2 2"/>`,
    `<rect class="bar" x="${x0.toFixed(1)}" y="${y}" width="${Math.max(x1 - x0, 3).toFixed(1)}" height="8" fill="${colour}" rx="2"/>`,
    ...a.attempts.map(
      (t) =>
        `<a href="#rec-${t.seq}"><circle class="attempt" data-outcome="${esc(t.outcome)}" cx="${x(t.at).toFixed(1)}" cy="${y + 4}" r="3.5" fill="${t.outcome === 'failed' ? failedColour : '#ffffff'}" stroke="${colour}">${title(`attempt ${t.attempt}: ${t.outcome}${t.durationMs !== null ? ` in ${t.durationMs} ms` : ''} — ${t.note}`)}</circle></a>`,
    ),
  ];
  const label = `${a.type}${a.attempts.length > 1 ? ` ×${a.attempts.length}` : ''}`;
  if (x1 - x0 > textWidth(label, 9) + 4) parts.push(`<text x="${(x0 + 2).toFixed(1)}" y="${y + 7}" font-size="9" fill="#ffffff" pointer-events="none">${esc(label)}</text>`);
  return link(
    a.requestSeq,
    `<g class="action" data-action="${esc(a.actionId)}" data-type="${esc(a.type)}" data-result="${a.result}" data-attempts="${a.attempts.length}" data-from="${a.start}" data-to="${a.end ?? ''}">${parts.join('')}${title(tip)}</g>`,
  );
}

function pgpoolSvg(p: PgpoolSpan, y: number, x: (ms: number) => number, backend: string): string {
  const x0 = x(p.from);
  const w = Math.max(x(p.to) - x0, 1);
  const tip = `pgpool had ${backend} ${p.seen} from ${time(p.from)} for ${formatDuration(p.to - p.from)}: ${p.why}`;
  return link(
    p.seq,
    `<g class="pgpool" data-seen="${p.seen}" data-from="${p.from}" data-to="${p.to}"><rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="7" fill="${PGPOOL_COLOURS[p.seen]}"/>${title(tip)}</g>`,
  );
}

const MARKER_W = 13;

/**
 * Rows for markers: each goes in the lowest row where it clears the one before it; when every
 * row is taken it goes in the top row without its letter, so no two letters ever overlap.
 */
function placeMarkers(markers: readonly EventMarker[], x: (ms: number) => number, rows: number): Array<{ m: EventMarker; px: number; row: number; letter: boolean }> {
  const last: number[] = Array.from({ length: rows }, () => -Infinity);
  return [...markers]
    .sort((a, b) => a.at - b.at)
    .map((m) => {
      const px = x(m.at);
      const row = last.findIndex((lx) => px - lx >= MARKER_W);
      if (row === -1) return { m, px, row: rows - 1, letter: false };
      last[row] = px;
      return { m, px, row, letter: true };
    });
}

function markerSvg(m: EventMarker, px: number, y: number, lane: string, withLetter = true): string {
  const c = SOURCE_COLOURS[m.source] ?? '#333333';
  const tip = `${time(m.at)} ${m.type} from ${m.source} (${m.kind}, audit #${m.seq}): ${m.note}`;
  const letter = (m.source[0] ?? '?').toUpperCase();
  return `<a href="#rec-${m.seq}"><g class="marker" data-source="${esc(m.source)}" data-type="${esc(m.type)}" data-seq="${m.seq}" data-lane="${esc(lane)}"><path d="M${px.toFixed(1)} ${y + 4} l-6 -10 h12 z" fill="${c}" stroke="#ffffff" stroke-width="0.8"/>${withLetter ? `<text x="${px.toFixed(1)}" y="${y - 1}" text-anchor="middle" font-size="7" fill="#ffffff" pointer-events="none">${letter}</text>` : ''}${title(tip)}</g></a>`;
}

function legendSvg(y: number, colours: Map<string, string>): string {
  const items: string[] = [];
  let px = 8;
  let row = 0;
  const add = (swatch: string, label: string): void => {
    // A new row rather than a label past the right edge.
    if (px + 22 + textWidth(label, 10) > W - 8) {
      px = 8;
      row += 1;
    }
    const dy = row * 16;
    items.push(`<g transform="translate(0 ${dy})">${swatch.replace(/X/g, px.toFixed(0))}<text x="${px + 14}" y="${y + 9}" fill="#444" font-size="10">${esc(label)}</text></g>`);
    px += 22 + textWidth(label, 10);
  };
  for (const [state, c] of colours) add(`<rect x="X" y="${y}" width="11" height="11" fill="${c}" rx="2"/>`, state);
  for (const [source, c] of Object.entries(SOURCE_COLOURS)) add(`<path d="MX ${y} m5.5 11 l-5.5 -10 h11 z" fill="${c}"/>`, source);
  add(`<rect x="X" y="${y + 2}" width="11" height="7" fill="#1f5fa8" rx="2"/>`, 'PCP action');
  add(`<circle cx="X" cy="${y + 5}" r="3.5" fill="#d62728" transform="translate(5 0)"/>`, 'failed attempt');
  for (const [seen, c] of Object.entries(PGPOOL_COLOURS)) add(`<rect x="X" y="${y + 2}" width="11" height="7" fill="${c}"/>`, `pgpool ${seen}`);
  return `<g class="legend">${items.join('')}</g>`;
}
