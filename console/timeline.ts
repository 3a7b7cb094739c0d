import { z } from 'zod';
import type { AuditRecord } from '../contracts/audit.ts';

/**
 * Audit records regrouped the way an auditor asks about them: one episode per event (what came
 * in), with the decision it led to, every attempt of the actions it requested, and the outcome
 * fed back by the executor (an `action.outcome` event whose id is `outcome.<actionId>`).
 * Records that belong to no event (bootstrap, drift, notifications) are episodes of their own.
 */
export type StepRole = 'event' | 'decision' | 'attempt' | 'outcome' | 'other';

export interface Episode {
  key: string;
  at: string;
  title: string;
  /** What the hook received, when the record carried it (already redacted by the hook). */
  received: string | null;
  steps: Array<{ role: StepRole; record: AuditRecord }>;
}

/** The part of an event payload worth showing; validated because it is stored as unknown. */
const PayloadSchema = z.looseObject({
  type: z.string().max(64).optional(),
  source: z.string().max(64).optional(),
  argv: z.array(z.string().max(300)).max(40).optional(),
});

function received(payload: unknown): string | null {
  const p = PayloadSchema.safeParse(payload);
  if (!p.success) return null;
  const argv = p.data.argv?.length ? p.data.argv.join(' ') : null;
  const from = p.data.source ? `from ${p.data.source}` : null;
  return [argv, from].filter(Boolean).join(' ') || null;
}

const OUTCOME_PREFIX = 'outcome.';

export function buildTimeline(records: readonly AuditRecord[]): Episode[] {
  const episodes: Episode[] = [];
  const byEvent = new Map<string, Episode>();
  const byAction = new Map<string, Episode>();
  const open = (key: string, r: AuditRecord, title: string): Episode => {
    const e: Episode = { key, at: r.at, title, received: null, steps: [] };
    episodes.push(e);
    return e;
  };

  for (const r of records) {
    if (r.eventId?.startsWith(OUTCOME_PREFIX)) {
      const owner = byAction.get(r.eventId.slice(OUTCOME_PREFIX.length));
      if (owner) {
        owner.steps.push({ role: 'outcome', record: r });
        continue;
      }
    }
    if (r.kind === 'action-attempt') {
      const owner = (r.actionId && byAction.get(r.actionId)) || open(`action:${r.actionId ?? r.seq}`, r, `action ${r.actionId ?? ''}`.trim());
      if (r.actionId) byAction.set(r.actionId, owner);
      owner.steps.push({ role: 'attempt', record: r });
      continue;
    }
    if (r.eventId) {
      let e = byEvent.get(r.eventId);
      if (!e) {
        e = open(`event:${r.eventId}`, r, r.eventType ?? 'event');
        byEvent.set(r.eventId, e);
      }
      e.received ??= received(r.payload);
      e.steps.push({ role: r.kind === 'decision' ? 'decision' : 'event', record: r });
      for (const a of r.actions ?? []) byAction.set(a.actionId, e);
      continue;
    }
    open(`seq:${r.seq}`, r, r.kind).steps.push({ role: 'other', record: r });
  }
  return episodes;
}
