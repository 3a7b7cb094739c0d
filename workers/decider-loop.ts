import type { ClusterConfig } from '../contracts/config.ts';
import { keys } from '../contracts/keys.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { ClusterDecider, type DeciderDeps } from './decider.ts';
import { recordPass, type DeciderPass } from './pass-outcome.ts';
import { isRedisRefusal } from './refusal-backoff.ts';
import { loadSnapshot } from './snapshot-store.ts';

/** How many clusters one fleet member decides at the same time. */
const DRAIN_LANES = 32;

/**
 * How many intake streams one blocking XREAD names. One XREAD over all 1,000 streams cost the
 * worker and Redis ~50 kB of arguments per wake-up, paid again by every lone event (most of the
 * worker's CPU at 50 events/s), and a wake-up for one cluster waited for the drain of whichever
 * cluster woke the loop before. In groups of this size a wake-up re-sends one group's streams,
 * and groups wake independently: ⌈clusters / 64⌉ blocking connections (16 for 1,000 clusters).
 */
export const WAKE_GROUP = 64;

/** How many intake entries one drain decides before it dispatches and reads on. */
const DRAIN_BATCH = 100;

/** Entries a wake-up's XREAD returned for a cluster, after the position it read from. */
interface Prefetched {
  after: string;
  entries: [string, string[]][];
}

/** One blocking connection and the clusters it waits on. */
interface WakeGroup {
  deciders: ClusterDecider[];
  blocking: RedisClient;
  /** Intake stream key per cluster, built once. */
  streams: Map<string, string>;
}

/**
 * Runs the deciders of every configured cluster. Each group of up to WAKE_GROUP clusters blocks
 * on XREAD over its intake streams (one connection per group), then drains the clusters that
 * have something new; at most DRAIN_LANES drains run at once over all groups. A cluster it cannot
 * bootstrap yet (pgpool unreachable) is retried on its group's next wake-up; its events wait in
 * the intake meanwhile, nothing is dropped.
 */
export class DeciderLoop {
  private readonly deciders: ClusterDecider[];
  private readonly groups: WakeGroup[];
  private readonly positions = new Map<string, string>();
  /** Clusters whose commands Redis refused: skipped until `until`, the pause doubling each time. */
  private readonly refused = new Map<string, { until: number; pauseMs: number }>();
  private running = false;
  private loops: Promise<void>[] = [];
  /** Free drain lanes, shared by the groups, and the drains waiting for one. */
  private lanes = DRAIN_LANES;
  private readonly waitingForLane: (() => void)[] = [];

  constructor(
    clusters: readonly ClusterConfig[],
    private readonly deps: DeciderDeps & { blocking: () => RedisClient; logger: Logger },
  ) {
    this.deciders = clusters.map((c) => new ClusterDecider(c, deps));
    this.groups = [];
    for (let i = 0; i < this.deciders.length; i += WAKE_GROUP) {
      const deciders = this.deciders.slice(i, i + WAKE_GROUP);
      this.groups.push({ deciders, blocking: deps.blocking(), streams: new Map(deciders.map((d) => [d.cluster.name, keys.intake(deps.prefix, d.cluster.name)])) });
    }
  }

  start(): void {
    this.running = true;
    this.loops = [
      this.drainAll().then(
        () => undefined,
        () => undefined,
      ),
    ];
    const first = this.loops[0];
    this.loops.push(...this.groups.map((g) => (first ?? Promise.resolve()).then(() => this.run(g))));
  }

  /** Drains every cluster once; used at start-up and by tests. */
  async drainAll(): Promise<number> {
    return this.drainMany(this.deciders);
  }

  private async drainOne(d: ClusterDecider, prefetched?: Prefetched): Promise<number> {
    const pass = await this.passOver(d, prefetched);
    recordPass(this.deps, d.cluster.name, pass);
    switch (pass.outcome) {
      case 'decided':
      case 'lost-race':
        return pass.entries;
      case 'nothing-new':
      case 'no-snapshot-yet':
      case 'redis-refused':
      case 'failed':
        return 0;
    }
  }

  /** Drains one cluster until its intake has nothing more, and says how that went. */
  private async passOver(d: ClusterDecider, prefetched?: Prefetched): Promise<DeciderPass> {
    let n = 0;
    let first = prefetched;
    try {
      for (;;) {
        const r = await d.drain(DRAIN_BATCH, first);
        first = undefined;
        switch (r.outcome) {
          case 'no-snapshot-yet':
            this.refused.delete(d.cluster.name);
            return { loop: 'decider', outcome: 'no-snapshot-yet', reason: r.reason };
          case 'lost-race': {
            n += r.done;
            const state = await loadSnapshot(this.deps.redis, this.deps.prefix, d.cluster.name);
            if (state) this.positions.set(d.cluster.name, state.lastId);
            this.refused.delete(d.cluster.name);
            return { loop: 'decider', outcome: 'lost-race', entries: n };
          }
          case 'drained':
            n += r.done;
            this.positions.set(d.cluster.name, r.lastId);
            if (r.more) continue;
            this.refused.delete(d.cluster.name);
            return n > 0 ? { loop: 'decider', outcome: 'decided', entries: n } : { loop: 'decider', outcome: 'nothing-new' };
        }
      }
    } catch (err) {
      if (isRedisRefusal(err)) {
        // Retrying at once cannot help (an ACL, a password, a replica): pause this cluster.
        const pauseMs = Math.min(30_000, (this.refused.get(d.cluster.name)?.pauseMs ?? 250) * 2);
        this.refused.set(d.cluster.name, { until: Date.now() + pauseMs, pauseMs });
        this.deps.logger.error(
          { err, cluster: d.cluster.name, pauseMs },
          `Redis refused a command of the decider; cluster ${d.cluster.name} waits ${pauseMs} ms. Check the Redis user's ACL (README, Deployment notes) and password.`,
        );
        return { loop: 'decider', outcome: 'redis-refused', pauseMs, error: err };
      }
      this.deps.logger.error({ err, cluster: d.cluster.name }, 'decider step failed; will retry');
      return { loop: 'decider', outcome: 'failed', error: err };
    }
  }

  private paused(d: ClusterDecider): boolean {
    const r = this.refused.get(d.cluster.name);
    return r !== undefined && Date.now() < r.until;
  }

  /**
   * Clusters are independent, so their drains run side by side (each one still strictly serial):
   * the decider waits on Redis round trips, not on the CPU. A group drains only its own clusters,
   * so one cluster is never drained by two groups at once.
   */
  private async drainMany(list: readonly ClusterDecider[], prefetched?: ReadonlyMap<string, Prefetched>): Promise<number> {
    const counts = await Promise.all(list.map((d) => this.inLane(() => this.drainOne(d, prefetched?.get(d.cluster.name)))));
    return counts.reduce((a, b) => a + b, 0);
  }

  private async inLane<T>(fn: () => Promise<T>): Promise<T> {
    if (this.lanes > 0) this.lanes--;
    else await new Promise<void>((resolve) => this.waitingForLane.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waitingForLane.shift();
      if (next) next();
      else this.lanes++;
    }
  }

  private async run(group: WakeGroup): Promise<void> {
    while (this.running) {
      const active = group.deciders.filter((d) => !this.paused(d));
      const ready = active.filter((d) => this.positions.has(d.cluster.name));
      const waiting = active.filter((d) => !this.positions.has(d.cluster.name));
      // Not yet bootstrapped clusters are retried on every wake-up (at least once a second).
      await this.drainMany(waiting);
      if (!this.running) break;
      if (ready.length === 0) {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      let res: [string, [string, string[]][]][] | null;
      try {
        // The entries themselves come back (up to a batch per stream): the drain needs no read of its own.
        res = (await group.blocking.xread(
          'COUNT',
          DRAIN_BATCH,
          'BLOCK',
          1000,
          'STREAMS',
          ...ready.map((d) => group.streams.get(d.cluster.name) ?? keys.intake(this.deps.prefix, d.cluster.name)),
          ...ready.map((d) => this.positions.get(d.cluster.name) ?? '0-0'),
        )) as [string, [string, string[]][]][] | null;
      } catch (err) {
        if (!this.running) break;
        this.deps.logger.warn({ err }, 'intake read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!res) continue;
      const byKey = new Map(res);
      const prefetched = new Map<string, Prefetched>();
      const woken = ready.filter((d) => {
        const entries = byKey.get(group.streams.get(d.cluster.name) ?? '');
        if (entries) prefetched.set(d.cluster.name, { after: this.positions.get(d.cluster.name) ?? '0-0', entries });
        return entries !== undefined;
      });
      const decided = await this.drainMany(woken, prefetched);
      // Another fleet member may have decided these entries; our positions were refreshed.
      if (decided === 0) await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const g of this.groups) g.blocking.disconnect();
    await Promise.all(this.loops.map((l) => l.catch(() => undefined)));
  }
}
