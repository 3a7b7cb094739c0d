import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ConfigSchema, type Config, type ConfigInput } from '../contracts/config.ts';
import { keys } from '../contracts/keys.ts';
import type { NodeEvent } from '../contracts/events.ts';
import { parseHookArgv } from '../hooks/argv-to-event.ts';
import { startWorker } from '../lab/drills/fleet-processes.ts';
import { labDown, labUp } from '../lab/index.ts';
import { pollUntil } from '../lab/wait.ts';
import { publishEvent } from '../workers/intake.ts';
import { startPcpServer, type PcpTestServer } from '../testkit/pcp-server.ts';
import { freePort } from '../testkit/redis.ts';
import { median } from './stats.ts';

/**
 * A long run (issue 18): mixed events at a steady rate against one real `pcpflow worker` process
 * serving the real lab (pgpool 4.3.5, PostgreSQL) and simulated pgpools (PCP test servers), with
 * the reconciler reading every cluster every 2 s. Every 10 s the worker's RSS, heap and event-loop
 * delay (from its /metrics: prom-client's per-scrape histogram) are sampled and printed as a text
 * chart; the verdict compares the run after warm-up with its start. Default 3 minutes
 * (`npm run bench -- long`); `npm run bench -- long --minutes 30` is the real thing.
 */

const SAMPLE_MS = 10_000;
const prefix = '{pcpflow}';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Sample {
  atS: number;
  rssMb: number;
  heapMb: number;
  lagP99Ms: number;
  lagMaxMs: number;
  published: number;
  /** Intake entries decided: the events published plus the executor's outcomes and the reconciler's drift events. */
  decided: number;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} ([0-9.eE+-]+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function scrape(port: number): Promise<Pick<Sample, 'rssMb' | 'heapMb' | 'lagP99Ms' | 'lagMaxMs'>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return {
    rssMb: metric(text, 'pcpflow_process_process_resident_memory_bytes') / 2 ** 20,
    heapMb: metric(text, 'pcpflow_process_nodejs_heap_size_used_bytes') / 2 ** 20,
    lagP99Ms: metric(text, 'pcpflow_process_nodejs_eventloop_lag_p99_seconds') * 1000,
    lagMaxMs: metric(text, 'pcpflow_process_nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

/**
 * Intake entries decided so far (every entry up to the position each cluster's snapshot has taken
 * in: the events published plus the executor's outcomes and the reconciler's drift events), and
 * how many wait behind that position.
 */
async function intakeProgress(redis: Redis, clusters: readonly string[]): Promise<{ decided: number; waiting: number }> {
  const pipe = redis.pipeline();
  for (const c of clusters) pipe.hget(keys.snapshot(prefix, c), 'lastId');
  const res = (await pipe.exec()) ?? [];
  const counts = await Promise.all(
    res.map(async (r, i) => {
      const last = r[1];
      const c = clusters[i];
      if (!c) return { decided: 0, waiting: 0 };
      const stream = keys.intake(prefix, c);
      const [len, waiting] = await Promise.all([redis.xlen(stream), redis.xrange(stream, typeof last === 'string' ? `(${last}` : '-', '+')]);
      return { decided: len - waiting.length, waiting: waiting.length };
    }),
  );
  return counts.reduce((a, b) => ({ decided: a.decided + b.decided, waiting: a.waiting + b.waiting }), { decided: 0, waiting: 0 });
}

function bar(value: number, max: number, width: number): string {
  const cells = max > 0 ? Math.round((value / max) * width * 2) : 0;
  return '█'.repeat(Math.floor(cells / 2)) + (cells % 2 ? '▌' : '');
}

/** At most `rows` rows: consecutive samples merged (RSS and heap: the highest; delay: the worst; counts: the last). */
function bucketed(samples: readonly Sample[], rows: number): Sample[] {
  const size = Math.ceil(samples.length / rows);
  if (size <= 1) return [...samples];
  const out: Sample[] = [];
  for (let i = 0; i < samples.length; i += size) {
    const b = samples.slice(i, i + size);
    const last = b[b.length - 1];
    if (!last) continue;
    out.push({
      ...last,
      rssMb: Math.max(...b.map((x) => x.rssMb)),
      heapMb: Math.max(...b.map((x) => x.heapMb)),
      lagP99Ms: Math.max(...b.map((x) => x.lagP99Ms)),
      lagMaxMs: Math.max(...b.map((x) => x.lagMaxMs)),
    });
  }
  return out;
}

export function chart(all: readonly Sample[], rows = 30): string {
  const samples = bucketed(all, rows);
  const maxRss = Math.max(...samples.map((s) => s.rssMb));
  const maxLag = Math.max(...samples.map((s) => s.lagP99Ms));
  const lines = [`   time    RSS (MB, highest in the row)         heap   event-loop delay p99 (max)      events in / intake entries decided (events, outcomes, drift)`];
  for (const s of samples) {
    lines.push(
      `${String(Math.round(s.atS)).padStart(6)} s ${s.rssMb.toFixed(1).padStart(6)} ${bar(s.rssMb, maxRss, 30).padEnd(30)} ${s.heapMb.toFixed(1).padStart(6)}  ` +
        `${s.lagP99Ms.toFixed(1).padStart(6)} ms ${bar(s.lagP99Ms, maxLag, 10).padEnd(10)} (${s.lagMaxMs.toFixed(0).padStart(4)})   ${s.published} / ${s.decided}`,
    );
  }
  return lines.join('\n');
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    den += ((xs[i] ?? 0) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export interface Verdict {
  warmupS: number;
  startMb: number;
  endMb: number;
  slopeMbPer10Min: number;
  growth: boolean;
}

/**
 * After warm-up (the first fifth of the run, at least 60 s): the median RSS of the last three
 * samples against the first three, and the fitted slope. Growth = the end is more than 5 % (and
 * 3 MB) above the start after warm-up, and the slope points up.
 */
export function verdict(samples: readonly Sample[], totalS: number): Verdict {
  const warmupS = Math.max(60, totalS / 5);
  const after = samples.filter((s) => s.atS >= warmupS);
  const use = after.length >= 6 ? after : samples.slice(Math.floor(samples.length / 2));
  const startMb = median(use.slice(0, 3).map((s) => s.rssMb));
  const endMb = median(use.slice(-3).map((s) => s.rssMb));
  const slopeMbPer10Min = slope(
    use.map((s) => s.atS),
    use.map((s) => s.rssMb),
  ) * 600;
  const growth = endMb - startMb > Math.max(3, startMb * 0.05) && slopeMbPer10Min > 0;
  return { warmupS, startMb, endMb, slopeMbPer10Min, growth };
}

export async function benchLong(opts: { minutes?: number; simulated?: number; eventsPerS?: number } = {}): Promise<void> {
  const minutes = opts.minutes ?? Number(argValue('--minutes') ?? process.env.BENCH_LONG_MINUTES ?? 3);
  const simulated = opts.simulated ?? 20;
  const eventsPerS = opts.eventsPerS ?? 10;
  const labIdNum = 38 + Number(process.env.PCPFLOW_TEST_LAB_OFFSET ?? '0');
  const lab = await labUp({ id: labIdNum, dir: join(process.env.TMPDIR ?? tmpdir(), `pcpflow-bench-lab-${labIdNum}`) });
  const dir = mkdtempSync(join(tmpdir(), 'pcpflow-bench-long-'));
  const servers: PcpTestServer[] = [];
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  const redis = new Redis(lab.redisUrl, { maxRetriesPerRequest: null });
  try {
    for (let i = 0; i < simulated; i++) servers.push(await startPcpServer({ users: { pcpadmin: 'benchpw' } }));
    const passfile = join(dir, 'pcppass');
    writeFileSync(passfile, '*:*:pcpadmin:benchpw\n', { mode: 0o600 });
    const labConfig = JSON.parse(readFileSync(lab.configPath, 'utf8')) as Config;
    const sims: ConfigInput['clusters'] = servers.map((s, i) => ({
      name: `sim${i}`,
      pcp: { endpoints: [{ host: s.host, port: s.port }], user: 'pcpadmin', passfile },
      backends: s.backends.map((b) => ({ address: b.host, port: b.port })),
      reconcileIntervalMs: 2_000,
      timeouts: { connectMs: 2000, readMs: 5000, verifyMs: 15000, pollIntervalMs: 5 },
    }));
    const config = ConfigSchema.parse({ ...labConfig, log: { level: 'warn' }, clusters: [...labConfig.clusters.map((c) => ({ ...c, reconcileIntervalMs: 2_000 })), ...sims] });
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(config));
    const clusters = config.clusters.map((c) => c.name);
    const httpPort = await freePort();
    worker = await startWorker({ configPath, httpPort, logFile: join(dir, 'worker.log') });
    console.log(
      `\n== long run: ${minutes} min, ${eventsPerS} events/s over the lab (pgpool 4.3.5) and ${simulated} simulated pgpools, one \`pcpflow worker\` (pid ${worker.pid}), sampled every ${SAMPLE_MS / 1000} s`,
    );

    // The mix: simulated clusters take turns detaching and attaching a standby, with a
    // notification now and then; the lab's standby is detached and attached every 5 s (a real
    // pgpool pauses its PCP for about 1 s after each).
    const labStandby = lab.nodes[lab.nodes.length - 1];
    if (!labStandby) throw new Error('the lab has no standby');
    const flip = new Map<string, boolean>();
    let published = 0;
    const next = (i: number): NodeEvent => {
      const at = { now: new Date(), newId: () => `long-${i}-${Math.random().toString(36).slice(2)}` };
      if (i % (eventsPerS * 5) === 0) {
        const down = !(flip.get('lab') ?? true);
        flip.set('lab', down);
        return parseHookArgv(['efm', down ? 'attach' : 'detach', labStandby.address, 's'], { cluster: 'lab', ...at });
      }
      const c = `sim${i % simulated}`;
      if (i % 10 === 7) return parseHookArgv(['efm', 'notification', 'bench', `event ${i}`], { cluster: c, ...at });
      const down = !(flip.get(c) ?? true);
      flip.set(c, down);
      return parseHookArgv(['efm', down ? 'attach' : 'detach', '127.0.0.1:15434', 's'], { cluster: c, ...at });
    };
    const started = performance.now();
    const generator = setInterval(() => {
      void publishEvent(redis, prefix, next(published++));
    }, 1000 / eventsPerS);
    const samples: Sample[] = [];
    await scrape(httpPort); // starts the first interval's delay histogram
    const end = started + minutes * 60_000;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(SAMPLE_MS, end - performance.now())));
      const m = await scrape(httpPort);
      const s: Sample = { atS: (performance.now() - started) / 1000, ...m, published, decided: (await intakeProgress(redis, clusters)).decided };
      samples.push(s);
      process.stdout.write(`  ${s.atS.toFixed(0)} s: RSS ${s.rssMb.toFixed(1)} MB, delay p99 ${s.lagP99Ms.toFixed(1)} ms, ${s.published} events in, ${s.decided} intake entries decided\n`);
    }
    clearInterval(generator);
    await pollUntil('every event decided', async () => ((await intakeProgress(redis, clusters)).waiting === 0 ? true : undefined), { timeoutMs: 120_000, intervalMs: 200 });
    const totalS = (performance.now() - started) / 1000;
    console.log(chart(samples));
    const v = verdict(samples, minutes * 60);
    console.log(
      `after warm-up (${v.warmupS.toFixed(0)} s): RSS ${v.startMb.toFixed(1)} → ${v.endMb.toFixed(1)} MB, slope ${v.slopeMbPer10Min >= 0 ? '+' : ''}${v.slopeMbPer10Min.toFixed(2)} MB / 10 min; ` +
        `event-loop delay p99 median ${median(samples.map((s) => s.lagP99Ms)).toFixed(1)} ms, worst ${Math.max(...samples.map((s) => s.lagP99Ms)).toFixed(1)} ms; ` +
        `${published} events in ${totalS.toFixed(0)} s, all decided: ${v.growth ? 'GROWTH after warm-up' : 'no growth after warm-up'}`,
    );
  } finally {
    await worker?.stop();
    redis.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    await labDown(lab.dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchLong();
