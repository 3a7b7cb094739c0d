import { createHash } from 'node:crypto';

const MAX_KEY = 512;

/**
 * The key that makes the same real-world event, reported by several EFM agents (the load
 * balancer scripts run on every node), collapse into one: event type, cluster and the
 * canonical arguments. Deliberately neither the time nor the reporting host: two agents see the
 * same failure at slightly different moments. Host names are compared case-insensitively, as
 * DNS does. Prose (notifications) and
 * anything longer than the key limit is hashed.
 */
export function dedupeKey(
  type: string,
  cluster: string,
  parts: readonly (string | number | null)[],
  opts: { hash?: boolean } = {},
): string {
  const canonical = parts.map((p) => (p === null ? '-' : String(p).toLowerCase()));
  const joined = `${type}|${cluster}|${canonical.join('|')}`;
  if (!opts.hash && joined.length <= MAX_KEY) return joined;
  const digest = createHash('sha256').update(canonical.join('\u0000')).digest('hex');
  return `${type}|${cluster}|sha256:${digest}`;
}
