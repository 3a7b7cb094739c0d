// A built timeline told per backend for the change record (and its durations as a DBA reads them).
import type { Timeline } from './timeline.ts';

/** Milliseconds as a DBA reads them: 850 ms, 12.4 s, 3 min 05 s, 2 h 10 min. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')} s`;
  return `${Math.floor(ms / 3_600_000)} h ${String(Math.round((ms % 3_600_000) / 60_000)).padStart(2, '0')} min`;
}

export interface BackendSummary {
  backend: string;
  states: string[];
  events: Record<string, number>;
  actions: Array<{ type: string; actionId: string; requestedAt: number; end: number | null; result: string; attempts: number }>;
  retries: number;
  gaveUp: number;
  unconfirmed: number;
  /** The same action type asked for again while the first one was not yet confirmed. */
  repeated: number;
  /** Time pgpool was seen with this backend down (out of load balancing) within the range. */
  outOfBalancingMs: number;
  outOfBalancing: Array<{ from: number; to: number }>;
}

/** Who/what/when/how long per backend: the change record's summary of a timeline. */
export function summarize(t: Timeline): BackendSummary[] {
  return t.lanes.map((l) => {
    const events: Record<string, number> = {};
    for (const m of l.markers) events[m.source] = (events[m.source] ?? 0) + 1;
    const down = l.pgpool.filter((p) => p.seen === 'down').map((p) => ({ from: p.from, to: p.to }));
    let repeated = 0;
    l.actions.forEach((a, i) => {
      if (l.actions.slice(0, i).some((b) => b.type === a.type && (b.end === null || b.end > a.requestedAt))) repeated += 1;
    });
    const states: string[] = [];
    for (const s of l.spans) {
      const top = s.state.split('.')[0] ?? s.state;
      if (states[states.length - 1] !== top) states.push(top);
    }
    return {
      backend: l.backend,
      states,
      events,
      actions: l.actions.map((a) => ({ type: a.type, actionId: a.actionId, requestedAt: a.requestedAt, end: a.end, result: a.result, attempts: a.attempts.length })),
      retries: l.actions.reduce((n, a) => n + Math.max(0, a.attempts.length - 1), 0),
      gaveUp: l.actions.filter((a) => a.result === 'gave-up').length,
      unconfirmed: l.actions.filter((a) => a.result === 'in-flight').length,
      repeated,
      outOfBalancingMs: down.reduce((n, d) => n + (d.to - d.from), 0),
      outOfBalancing: down,
    };
  });
}
