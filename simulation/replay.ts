import { NodeEventSchema, type NodeEvent } from '../contracts/events.ts';
import { decide, type ClusterSnapshot } from '../machines/index.ts';
import { jsonLines } from '../contracts/json-lines.ts';
import { rowsOf, type DecisionRow } from './scenario.ts';

/**
 * `pcpflow replay`: recorded events back through `decide`, offline. Lines are NodeEvents or audit
 * records whose payload is one (the decider stores the event in the first record of each
 * decision); other lines are skipped. Each event is decided at the time it was recorded, so the
 * dedupe window behaves as it did in production.
 */

export function eventsFrom(text: string): Array<{ event: NodeEvent; at: Date; line: number }> {
  const out: Array<{ event: NodeEvent; at: Date; line: number }> = [];
  for (const { json, line } of jsonLines(text)) {
    const rec = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
    const direct = NodeEventSchema.safeParse(json);
    const viaPayload = direct.success ? direct : NodeEventSchema.safeParse(rec.payload);
    if (!viaPayload.success) continue;
    const at = typeof rec.at === 'string' && !Number.isNaN(Date.parse(rec.at)) ? new Date(rec.at) : new Date(viaPayload.data.observedAt);
    out.push({ event: viaPayload.data, at, line });
  }
  return out;
}

export function replay(snapshot: ClusterSnapshot, events: ReturnType<typeof eventsFrom>): { rows: DecisionRow[]; snapshot: ClusterSnapshot } {
  const rows: DecisionRow[] = [];
  let s = snapshot;
  for (const { event, at, line } of events) {
    const d = decide(s, event, at);
    s = d.snapshot;
    rows.push(...rowsOf(line, event, d));
  }
  return { rows, snapshot: s };
}
