import { z } from 'zod';
import { TimeRangeError } from './errors.ts';

/**
 * The time range of a backend page: a preset (`range=1h|24h|7d|all`) or explicit bounds
 * (`since`, `until`: ISO times or durations back from now such as `90m`, `2h`, `7d`).
 * Explicit bounds win over the preset.
 */
export const RANGE_PRESETS = ['1h', '24h', '7d', 'all'] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number];

const Bound = z
  .string()
  .trim()
  .max(40)
  .regex(/^(\d{1,6}[smhd]|\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?)$/, 'expected an ISO time or a duration such as 2h')
  .optional();

export const RangeQuerySchema = z.strictObject({
  range: z.enum(RANGE_PRESETS).optional(),
  since: Bound,
  until: Bound,
});
export type RangeQuery = z.infer<typeof RangeQuerySchema>;

export interface TimeRange {
  preset: RangePreset | 'custom';
  since: Date | null;
  until: Date | null;
  /** The query as given, to refill the form. */
  query: RangeQuery;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The audit trail's ids are milliseconds since 1970; a bound outside that era is a typo. */
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function toDate(text: string, now: Date, name: string): Date {
  const dur = /^(\d+)([smhd])$/.exec(text);
  const d = dur ? new Date(now.getTime() - Number(dur[1]) * (UNIT_MS[dur[2] ?? 'h'] ?? 0)) : new Date(text);
  if (Number.isNaN(d.getTime())) throw new TimeRangeError(`${name}: not a valid time`);
  if (d.getTime() < 0 || d.getTime() > LATEST_MS)
    throw new TimeRangeError(`${name}: ${text} is out of range (${dur ? 'it reaches back before 1970' : 'give a time between 1970 and 9999'})`);
  return d;
}

/** Only the range keys are read; other query parameters (fragment, token) are not its business. */
export function parseRange(params: URLSearchParams, now: Date = new Date()): TimeRange {
  const raw: Record<string, string> = {};
  for (const k of ['range', 'since', 'until']) {
    const v = params.get(k);
    if (v !== null && v.trim() !== '') raw[k] = v;
  }
  const parsed = RangeQuerySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TimeRangeError(`${issue?.path.join('.') || 'range'}: ${issue?.message ?? 'invalid'}`);
  }
  const q = parsed.data;
  if (q.since || q.until) {
    const since = q.since ? toDate(q.since, now, 'since') : null;
    const until = q.until ? toDate(q.until, now, 'until') : null;
    if (since && until && since > until) throw new TimeRangeError('since is after until');
    return { preset: 'custom', since, until, query: q };
  }
  const preset = q.range ?? '24h';
  const since = preset === 'all' ? null : toDate(preset, now, 'range');
  return { preset, since, until: null, query: q };
}
