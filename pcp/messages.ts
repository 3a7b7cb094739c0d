import * as z from 'zod/mini';
import { splitCStrings } from './framing.ts';

/**
 * `E` (error) and `N` (notice) payloads: items of one field-code byte plus a NUL-terminated text,
 * closed by an extra NUL. pgpool sends S, C (always XX000), M, D, H, F, L.
 */
export const PcpSeveritySchema = z.enum(['ERROR', 'FATAL', 'PANIC', 'WARNING', 'NOTICE', 'LOG', 'INFO', 'DEBUG']);

export const PcpServerMessageSchema = z.strictObject({
  severity: PcpSeveritySchema,
  message: z.string(),
  detail: z.optional(z.string()),
  hint: z.optional(z.string()),
  file: z.optional(z.string()),
  line: z.optional(z.string()),
});
export type PcpServerMessage = z.infer<typeof PcpServerMessageSchema>;

export function decodeServerMessage(payload: Buffer): PcpServerMessage | null {
  const items = splitCStrings(payload);
  if (items === null) return null;
  const fields: Record<string, string> = {};
  for (const item of items) {
    if (item.length === 0) continue; // the closing NUL
    const code = item[0];
    const text = item.slice(1);
    switch (code) {
      case 'S':
        // pgpool may prefix severities like "DEBUG1"; keep the family
        fields.severity = text.replace(/\d+$/, '');
        break;
      case 'M':
        fields.message = text;
        break;
      case 'D':
        fields.detail = text;
        break;
      case 'H':
        fields.hint = text;
        break;
      case 'F':
        fields.file = text;
        break;
      case 'L':
        fields.line = text;
        break;
      default:
        // C is always XX000 in pgpool; unknown codes are ignored like libpq does
        break;
    }
  }
  const parsed = PcpServerMessageSchema.safeParse(fields);
  return parsed.success ? parsed.data : null;
}

export function formatServerMessage(m: PcpServerMessage): string {
  return `${m.severity}: ${m.message}${m.detail ? ` (${m.detail})` : ''}`;
}
