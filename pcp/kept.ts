import { PcpClosedError } from './errors/index.ts';

/**
 * How long an authenticated PCP connection may be kept between read-only calls.
 *
 * Why a kept connection must stay short-lived (pgpool 4.0–4.4, research/pcp-protocol.md §7.7,
 * pgpool_main.c failover() and pcp_child.c pcp_exit_handler() of 4.3.5): after every failover,
 * failback or promotion pgpool's main process sleeps 1 s, tells its PCP child to restart and
 * waitpid()s for it; the child first wait()s for every PCP worker, and a worker serves its client
 * until the client closes (workers ignore SIGTERM, there is no idle timeout). So while any PCP
 * connection is open, main stays inside failover(): queued attach/detach/promote requests wait and
 * new PCP connections get no salt. A kept connection may therefore only live where no failover can
 * be waiting for it:
 * - idleMs: closed soon after its last call. Idle between bursts (the reconciler's tick, a
 *   decision) it is gone long before the 1 s pause that precedes a PCP restart ends.
 * - maxAgeMs: retired after this long however busy, so a caller that reads without pause (a storm
 *   of decisions, a poll) holds a waiting failover() for at most this long.
 * - settleMs: after this driver sends attach/detach/promote, or a node-info reply shows a node's
 *   status, role or last status change moved (someone else's failover, a health check), no
 *   connection is kept for this long: pgpool is about to restart its PCP child (1 s after its
 *   failover() ends), and a connection kept now would belong to the child that must exit. Calls in
 *   that window use one connection each, as the binaries do.
 * Actions never run on a kept connection: they open their own (or use the caller's lease,
 * OwnConnections below) and every kept one is retired first.
 */
export interface KeepPolicy {
  idleMs: number;
  maxAgeMs: number;
  settleMs: number;
}

export const DEFAULT_KEEP_POLICY: KeepPolicy = { idleMs: 100, maxAgeMs: 200, settleMs: 2_000 };

/** What the pool needs of a connection (PcpConnection in the driver). */
export interface Keepable {
  readonly usable: boolean;
  /** Between calls: detach the last caller's signal, stop holding the process open. */
  rest(): void;
  close(): Promise<void>;
  destroy(): void;
}

interface Slot<C extends Keepable> {
  conn: C;
  openedAt: number;
  busy: boolean;
  retired: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

export interface KeptStats {
  opened: number;
  reused: number;
  oneShot: number;
  reopenedAfterError: number;
}

/** One call on a connection of its own: closed politely after, torn down on any error. */
export async function useOnce<C extends Pick<Keepable, 'close' | 'destroy'>, T>(conn: C, fn: (c: C) => Promise<T>): Promise<T> {
  try {
    const value = await fn(conn);
    await conn.close();
    return value;
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

/**
 * At most one kept connection per endpoint, used by one call at a time; a call that finds it busy,
 * or comes inside a settle window, gets a one-shot connection instead of waiting.
 */
export class KeptConnections<C extends Keepable> {
  private readonly slots = new Map<string, Slot<C>>();
  private readonly opening = new Set<string>();
  private readonly lastSeen = new Map<string, string>();
  private settleUntil = -Infinity;
  readonly stats: KeptStats = { opened: 0, reused: 0, oneShot: 0, reopenedAfterError: 0 };

  constructor(
    private readonly policy: KeepPolicy | false,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Runs fn on the endpoint's kept connection (opened by `open` when there is none, resumed with
   * `resume` when there is). A kept connection that turns out closed (pgpool restarted, its worker
   * gone) is replaced once and the call repeated: only read-only calls come here.
   */
  async use<T>(key: string, open: () => Promise<C>, resume: (c: C) => void, fn: (c: C) => Promise<T>): Promise<T> {
    if (!this.policy || this.settling() || this.opening.has(key) || this.slots.get(key)?.busy) return this.oneShot(open, fn);
    const policy = this.policy;
    let slot = this.slots.get(key);
    if (slot && (!slot.conn.usable || this.now() - slot.openedAt >= policy.maxAgeMs)) {
      this.retire(key, slot);
      slot = undefined;
    }
    const reused = slot !== undefined;
    if (slot) {
      clearTimeout(slot.idleTimer);
      slot.busy = true;
      resume(slot.conn);
      this.stats.reused++;
    } else {
      this.opening.add(key);
      try {
        slot = { conn: await open(), openedAt: this.now(), busy: true, retired: false, idleTimer: undefined };
      } finally {
        this.opening.delete(key);
      }
      this.stats.opened++;
      this.slots.set(key, slot);
    }
    try {
      const value = await fn(slot.conn);
      this.release(key, slot);
      return value;
    } catch (err) {
      slot.busy = false;
      if (slot.conn.usable) this.release(key, slot);
      else this.retire(key, slot);
      if (reused && err instanceof PcpClosedError) {
        this.stats.reopenedAfterError++;
        return this.use(key, open, resume, fn);
      }
      throw err;
    }
  }

  /**
   * Node info seen on an endpoint (any connection): when it differs from the last one seen there,
   * pgpool has just run a failover or failback and will restart its PCP child: settle.
   */
  observe(key: string, fingerprint: string): void {
    const before = this.lastSeen.get(key);
    this.lastSeen.set(key, fingerprint);
    if (before !== undefined && before !== fingerprint) this.settle();
  }

  /** An action is about to be sent, or pgpool's nodes moved: every kept connection goes, none is kept for settleMs. */
  settle(): void {
    if (!this.policy) return;
    this.settleUntil = this.now() + this.policy.settleMs;
    for (const [key, slot] of this.slots) this.retire(key, slot);
  }

  /** Closes every kept connection (a call in flight closes its own when it ends). */
  async closeAll(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, slot] of this.slots) closing.push(this.retire(key, slot));
    await Promise.all(closing);
  }

  get keptCount(): number {
    return this.slots.size;
  }

  private settling(): boolean {
    return this.now() < this.settleUntil;
  }

  private async oneShot<T>(open: () => Promise<C>, fn: (c: C) => Promise<T>): Promise<T> {
    this.stats.oneShot++;
    return useOnce(await open(), fn);
  }

  private release(key: string, slot: Slot<C>): void {
    slot.busy = false;
    const policy = this.policy;
    if (!policy || slot.retired || this.settling() || this.now() - slot.openedAt >= policy.maxAgeMs) {
      void this.retire(key, slot);
      return;
    }
    slot.conn.rest();
    slot.idleTimer = setTimeout(() => void this.retire(key, slot), policy.idleMs);
    slot.idleTimer.unref();
  }

  /** Out of the pool now; closed now when idle, by its call's end when busy. */
  private retire(key: string, slot: Slot<C>): Promise<void> {
    clearTimeout(slot.idleTimer);
    slot.retired = true;
    if (this.slots.get(key) === slot) this.slots.delete(key);
    if (slot.busy) return Promise.resolve();
    if (!slot.conn.usable) {
      slot.conn.destroy();
      return Promise.resolve();
    }
    return slot.conn.close().catch(() => slot.conn.destroy());
  }
}

interface OwnSlot<C extends Keepable> {
  conn: C;
  busy: boolean;
}

/**
 * One caller's own connections (one per endpoint) for a short run of calls: an ensure's read, its
 * action and the first polls of its confirmation share one login instead of one each (three
 * connections per action before). Never shared with another caller, so unlike the kept pool it
 * may carry an action. It lives at most maxAgeMs from its creation, for the reason kept connections
 * are short-lived: after our own action pgpool's main process sleeps 1 s, then waits for every PCP
 * connection before it restarts its PCP child; a lease that lets go well within that second never
 * holds the failover up. Past maxAgeMs (or once released) a call takes `fallback`, the driver's
 * usual path. A connection of the lease found closed when it is used again (pgpool restarted its
 * PCP child meanwhile) is replaced once and the call repeated, but only when `repeatable` says the
 * request cannot have reached pgpool (a read, or an action not yet sent).
 */
export class OwnConnections<C extends Keepable> {
  private readonly slots = new Map<string, OwnSlot<C>>();
  private readonly until: number;
  private released = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.until = this.now() + maxAgeMs;
  }

  get live(): boolean {
    return !this.released && this.now() < this.until;
  }

  async use<T>(key: string, open: () => Promise<C>, resume: (c: C) => void, fn: (c: C) => Promise<T>, fallback: () => Promise<T>, repeatable: () => boolean): Promise<T> {
    const existing = this.slots.get(key);
    if (!this.live || existing?.busy) {
      if (!this.live) this.letGo();
      return fallback();
    }
    let slot: OwnSlot<C>;
    let reused = false;
    if (existing && existing.conn.usable) {
      slot = existing;
      slot.busy = true;
      resume(slot.conn);
      reused = true;
    } else {
      if (existing) {
        existing.conn.destroy();
        this.slots.delete(key);
      }
      slot = { conn: await open(), busy: true };
      this.slots.set(key, slot);
      this.arm();
    }
    try {
      const value = await fn(slot.conn);
      this.done(key, slot);
      return value;
    } catch (err) {
      this.done(key, slot);
      if (reused && err instanceof PcpClosedError && repeatable()) return this.use(key, open, resume, fn, fallback, repeatable);
      throw err;
    }
  }

  /** Logs out of every connection of the lease; one in a call logs out when its call ends. */
  release(): Promise<void> {
    this.released = true;
    return this.letGo();
  }

  private done(key: string, slot: OwnSlot<C>): void {
    slot.busy = false;
    if (!slot.conn.usable) {
      slot.conn.destroy();
      if (this.slots.get(key) === slot) this.slots.delete(key);
    } else if (!this.live) void this.closeSlot(key, slot);
    else slot.conn.rest();
  }

  /** At maxAgeMs the idle connections go even if the caller is busy elsewhere (sleeping between polls). */
  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.letGo(), Math.max(0, this.until - this.now()));
    this.timer.unref();
  }

  private letGo(): Promise<void> {
    clearTimeout(this.timer);
    const closing: Promise<void>[] = [];
    for (const [key, slot] of this.slots) if (!slot.busy) closing.push(this.closeSlot(key, slot));
    return Promise.all(closing).then(() => undefined);
  }

  private closeSlot(key: string, slot: OwnSlot<C>): Promise<void> {
    if (this.slots.get(key) === slot) this.slots.delete(key);
    if (!slot.conn.usable) {
      slot.conn.destroy();
      return Promise.resolve();
    }
    return slot.conn.close().catch(() => slot.conn.destroy());
  }
}
