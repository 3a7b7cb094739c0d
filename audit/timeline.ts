import { z } from 'zod';
import type { AuditRecord } from '../contracts/audit.ts';
import { isAttached } from '../contracts/pgpool-node.ts';
import { findIncidents } from './incidents.ts';

/**
 * A cluster's audit trail laid out in time, the way an auditor asks about an incident: one lane
 * per backend with its machine state as spans, the hook events that reached it (with their
 * source), the PCP actions as bars from first attempt to confirmation (every attempt kept, so
 * retries show), and what pgpool was seen to have. Built from the records alone; states are the
 * machine's own names, so a state added to the machine shows up without a change here. Finding the
 * incidents in it is incidents.ts; its per-backend summary is timeline-summary.ts.
 */

export type PgpoolSeen = 'up' | 'primary' | 'down' | 'unknown';

export interface StateSpan {
  /** The machine's leaf path (`up.serving`, `detached`). */
  state: string;
  from: number;
  to: number;
  /** The record that entered this state; null for a state known only from the first record's `from`. */
  seq: number | null;
}

export interface EventMarker {
  at: number;
  seq: number;
  /** efm, pgpool, operator, reconciler, executor, hook (refused input) */
  source: string;
  type: string;
  kind: string;
  note: string;
}

export interface Attempt {
  at: number;
  seq: number;
  attempt: number;
  outcome: string;
  durationMs: number | null;
  note: string;
}

export interface ActionBar {
  actionId: string;
  type: string;
  requestedAt: number;
  requestSeq: number;
  /** First attempt started (the request time when no attempt is recorded yet). */
  start: number;
  /** Confirmation (or giving up); null while in flight at the end of the range. */
  end: number | null;
  result: 'changed' | 'already' | 'gave-up' | 'in-flight';
  attempts: Attempt[];
  reason: string;
}

export interface PgpoolSpan {
  seen: PgpoolSeen;
  from: number;
  to: number;
  seq: number | null;
  why: string;
}

export interface Lane {
  backend: string;
  spans: StateSpan[];
  markers: EventMarker[];
  actions: ActionBar[];
  pgpool: PgpoolSpan[];
}

export interface Incident {
  from: number;
  to: number;
  events: number;
  backends: string[];
}

export interface Timeline {
  cluster: string;
  from: number;
  to: number;
  lanes: Lane[];
  /** Events about no single backend (notifications, refused hook input, EFM's own states). */
  clusterMarkers: EventMarker[];
  incidents: Incident[];
  records: AuditRecord[];
}

const PayloadSchema = z.looseObject({
  type: z.string().max(64).optional(),
  source: z.string().max(64).optional(),
  argv: z.array(z.string()).optional(),
  observed: z.looseObject({ status: z.string(), role: z.string() }).optional(),
  bootstrap: z
    .array(z.looseObject({ address: z.string(), role: z.enum(['primary', 'standby']), attached: z.boolean() }))
    .optional(),
});

const OUTCOME_PREFIX = 'outcome.';
const DONE = new Set(['changed', 'already', 'gave-up']);

/** What pgpool shows once an action is confirmed; null for one that asks nothing of pgpool. */
function seenAfter(type: string): PgpoolSeen | null {
  if (type === 'detach') return 'down';
  if (type === 'promote' || type === 'promote-switchover') return 'primary';
  if (type === 'attach') return 'up';
  return null;
}

export interface TimelineOptions {
  /** The range shown; defaults to the first and last record. */
  from?: number;
  to?: number;
  /** Backends to show even without records (the configured ones), in this order. */
  backends?: readonly string[];
  /** Events closer than this belong to one incident. */
  incidentGapMs?: number;
}

export function buildTimeline(cluster: string, all: readonly AuditRecord[], opts: TimelineOptions = {}): Timeline {
  const records = [...all].sort((a, b) => a.seq - b.seq);
  const times = records.map((r) => Date.parse(r.at));
  const from = opts.from ?? Math.min(...times, Date.now());
  const to = Math.max(opts.to ?? Math.max(...times, from + 1000), from + 1000);
  const lanes = new Map<string, Lane>();
  const lane = (backend: string): Lane => {
    let l = lanes.get(backend);
    if (!l) lanes.set(backend, (l = { backend, spans: [], markers: [], actions: [], pgpool: [] }));
    return l;
  };
  for (const b of opts.backends ?? []) lane(b);
  // Hooks may name a backend by host alone (EFM's %h): such events go on the lane of that host.
  const known = new Set<string>(opts.backends ?? []);
  for (const r of records) {
    if (r.kind === 'decision' && r.backend && r.to) known.add(r.backend);
    for (const a of r.actions ?? []) known.add(a.backend);
    const p = PayloadSchema.safeParse(r.payload);
    for (const b of (p.success && p.data.bootstrap) || []) known.add(b.address);
  }
  const hostOf = (a: string): string => (a.startsWith('[') ? a.slice(1, a.indexOf(']')) : a.split(':')[0] ?? a);
  const canonical = (a: string): string => {
    if (known.has(a)) return a;
    const same = [...known].filter((k) => hostOf(k) === hostOf(a));
    return same.length === 1 && same[0] ? same[0] : a;
  };
  const clusterMarkers: EventMarker[] = [];
  const actions = new Map<string, { bar: ActionBar; lane: Lane }>();
  const setState = (l: Lane, state: string, at: number, seq: number | null): void => {
    const cur = l.spans[l.spans.length - 1];
    if (cur && cur.state === state) return;
    if (cur) cur.to = at;
    l.spans.push({ state, from: at, to, seq });
  };
  const setSeen = (l: Lane, seen: PgpoolSeen, at: number, seq: number | null, why: string): void => {
    const cur = l.pgpool[l.pgpool.length - 1];
    if (cur && cur.seen === seen) return;
    if (cur) cur.to = at;
    l.pgpool.push({ seen, from: at, to, seq, why });
  };

  for (const r of records) {
    const at = Date.parse(r.at);
    const payload = PayloadSchema.safeParse(r.payload);
    const p = payload.success ? payload.data : null;
    if (p?.bootstrap) {
      for (const b of p.bootstrap) {
        const l = lane(b.address);
        setState(l, b.role === 'primary' && b.attached ? 'promoted' : b.attached ? 'up.serving' : 'detached', at, r.seq);
        setSeen(l, b.attached ? (b.role === 'primary' ? 'primary' : 'up') : 'down', at, r.seq, 'pgpool at bootstrap');
      }
      continue;
    }
    // The first record of an event carries it: a marker on its backend's lane.
    if (p && r.eventId && p.type === r.eventType && p.source && p.source !== 'executor') {
      // Outcomes (source executor) are drawn as the ends of their action bars, not as markers.
      const m: EventMarker = { at, seq: r.seq, source: p.source, type: r.eventType ?? 'event', kind: r.kind, note: r.note };
      const b = r.backend ? canonical(r.backend) : null;
      if (b && (lanes.has(b) || r.kind !== 'event-rejected')) lane(b).markers.push(m);
      else clusterMarkers.push(m);
      if (r.eventType === 'reconciler.drift' && p.observed && b) {
        const o = p.observed;
        setSeen(lane(b), isAttached(o.status) ? (o.role === 'primary' ? 'primary' : 'up') : 'down', at, r.seq, `reconciler saw ${o.status}/${o.role}`);
      }
      if (r.eventType === 'pgpool.follow-primary' && b) setSeen(lane(b), 'down', at, r.seq, 'pgpool marked it down after its primary changed');
    } else if (r.kind === 'event-rejected' && !r.backend) {
      clusterMarkers.push({ at, seq: r.seq, source: p?.source ?? 'hook', type: r.eventType ?? 'refused input', kind: r.kind, note: r.note });
    }
    if (r.kind === 'decision' && r.backend && r.to) {
      const l = lane(r.backend);
      if (l.spans.length === 0 && r.from) l.spans.push({ state: r.from, from, to, seq: null });
      setState(l, r.to, at, r.seq);
    }
    for (const a of r.actions ?? []) {
      const l = lane(a.backend);
      const bar: ActionBar = { actionId: a.actionId, type: a.type, requestedAt: at, requestSeq: r.seq, start: at, end: null, result: 'in-flight', attempts: [], reason: r.note };
      l.actions.push(bar);
      actions.set(a.actionId, { bar, lane: l });
    }
    if (r.kind === 'action-attempt' && r.actionId) {
      const owner = actions.get(r.actionId);
      if (!owner) continue;
      const { bar } = owner;
      if (r.outcome === 'started') {
        if (bar.attempts.length === 0) bar.start = at;
        continue;
      }
      bar.attempts.push({ at, seq: r.seq, attempt: r.attempt ?? bar.attempts.length + 1, outcome: r.outcome ?? '?', durationMs: r.durationMs ?? null, note: r.note });
      if (bar.attempts.length === 1 && bar.start === bar.requestedAt && r.durationMs !== undefined) bar.start = Math.max(bar.requestedAt, at - r.durationMs);
      if (r.outcome === 'changed' || r.outcome === 'already') {
        bar.end = at;
        bar.result = r.outcome;
        const seen = seenAfter(bar.type);
        if (seen) setSeen(owner.lane, seen, at, r.seq, `${bar.type} ${bar.actionId} confirmed in pgpool's node info`);
        // pgpool's promote marks every other node down until each is attached again.
        if (seen === 'primary')
          for (const other of lanes.values()) if (other !== owner.lane) setSeen(other, 'down', at, r.seq, `pgpool's promote of ${owner.lane.backend} marked it down`);
      }
    }
    // The executor's gave-up outcome ends the bar even when the last attempt record says "failed".
    if (r.eventId?.startsWith(OUTCOME_PREFIX) && r.payload !== undefined) {
      const owner = actions.get(r.eventId.slice(OUTCOME_PREFIX.length));
      const result = z.looseObject({ result: z.string() }).safeParse(r.payload);
      if (owner && result.success && result.data.result === 'gave-up' && !DONE.has(owner.bar.result)) {
        owner.bar.end = at;
        owner.bar.result = 'gave-up';
      }
    }
  }
  const shown = [...lanes.values()];
  // Clip to the range: spans and bars that started before it are drawn from its start.
  for (const l of shown) {
    l.spans = l.spans.filter((s) => s.to >= from && s.from <= to).map((s) => ({ ...s, from: Math.max(s.from, from), to: Math.min(s.to, to) }));
    l.pgpool = l.pgpool.filter((s) => s.to >= from && s.from <= to).map((s) => ({ ...s, from: Math.max(s.from, from), to: Math.min(s.to, to) }));
    l.markers = l.markers.filter((m) => m.at >= from && m.at <= to);
    l.actions = l.actions.filter((a) => (a.end ?? to) >= from && a.requestedAt <= to);
  }
  const inRange = records.filter((r) => {
    const t = Date.parse(r.at);
    return t >= from && t <= to;
  });
  const cm = clusterMarkers.filter((m) => m.at >= from && m.at <= to);
  return { cluster, from, to, lanes: shown, clusterMarkers: cm, incidents: findIncidents(shown, cm, opts.incidentGapMs ?? 60_000), records: inRange };
}
