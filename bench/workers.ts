import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ConfigSchema, type ConfigInput } from '../contracts/config.ts';
import { keys } from '../contracts/keys.ts';
import type { NodeEvent } from '../contracts/events.ts';
import { parseHookArgv } from '../hooks/argv-to-event.ts';
import { startWorker } from '../lab/drills/fleet-processes.ts';
import { pollUntil } from '../lab/wait.ts';
import { publishEvent } from '../workers/intake.ts';
import { startPcpServer, type PcpTestServer } from '../testkit/pcp-server.ts';
import { freePort, startRedis } from '../testkit/redis.ts';
import { fmtMs, percentile } from './stats.ts';
import { describe, floors, redisSample, sample } from './breakdown.ts';

/**
 * Fleet throughput and latency against PCP test servers (1,000 simulated pgpools: real pgpool
 * cannot be started a thousand times on one machine), with a real Redis and a real `pcpflow
 * worker` process. The baseline is BullMQ itself: no-op jobs through one worker on the same Redis,
 * measured in the same run.
 */
const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 1000);
const prefix = '{pcpflow}';

function event(cluster: string, argv: string[], i: number): NodeEvent {
  return parseHookArgv(argv, { cluster, now: new Date(), newId: () => `bench-${cluster}-${i}-${Math.random().toString(36).slice(2)}` });
}

async function bullmqBaseline(url: string, jobs: number, redisPid: number | undefined): Promise<{ rate: number; roundTrips: number; commands: number; cpuMsPerJob: number }> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const probe = new Redis(url);
  const before = await redisSample(probe, redisPid);
  const queue = new Queue('baseline', { connection, prefix: '{baseline}' });
  await queue.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })));
  let done = 0;
  const started = performance.now();
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker('baseline', async () => undefined, { connection, prefix: '{baseline}', concurrency: 1 });
    worker.on('completed', () => {
      if (++done === jobs) void worker.close().then(resolve);
    });
  });
  await finished;
  const rate = jobs / ((performance.now() - started) / 1000);
  const after = await redisSample(probe, redisPid);
  probe.disconnect();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  return {
    rate,
    roundTrips: (after.reads - before.reads) / jobs,
    commands: (after.commands - before.commands) / jobs,
    cpuMsPerJob: ((after.cpu - before.cpu) / jobs) * 1000,
  };
}

async function allDecided(redis: Redis, clusters: string[]): Promise<boolean> {
  const pipe = redis.pipeline();
  for (const c of clusters) {
    pipe.xrevrange(keys.intake(prefix, c), '+', '-', 'COUNT', 1);
    pipe.hget(keys.snapshot(prefix, c), 'lastId');
  }
  const res = (await pipe.exec()) ?? [];
  for (let i = 0; i < res.length; i += 2) {
    const last = (res[i]?.[1] as [string, string[]][] | undefined)?.[0]?.[0];
    if (last !== undefined && last !== res[i + 1]?.[1]) return false;
  }
  return true;
}

function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<true> {
  return pollUntil(what, async () => ((await probe()) ? true : undefined), { timeoutMs, intervalMs: 20 });
}

async function rssOf(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^pcpflow_process_process_resident_memory_bytes (\d+)/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

export async function benchWorkers(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pcpflow-bench-'));
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const servers: PcpTestServer[] = [];
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  try {
    console.log(`\n== fleet: ${CLUSTERS} clusters × 3 backends on PCP test servers, one \`pcpflow worker\` process`);
    for (let i = 0; i < CLUSTERS; i++) servers.push(await startPcpServer({ users: { pcpadmin: 'benchpw' } }));
    const passfile = join(dir, 'pcppass');
    writeFileSync(passfile, '*:*:pcpadmin:benchpw\n', { mode: 0o600 });
    const names = servers.map((_, i) => `c${i}`);
    const input: ConfigInput = {
      redis: { url: redisServer.url },
      log: { level: 'warn' },
      workers: { concurrency: Number(process.env.BENCH_CONCURRENCY ?? 64), lockDurationMs: 30_000, stalledIntervalMs: 30_000 },
      outbox: { dir: join(dir, 'outbox') },
      clusters: servers.map((s, i) => ({
        name: names[i] ?? '',
        pcp: { endpoints: [{ host: s.host, port: s.port }], user: 'pcpadmin', passfile },
        backends: s.backends.map((b) => ({ address: b.host, port: b.port })),
        reconcileIntervalMs: 3_600_000,
        timeouts: { connectMs: 2000, readMs: 5000, verifyMs: 15000, pollIntervalMs: 5 },
      })),
    };
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(ConfigSchema.parse(input)));
    const httpPort = await freePort();
    // PCPFLOW_BENCH_WORKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") go to the worker's node only.
    const nodeArgs = process.env.PCPFLOW_BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    worker = await startWorker({ configPath, httpPort, logFile: join(dir, 'worker.log'), roles: 'decider,executor', nodeArgs });
    await waitUntil('every cluster bootstrapped', async () => (await redis.keys(`${prefix}:snapshot:*`)).length === CLUSTERS, 300_000);
    const rssIdle = await rssOf(httpPort);

    // Storm: three events per cluster (detach, attach, detach of standbys), all published at once.
    const storm: NodeEvent[] = [];
    for (const [i, c] of names.entries()) {
      storm.push(event(c, ['efm', 'detach', '127.0.0.1:15434', 's'], 3 * i));
      storm.push(event(c, ['efm', 'attach', '127.0.0.1:15434', 's'], 3 * i + 1));
      storm.push(event(c, ['efm', 'detach', '127.0.0.1:15433', 's'], 3 * i + 2));
    }
    // Completion is watched on the audit channel (one message per commit with records: a
    // decision, two attempt records, the outcome's decision per event), so the bench does not
    // load Redis with a full scan of 1,000 clusters every 20 ms while it measures; the full
    // check runs when the count is reached, and once a second in case the count is off.
    const watcher = redis.duplicate();
    let commits = 0;
    watcher.on('message', () => commits++);
    await watcher.subscribe(keys.auditChannel(prefix));
    const expectedCommits = storm.length * 4;
    let lastFullCheck = performance.now();
    let fullChecks = 0;
    const pids = { worker: worker.pid, redis: redisServer.pid() };
    const before = await sample(redis, httpPort, servers, pids);
    const t0 = performance.now();
    const pipe = redis.pipeline();
    for (const e of storm) pipe.xadd(keys.intake(prefix, e.cluster), '*', 'event', JSON.stringify(e));
    await pipe.exec();
    await waitUntil('the storm decided and executed', async () => {
      if (commits < expectedCommits && performance.now() - lastFullCheck < 1000) return false;
      lastFullCheck = performance.now();
      fullChecks++;
      if (!(await allDecided(redis, names))) return false;
      const counts = await Promise.all([redis.llen(`${prefix}:actions:wait`), redis.llen(`${prefix}:actions:active`), redis.zcard(`${prefix}:actions:delayed`)]);
      return counts.every((n) => n === 0) && (await allDecided(redis, names));
    }, 600_000);
    const drainMs = performance.now() - t0;
    const after = await sample(redis, httpPort, servers, pids);
    watcher.disconnect();
    const rate = storm.length / (drainMs / 1000);
    const rssAfter = await rssOf(httpPort);
    const baseline = await bullmqBaseline(redisServer.url, storm.length, redisServer.pid());
    console.log(`storm: ${storm.length} events (+ their ${storm.length} actions and outcomes) drained in ${fmtMs(drainMs)}: ${rate.toFixed(0)} events/s`);
    // What the bench itself sent meanwhile: its completion checks (and the INFO of the first sample).
    const own = { reads: fullChecks * 2 + 2, commands: fullChecks * (2 * CLUSTERS + 3) + 3, byCommand: new Map([['xrevrange', fullChecks * CLUSTERS], ['hget', fullChecks * CLUSTERS]]) };
    console.log(`  (${commits} audit commits seen, ${fullChecks} full completion checks)`);
    for (const line of describe(before, after, storm.length, own)) console.log(line);
    console.log(
      `baseline: raw BullMQ no-op jobs, one worker, same Redis: ${baseline.rate.toFixed(0)} jobs/s (${baseline.roundTrips.toFixed(1)} round trips, ${baseline.commands.toFixed(1)} commands per job)`,
    );
    console.log(`ratio pcpflow/BullMQ: ${(rate / baseline.rate).toFixed(2)} (goal ≥ 0.25)`);
    for (const line of floors(before, after, storm.length, baseline)) console.log(line);

    // Latency at 50 events/s: publish → action confirmed (its final result written).
    const latencies: number[] = [];
    const pending = new Map<string, { cluster: string; t: number }>();
    const total = 500;
    let sent = 0;
    const poller = setInterval(() => {
      if (pending.size === 0) return;
      const ids = [...pending.keys()];
      void redis.mget(ids.map((id) => keys.actionResult(prefix, pending.get(id)?.cluster ?? '', id))).then((vals) => {
        vals.forEach((v, i) => {
          const id = ids[i] ?? '';
          const p = pending.get(id);
          if (v && p) {
            latencies.push(performance.now() - p.t);
            pending.delete(id);
          }
        });
      });
    }, 2);
    const quietBefore = await sample(redis, httpPort, servers, pids);
    const flip = new Map<string, boolean>();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const c = names[sent % names.length] ?? 'c0';
        const down = !(flip.get(c) ?? true);
        flip.set(c, down);
        const e = event(c, ['efm', down ? 'attach' : 'detach', '127.0.0.1:15434', 's'], 100_000 + sent);
        pending.set(`${e.eventId}.0`, { cluster: c, t: performance.now() });
        void publishEvent(redis, prefix, e);
        if (++sent >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    await waitUntil('every latency sample confirmed', async () => pending.size === 0, 120_000);
    clearInterval(poller);
    console.log(`latency at 50 events/s (${latencies.length} events): p50 ${fmtMs(percentile(latencies, 50))}, p99 ${fmtMs(percentile(latencies, 99))} from publish to action confirmed`);
    const quietAfter = await sample(redis, httpPort, servers, pids);
    // The bench's own result polling (an MGET every 2 ms) is in these Redis figures.
    for (const line of describe(quietBefore, quietAfter, total, { reads: 0, commands: 0, byCommand: new Map() })) console.log(line);
    console.log(`worker RSS with ${CLUSTERS} clusters configured: ${(rssIdle / 2 ** 20).toFixed(0)} MB after bootstrap, ${(rssAfter / 2 ** 20).toFixed(0)} MB after the storm (goal ≤ 150 MB)`);
  } finally {
    await worker?.stop();
    redis.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchWorkers();
