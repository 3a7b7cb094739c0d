import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { Config, ClusterConfig } from '../contracts/config.ts';
import { AuditStore } from '../audit/store.ts';
import { createPcpOps, type PcpOps } from '../pcp/index.ts';
import type { Logger } from '../runtime/logger.ts';
import { createRedis, type RedisClient } from '../runtime/redis.ts';
import { chooseStreamSource, type StreamCheckChoice } from '../replication/choose.ts';
import { DeciderLoop } from './decider-loop.ts';
import { Executor } from './executor.ts';
import { startHttp, type MetricsGate, type RouteHandler } from './http.ts';
import { createMetrics } from './metrics.ts';
import { PCPFLOW_VERSION } from '../runtime/version.ts';
import { Reconciler } from './reconciler.ts';
import { createActionQueue } from './topology.ts';
import type { Role } from './roles.ts';

export { ALL_ROLES, type Role } from './roles.ts';

export interface FleetMember {
  httpPort: number | null;
  deciders: DeciderLoop | null;
  reconciler: Reconciler | null;
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * One stateless fleet member. All state lives in Redis, so any number of members can run the
 * same roles against one Redis: deciders serialise through version checks, executors through
 * BullMQ job locks, reconcilers through a lease per cluster.
 */
export async function startFleetMember(
  opts: {
    config: Config;
    roles: readonly Role[];
    logger: Logger;
    routes?: (ctx: { audit: AuditStore }) => RouteHandler[];
  } & (
    | { http: false }
    // Serving HTTP needs a say on who may read /metrics (console/auth.ts decides it from the
    // config): a member never publishes it to whoever reaches the port by default.
    | { http?: boolean; metricsGate: MetricsGate }
  ),
): Promise<FleetMember> {
  const { config, logger } = opts;
  const prefix = config.redis.keyPrefix;
  const redis = createRedis(config.redis, 'worker');
  redis.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis connection error'));
  const metrics = createMetrics(PCPFLOW_VERSION);
  const clusters = new Map<string, ClusterConfig>(config.clusters.map((c) => [c.name, c]));
  const audit = new AuditStore(redis, prefix, {
    streamMaxLen: (name) => clusters.get(name)?.audit.streamMaxLen ?? 0,
    jsonlFile: (name) => clusters.get(name)?.audit.jsonlFile,
    onReset: (info) => {
      metrics.chainResets.inc({ cluster: info.cluster });
      logger.error(
        { ...info },
        `AUDIT CHAIN LOST: cluster ${info.cluster}'s audit chain in Redis is at seq ${info.redisSeq} but reached seq ${info.anchorSeq} (${info.source}); Redis lost data. Continuing the chain from seq ${info.anchorSeq} with a reset record; check Redis persistence (AOF) and replication`,
      );
    },
  });
  const pcpCache = new Map<string, PcpOps>();
  const pcpFor = (c: ClusterConfig): PcpOps => {
    let ops = pcpCache.get(c.name);
    if (!ops) pcpCache.set(c.name, (ops = createPcpOps(c, { logger, keepConnections: true })));
    return ops;
  };
  // Chosen once per cluster and said at start, so a DBA reads in the log how standbys come back
  // after a promotion, or that they cannot.
  const streamChecks = new Map<string, Promise<StreamCheckChoice>>();
  const streamCheckFor = (c: ClusterConfig): Promise<StreamCheckChoice> => {
    let p = streamChecks.get(c.name);
    if (!p) {
      p = chooseStreamSource(c, pcpFor(c), AbortSignal.timeout(c.timeouts.connectMs + c.timeouts.readMs)).catch(
        (err: unknown): StreamCheckChoice => ({ kind: 'unavailable', note: `cluster ${c.name}: ${err instanceof Error ? err.message : String(err)}` }),
      );
      streamChecks.set(c.name, p);
      // pgpool unreachable at the time of asking says nothing about its sr_check: ask again next time.
      void p.then((choice) => {
        if (choice.kind === 'unavailable' && choice.transient) streamChecks.delete(c.name);
      });
    }
    return p;
  };
  const workerId = `${hostname()}:${process.pid}`;
  const queue = createActionQueue(redis, prefix);

  let deciders: DeciderLoop | null = null;
  if (opts.roles.includes('decider')) {
    // One blocking connection per group of intake streams (decider-loop.ts, WAKE_GROUP).
    const blocking = () => {
      const c = createRedis(config.redis, 'worker');
      c.on('error', () => undefined);
      return c;
    };
    deciders = new DeciderLoop(config.clusters, { redis, blocking, prefix, audit, queue, pcpFor, logger, metrics });
    deciders.start();
  }
  const executor = opts.roles.includes('executor') ? new Executor({ redis, connection: redis, prefix, audit, clusters, pcpFor, streamCheckFor, logger, metrics, tuning: config.workers, workerId }) : null;
  let reconciler: Reconciler | null = null;
  if (opts.roles.includes('reconciler')) {
    reconciler = new Reconciler(config.clusters, { redis, prefix, pcpFor, logger, metrics, workerId, audit });
    reconciler.start();
  }

  const depthTimer = setInterval(() => {
    void queue
      .getWaitingCount()
      .then((n) => metrics.queueDepth.set({ queue: 'actions' }, n))
      .catch(() => undefined);
  }, 5000);

  let server: Server | null = null;
  if (opts.http !== false) {
    server = await startHttp({
      host: config.http.host,
      port: config.http.port,
      registry: metrics.registry,
      metricsGate: opts.metricsGate,
      // Bounded: a Redis that is down or frozen answers nothing, and the worker's client would
      // otherwise queue the PING until it reconnects.
      ready: async () => (await pingWithin(redis, 700)) && (executor ? executor.worker.isRunning() : true),
      routes: opts.routes?.({ audit }),
    });
  }
  if (executor && config.clusters.length <= 50) {
    // Few clusters: ask now and say it at start. Many: each is asked at its first wait.
    for (const c of config.clusters) {
      const choice = await streamCheckFor(c);
      if (choice.kind === 'source') logger.info({ cluster: c.name, source: choice.source.name }, choice.note);
      else logger.warn({ cluster: c.name }, choice.note);
    }
  }
  const address = server?.address();
  logger.info({ roles: opts.roles, clusters: config.clusters.length, workerId, http: address }, 'fleet member started');

  return {
    httpPort: address && typeof address === 'object' ? address.port : null,
    deciders,
    reconciler,
    async stop(deadlineMs = 10_000) {
      // Without Redis no in-flight work can record its result: waiting for it only delays the
      // exit until the deadline. Its job returns to another worker through the stalled check.
      if (!(await pingWithin(redis, Math.min(500, deadlineMs / 4)))) {
        logger.warn({ deadlineMs }, 'Redis does not answer: stopping without waiting for in-flight work (another worker retries it once Redis is back)');
        clearInterval(depthTimer);
        reconciler?.stop();
        await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
        redis.disconnect();
        return;
      }
      const work = (async () => {
        clearInterval(depthTimer);
        reconciler?.stop();
        await deciders?.stop();
        // Lets the in-flight action finish (its PCP call is bounded by its own deadline).
        await executor?.close();
        await queue.close();
        await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
        redis.disconnect();
      })();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => (timer = setTimeout(r, deadlineMs)));
      await Promise.race([work, timeout]);
      clearTimeout(timer);
      redis.disconnect();
    },
  };
}

async function pingWithin(redis: RedisClient, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      redis.ping().then((r) => r === 'PONG'),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
