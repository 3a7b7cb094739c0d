import type { AuditRecord } from '../contracts/audit.ts';
import { InvalidInputError } from '../contracts/errors.ts';
import { findIncidents } from './incidents.ts';
import { buildTimeline } from './timeline.ts';
import { parseAuditLines } from './verify.ts';

/**
 * What `pcpflow audit report` draws: one cluster's records and the range to show. The records
 * come from Redis or from an exported audit (what an auditor is usually handed); without --since,
 * the latest burst of events found in the trail is the range.
 */

/** Padding around an incident found automatically, so its first and last events are not on the edge. */
const PAD_MS = 5_000;

/**
 * One cluster's records from an exported audit (`pcpflow audit --export`, or bodies without a
 * chain). The chain is not checked here (`pcpflow audit --verify --file` does that): records
 * without one are numbered in file order. `source` names the file in messages.
 */
export function exportedClusterRecords(text: string, source: string, cluster: string | undefined): { cluster: string; records: AuditRecord[] } {
  const rows = parseAuditLines(text);
  const names = [...new Set(rows.map((r) => r.body.cluster))];
  const chosen = cluster ?? names[0] ?? '';
  if (!names.includes(chosen)) throw new InvalidInputError(`${source}: no record of cluster "${chosen.slice(0, 64)}" (clusters: ${names.join(', ') || 'none'})`);
  const records = rows.filter((r) => r.body.cluster === chosen).map((r, i) => ({ ...r.body, seq: r.seq ?? i + 1, prevHash: '0'.repeat(64), hash: '0'.repeat(64) }));
  return { cluster: chosen, records };
}

/**
 * The range of a report: --since/--until as given (read by `parse`), else around the latest
 * incident found, which `say` then announces.
 */
export function reportRange(
  cluster: string,
  records: readonly AuditRecord[],
  given: { since: string | undefined; until: string | undefined },
  parse: (text: string) => number,
  say: (line: string) => void,
): { from: number; to: number } {
  if (records.length === 0) throw new InvalidInputError(`cluster ${cluster} has no audit record`);
  const times = records.map((r) => Date.parse(r.at));
  let from = given.since ? parse(given.since) : null;
  let to = given.until ? parse(given.until) : null;
  if (from === null) {
    const whole = buildTimeline(cluster, records, { from: Math.min(...times), to: Math.max(...times) });
    const latest = findIncidents(whole.lanes, whole.clusterMarkers, 60_000).at(-1);
    from = latest ? latest.from - PAD_MS : Math.min(...times);
    to ??= latest ? latest.to + PAD_MS : Math.max(...times);
    say(latest ? `range: the latest incident found, ${new Date(from).toISOString()} → ${new Date(to).toISOString()}` : 'range: the whole trail (no incident found)');
  }
  to ??= Math.max(...times, from + 1000);
  if (to <= from) throw new InvalidInputError('--until must be after --since');
  return { from, to };
}
