import { InvalidInputError } from './errors.ts';

/**
 * The non-blank, non-comment lines of a JSONL file (an exported audit, a recorded event log),
 * each parsed, with its 1-based line number for messages. A line that is not JSON is invalid
 * input naming the line; what each value must be is the caller's schema.
 */
export function jsonLines(text: string): Array<{ json: unknown; line: number }> {
  const out: Array<{ json: unknown; line: number }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    try {
      out.push({ json: JSON.parse(t) as unknown, line: i + 1 });
    } catch {
      throw new InvalidInputError(`line ${i + 1}: not JSON`);
    }
  });
  return out;
}
