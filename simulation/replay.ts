import type { ClusterConfig } from '../contracts/config.ts';
import { InvalidInputError } from '../contracts/errors.ts';
import { NodeEventSchema, type NodeEvent } from '../contracts/events.ts';
import { jsonLines } from '../contracts/json-lines.ts';
import { decide, initialSnapshot, policyOf, type ClusterSnapshot } from '../machines/index.ts';
import { canonicalBackends } from './cluster.ts';
import { rowsOf, type DecisionRow } from './rows.ts';

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

/**
 * The snapshot a replay starts from when none is given: the config's backends (and policy), or
 * the addresses the events name, every one attached, with --primary as the primary.
 */
export function replayStart(events: ReturnType<typeof eventsFrom>, opts: { primary?: string; config?: ClusterConfig }): ClusterSnapshot {
  const { config } = opts;
  if (!opts.primary) throw new InvalidInputError('give --snapshot FILE, or --primary ADDR (with --config or the addresses the events name)');
  const named = opts.primary;
  const first = events[0]?.event;
  const addresses = config
    ? config.backends.map((b) => `${b.address}:${b.port}`)
    : canonicalBackends([named, ...events.flatMap((e) => (e.event.backend ? [e.event.backend] : []))]);
  const primary = canonicalBackends([named])[0];
  return initialSnapshot({
    cluster: config?.name ?? first?.cluster ?? 'replay',
    backends: addresses.map((address) => ({ address, role: address === primary || address.split(':')[0] === named ? 'primary' : 'standby', attached: true })),
    ...(config ? { policy: policyOf(config.fence) } : {}),
  });
}
