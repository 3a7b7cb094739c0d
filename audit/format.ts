import type { AuditRecord } from '../contracts/audit.ts';

/** One line per record: when, which, what changed, and the sentence that explains it. */
export function formatTimeline(records: readonly AuditRecord[]): string {
  return records
    .map((r) => {
      const time = r.at.replace('T', ' ').replace('Z', '');
      const move = r.from || r.to ? ` ${r.from ?? '·'}→${r.to ?? '·'}` : '';
      const who = r.backend ? ` ${r.backend}` : '';
      return `${time} #${r.seq} ${r.kind}${who}${move}: ${r.note}`;
    })
    .join('\n');
}
