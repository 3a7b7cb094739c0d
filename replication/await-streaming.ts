import type { EnsureOutcome } from '../pcp/index.ts';
import type { StreamSource } from './source.ts';

export interface AwaitStreamingOptions {
  standby: string;
  primary: string;
  pollIntervalMs: number;
  deadlineMs: number;
  signal: AbortSignal;
  /** Injected for tests; performance.now by default. */
  now?: () => number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Polls the source until the standby streams from the primary, or the deadline passes. `changed`
 * when it had to wait, `already` when it streamed at the first look; past the deadline a final
 * `failed` (not retryable: the wait itself was the retry), which puts the backend in attention.
 * A source that cannot be asked is asked again on the next poll: its last error is the reason.
 */
export async function awaitStreaming(source: StreamSource, o: AwaitStreamingOptions): Promise<EnsureOutcome> {
  const now = o.now ?? (() => performance.now());
  const started = now();
  let last = 'nothing seen yet';
  let looks = 0;
  const watch = source.watch(o.standby, o.primary);
  try {
    return await poll();
  } finally {
    await watch.close?.();
  }

  async function poll(): Promise<EnsureOutcome> {
    for (;;) {
      looks += 1;
      try {
        const p = await watch.look(o.signal);
        last = p.seen;
        if (p.streaming) {
          const waited = Math.round(now() - started);
          return {
            result: looks === 1 ? 'already' : 'changed',
            reason: `waited ${waited} ms for ${o.standby} to stream from ${o.primary} (${source.name}, ${looks} look${looks === 1 ? '' : 's'}): ${last}`,
            retryable: false,
            durationMs: waited,
          };
        }
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      const elapsed = now() - started;
      if (elapsed >= o.deadlineMs || o.signal.aborted) {
        return {
          result: 'failed',
          reason: `${o.standby} did not stream from ${o.primary} within ${o.deadlineMs} ms (${source.name}, ${looks} looks); it stays out of pgpool. Last seen: ${last}`,
          retryable: false,
          durationMs: Math.round(elapsed),
        };
      }
      await sleep(Math.min(o.pollIntervalMs, Math.max(1, o.deadlineMs - elapsed)), o.signal);
    }
  }
}
