import { setTimeout as delay } from 'node:timers/promises';
import { LabTimeoutError } from './errors.ts';

/**
 * Polls a probe until it returns a value (not undefined) or the deadline passes. The probe may
 * throw while the thing it watches is not ready; the last error or observation goes into the
 * timeout message so a DBA sees why it never became ready.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; logHint?: string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      last = 'not ready';
    } catch (err) {
      last = err instanceof Error ? err.message.split('\n').slice(0, 3).join(' | ') : String(err);
    }
    if (Date.now() >= deadline) {
      const hint = opts.logHint ? `; see ${opts.logHint}` : '';
      throw new LabTimeoutError(`timed out after ${(opts.timeoutMs / 1000).toFixed(1)} s waiting for ${what} (last: ${last})${hint}`);
    }
    await delay(opts.intervalMs ?? 50);
  }
}
