import type { Logger } from '../runtime/logger.ts';

/**
 * Redis answers that no retry can fix until someone changes Redis or the config: an ACL without
 * a command BullMQ needs (NOPERM), a wrong password, a replica, a full or misconfigured server.
 * BullMQ's worker loop emits such an error and asks again at once, so without a pause one
 * refused command became over a million log lines in seconds and a spinning core.
 */
const REFUSAL = /^(NOPERM|NOAUTH|WRONGPASS|READONLY|MISCONF|OOM|LOADING|ERR unknown command)\b/;

export function isRedisRefusal(err: unknown): boolean {
  return err instanceof Error && REFUSAL.test(err.message);
}

export interface Pausable {
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/**
 * Pauses a BullMQ worker when Redis refuses its commands: the first refusal of a round is logged
 * with the pause length, the worker resumes after it, and each further refused round doubles the
 * pause (initialMs to maxMs). Work that goes through (a job completed or failed) resets it.
 * Other errors are logged, identical ones at most once per second with a count of the rest.
 */
export class RefusalBackoff {
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private suppressed = 0;
  private closed = false;
  private readonly recent = new Map<string, { at: number; count: number }>();

  constructor(
    private readonly target: Pausable,
    private readonly logger: Logger,
    private readonly what: string,
    private readonly opts: { initialMs: number; maxMs: number; now?: () => number } = { initialMs: 500, maxMs: 30_000 },
  ) {
    this.delayMs = opts.initialMs;
  }

  get pausedFor(): number | null {
    return this.timer ? this.delayMs : null;
  }

  onError(err: Error): void {
    if (this.closed) return;
    if (!isRedisRefusal(err)) {
      this.logLimited(err);
      return;
    }
    if (this.timer) {
      this.suppressed++;
      return;
    }
    const pause = this.delayMs;
    this.logger.error(
      { err: { message: err.message }, pauseMs: pause, ...(this.suppressed ? { suppressed: this.suppressed } : {}) },
      `Redis refused a command of the ${this.what} (${err.message.split(' ')[0] ?? 'error'}); pausing it for ${pause} ms. Check the Redis user's ACL (README, Deployment notes) and password.`,
    );
    this.suppressed = 0;
    this.delayMs = Math.min(this.opts.maxMs, this.delayMs * 2);
    void this.target.pause().catch(() => undefined);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) void this.target.resume().catch(() => undefined);
    }, pause);
  }

  /** Work went through: the next refusal starts again from the shortest pause. */
  succeeded(): void {
    this.delayMs = this.opts.initialMs;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private logLimited(err: Error): void {
    const now = (this.opts.now ?? Date.now)();
    const seen = this.recent.get(err.message);
    if (seen && now - seen.at < 1000) {
      seen.count++;
      return;
    }
    this.logger.error({ err, ...(seen?.count ? { suppressed: seen.count } : {}) }, `${this.what} error`);
    this.recent.set(err.message, { at: now, count: 0 });
    if (this.recent.size > 100) this.recent.clear();
  }
}
