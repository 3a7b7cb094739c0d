import type { ClusterConfig } from '../contracts/config.ts';
import { keys } from '../contracts/keys.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { ClusterDecider, type DeciderDeps } from './decider.ts';
import { loadSnapshot } from './snapshot-store.ts';

/**
 * Runs the deciders of every configured cluster from one loop. It blocks on XREAD over all
 * intake streams at once (one connection, however many clusters), then drains the clusters
 * that have something new. A cluster it cannot bootstrap yet (pgpool unreachable) is retried
 * on the next wake-up; its events wait in the intake meanwhile, nothing is dropped.
 */
export class DeciderLoop {
  private readonly deciders: ClusterDecider[];
  private readonly positions = new Map<string, string>();
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
    let total = 0;
    for (const d of this.deciders) total += await this.drainOne(d);
    return total;
  }

  private async drainOne(d: ClusterDecider): Promise<number> {
    let n = 0;
    try {
      for (let got = await d.drain(); got > 0; got = await d.drain()) n += got;
      await d.dispatchPending();
      const state = await loadSnapshot(this.deps.redis, this.deps.prefix, d.cluster.name);
      if (state) this.positions.set(d.cluster.name, state.lastId);
    } catch (err) {
      this.deps.logger.error({ err, cluster: d.cluster.name }, 'decider step failed; will retry');
    }
    return n;
  }

  private async run(): Promise<void> {
    await this.drainAll();
    while (this.running) {
      const ready = this.deciders.filter((d) => this.positions.has(d.cluster.name));
      const waiting = this.deciders.filter((d) => !this.positions.has(d.cluster.name));
      // Not yet bootstrapped clusters are retried on every wake-up (at least once a second).
      for (const d of waiting) await this.drainOne(d);
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
      let progressed = 0;
      for (const d of ready) if (names.has(keys.intake(this.deps.prefix, d.cluster.name))) progressed += await this.drainOne(d);
      // Another fleet member may have decided these entries; our positions were refreshed.
      if (progressed === 0) await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.deps.blocking.disconnect();
    await this.loop?.catch(() => undefined);
  }
}
