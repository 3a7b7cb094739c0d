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
 * Runs the deciders of every configured cluster from one loop. It blocks on XREAD over all
 * intake streams at once (one connection, however many clusters), then drains the clusters
 * that have something new. A cluster it cannot bootstrap yet (pgpool unreachable) is retried
 * on the next wake-up; its events wait in the intake meanwhile, nothing is dropped.
 */
export class DeciderLoop {
  private readonly deciders: ClusterDecider[];
  private readonly positions = new Map<string, string>();
  /** Clusters whose commands Redis refused: skipped until `until`, the pause doubling each time. */
  private readonly refused = new Map<string, { until: number; pauseMs: number }>();
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    clusters: readonly ClusterConfig[],
    private readonly deps: DeciderDeps & { blocking: RedisClient; logger: Logger },
  ) {
    this.deciders = clusters.map((c) => new ClusterDecider(c, deps));
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Drains every cluster once; used at start-up and by tests. */
  async drainAll(): Promise<number> {
    return this.drainMany(this.deciders);
  }

  private async drainOne(d: ClusterDecider): Promise<number> {
    const pass = await this.passOver(d);
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
  private async passOver(d: ClusterDecider): Promise<DeciderPass> {
    let n = 0;
    try {
      for (;;) {
        const r = await d.drain();
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
   * the decider waits on Redis round trips, not on the CPU.
   */
  private async drainMany(list: readonly ClusterDecider[]): Promise<number> {
    let next = 0;
    let total = 0;
    const lane = async () => {
      for (let d = list[next++]; d !== undefined; d = list[next++]) total += await this.drainOne(d);
    };
    await Promise.all(Array.from({ length: Math.min(DRAIN_LANES, list.length) }, lane));
    return total;
  }

  private async run(): Promise<void> {
    await this.drainAll();
    while (this.running) {
      const active = this.deciders.filter((d) => !this.paused(d));
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
        res = (await this.deps.blocking.xread(
          'COUNT',
          1,
          'BLOCK',
          1000,
          'STREAMS',
          ...ready.map((d) => keys.intake(this.deps.prefix, d.cluster.name)),
          ...ready.map((d) => this.positions.get(d.cluster.name) ?? '0-0'),
        )) as [string, [string, string[]][]][] | null;
      } catch (err) {
        if (!this.running) break;
        this.deps.logger.warn({ err }, 'intake read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!res) continue;
      const names = new Set(res.map(([key]) => key));
      const decided = await this.drainMany(ready.filter((d) => names.has(keys.intake(this.deps.prefix, d.cluster.name))));
      // Another fleet member may have decided these entries; our positions were refreshed.
      if (decided === 0) await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.deps.blocking.disconnect();
    await this.loop?.catch(() => undefined);
  }
}
