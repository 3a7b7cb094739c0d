// Where in a timeline the incidents are: apart from building it, because it reads only the built lanes.
import type { EventMarker, Incident, Lane } from './timeline.ts';

/**
 * Bursts of hook events: events no further apart than `gapMs` form one incident when there are
 * at least three of them, or when they moved a backend out of its state. Offered as ranges.
 */
export function findIncidents(lanes: readonly Lane[], cluster: readonly EventMarker[], gapMs: number): Incident[] {
  const points = [
    ...lanes.flatMap((l) => l.markers.filter((m) => m.source !== 'executor').map((m) => ({ at: m.at, backend: l.backend }))),
    ...cluster.map((m) => ({ at: m.at, backend: null })),
  ].sort((a, b) => a.at - b.at);
  const changes = lanes.flatMap((l) => l.spans.filter((s) => s.seq !== null).map((s) => s.from));
  const out: Incident[] = [];
  let group: typeof points = [];
  const flush = (): void => {
    const first = group[0];
    const last = group[group.length - 1];
    if (!first || !last) return;
    const moved = changes.some((t) => t >= first.at && t <= last.at + gapMs);
    if (group.length >= 3 || moved) {
      // Through the last state change the burst caused (confirmations come after the events).
      const end = Math.max(last.at, ...lanes.flatMap((l) => l.actions.filter((a) => a.requestedAt >= first.at && a.requestedAt <= last.at).map((a) => a.end ?? a.start)));
      const backends = [...new Set(group.flatMap((g) => (g.backend ? [g.backend] : [])))];
      out.push({ from: first.at, to: end, events: group.length, backends });
    }
    group = [];
  };
  for (const p of points) {
    const last = group[group.length - 1];
    if (last && p.at - last.at > gapMs) flush();
    group.push(p);
  }
  flush();
  return out;
}
