import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { PcpTestServer } from '../testkit/pcp-server.ts';

/**
 * Where an event's time goes in the fleet bench, from three sides that need no change to the
 * worker: Redis's own counters (INFO stats and commandstats: every client's round trips and
 * commands, Lua-internal calls included), the worker's /metrics (phase histograms), and the PCP
 * test servers (requests by type, connections opened).
 */
export interface Sample {
  reads: number;
  commands: number;
  byCommand: Map<string, number>;
  metrics: Map<string, number>;
  pcp: Map<string, number>;
  pcpConnections: number;
  /** CPU seconds used so far by the worker, Redis and this process (the simulated pgpools), and the machine's busy and total seconds. */
  cpu: { worker: number; redis: number; bench: number; machineBusy: number; machineAll: number };
  at: number;
}

const TICK_S = 0.01; // USER_HZ is 100 on Linux

/** utime + stime of a process, in seconds. */
function processCpu(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_S;
}

function machineCpu(): { busy: number; all: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.split(/\s+/).slice(1).map(Number) ?? [];
  const all = cpu.reduce((x, y) => x + y, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: (all - idle) * TICK_S, all: all * TICK_S };
}

function infoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

async function metricsOf(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('pcpflow_') || line.startsWith('pcpflow_process_')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

export async function sample(redis: Redis, httpPort: number, servers: readonly PcpTestServer[], pids: { worker: number; redis: number | undefined }): Promise<Sample> {
  const stats = infoFields(await redis.info('stats'));
  const cmds = infoFields(await redis.info('commandstats'));
  const byCommand = new Map<string, number>();
  for (const [k, v] of cmds) {
    const calls = /calls=(\d+)/.exec(v)?.[1];
    if (k.startsWith('cmdstat_') && calls) byCommand.set(k.slice('cmdstat_'.length), Number(calls));
  }
  const pcp = new Map<string, number>();
  let pcpConnections = 0;
  for (const s of servers) {
    pcpConnections += s.stats.opened;
    for (const r of s.requests) pcp.set(r.type, (pcp.get(r.type) ?? 0) + 1);
  }
  return {
    reads: Number(stats.get('total_reads_processed') ?? NaN),
    commands: Number(stats.get('total_commands_processed') ?? NaN),
    byCommand,
    metrics: await metricsOf(httpPort),
    pcp,
    pcpConnections,
    cpu: (() => {
      const m = machineCpu();
      const own = process.cpuUsage();
      return { worker: processCpu(pids.worker), redis: processCpu(pids.redis), bench: (own.user + own.system) / 1e6, machineBusy: m.busy, machineAll: m.all };
    })(),
    at: performance.now(),
  };
}

/** Redis's side of a baseline run (round trips, commands) and the CPU of Redis and of this process, which runs the baseline's worker. */
export async function redisSample(redis: Redis, redisPid: number | undefined): Promise<{ reads: number; commands: number; cpu: number }> {
  const stats = infoFields(await redis.info('stats'));
  const own = process.cpuUsage();
  return {
    reads: Number(stats.get('total_reads_processed') ?? NaN),
    commands: Number(stats.get('total_commands_processed') ?? NaN),
    cpu: processCpu(redisPid) + (own.user + own.system) / 1e6,
  };
}

/**
 * Which floor stops the storm: each side's CPU per event gives the rate it would allow with a
 * whole core to itself, and the sum the rate of the 2-core machine with nothing else running;
 * BullMQ's no-op job costs `baselineCpuMs` (its worker and Redis) the same way.
 */
export function floors(a: Sample, b: Sample, events: number, baseline: { rate: number; cpuMsPerJob: number }): string[] {
  const ms = (s: number) => (s / events) * 1000;
  const worker = ms(b.cpu.worker - a.cpu.worker);
  const redis = ms(b.cpu.redis - a.cpu.redis);
  const pgpools = ms(b.cpu.bench - a.cpu.bench);
  const cap = (m: number) => 1000 / m;
  const machine = 2000 / (worker + redis + pgpools);
  const quietBaseline = 1000 / baseline.cpuMsPerJob;
  return [
    `  floors (CPU per event → events/s it allows): worker ${worker.toFixed(2)} ms → ${cap(worker).toFixed(0)}/s on a whole core; Redis ${redis.toFixed(2)} ms → ${cap(redis).toFixed(0)}/s; ` +
      `simulated pgpools + bench ${pgpools.toFixed(2)} ms → ${cap(pgpools).toFixed(0)}/s; all three on 2 idle cores → ${machine.toFixed(0)}/s`,
    `  BullMQ no-op job: ${baseline.cpuMsPerJob.toFixed(3)} ms CPU (its worker + Redis) → ${quietBaseline.toFixed(0)}/s on a whole core; ` +
      `best ratio the worker's CPU allows: ${(Math.min(cap(worker), machine) / quietBaseline).toFixed(2)}`,
  ];
}

const PCP_NAMES: Record<string, string> = { I: 'node info', L: 'node count', C: 'attach', D: 'detach', d: 'detach', J: 'promote', j: 'promote', M: 'salt', R: 'auth', X: 'logout' };

function delta(a: Map<string, number>, b: Map<string, number>, key: string): number {
  return (b.get(key) ?? 0) - (a.get(key) ?? 0);
}

/** Mean of a histogram over the interval (ms) and how many observations it had. */
function hist(a: Sample, b: Sample, name: string, labels = ''): { meanMs: number; count: number } {
  const count = delta(a.metrics, b.metrics, `${name}_count${labels}`);
  const sum = delta(a.metrics, b.metrics, `${name}_sum${labels}`);
  return { meanMs: count > 0 ? (sum / count) * 1000 : NaN, count };
}

/** The breakdown lines for `events` storm events (each one decision, one action, one outcome decision). */
export function describe(a: Sample, b: Sample, events: number, own: { reads: number; commands: number; byCommand: Map<string, number> }): string[] {
  const per = (n: number) => (n / events).toFixed(1);
  const lines: string[] = [];
  const wallS = (b.at - a.at) / 1000;
  const cores = (b.cpu.machineAll - a.cpu.machineAll) / wallS;
  const share = (s: number) => `${((s / wallS) * 100).toFixed(0)}% of a core (${((s / events) * 1000).toFixed(2)} ms/event)`;
  lines.push(
    `  CPU over ${wallS.toFixed(1)} s: worker ${share(b.cpu.worker - a.cpu.worker)}, Redis ${share(b.cpu.redis - a.cpu.redis)}, ` +
      `simulated pgpools + bench ${share(b.cpu.bench - a.cpu.bench)}; machine busy ${(((b.cpu.machineBusy - a.cpu.machineBusy) / wallS / cores) * 100).toFixed(0)}% of ${cores.toFixed(0)} cores ` +
      `(the rest of the busy time is other processes)`,
  );
  const cmdDeltas = [...b.byCommand.keys()]
    .map((k) => [k, delta(a.byCommand, b.byCommand, k) - (own.byCommand.get(k) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((x, y) => y[1] - x[1]);
  lines.push(
    `  Redis per event (the bench's own completion checks taken out): ${per(b.reads - a.reads - own.reads)} reads served (requests arriving together count once), ` +
      `${per(b.commands - a.commands - own.commands)} commands (Lua-internal calls counted): ` +
      cmdDeltas
        .slice(0, 12)
        .map(([k, n]) => `${k} ${per(n)}`)
        .join(', '),
  );
  const passes = [...b.metrics.keys()]
    .filter((k) => k.startsWith('pcpflow_loop_passes_total{loop="decider"'))
    .map((k) => [/outcome="([^"]+)"/.exec(k)?.[1] ?? k, delta(a.metrics, b.metrics, k)] as const)
    .filter(([, n]) => n > 0);
  const steps = hist(a, b, 'pcpflow_decider_phase_seconds', '{phase="decide"}').count;
  const phase = (p: string) => hist(a, b, 'pcpflow_decider_phase_seconds', `{phase="${p}"}`);
  const wait = hist(a, b, 'pcpflow_intake_wait_seconds');
  lines.push(
    `  decider: ${(steps / events).toFixed(2)} decisions per event, ${(phase('commit').count / Math.max(1, steps)).toFixed(2)} commits per decision (a moved audit head relinks); read ${phase('read').meanMs.toFixed(2)} ms, decide ${phase('decide').meanMs.toFixed(2)} ms, ` +
      `commit ${phase('commit').meanMs.toFixed(2)} ms, dispatch ${phase('dispatch').meanMs.toFixed(2)} ms (×${phase('dispatch').count}); ` +
      `intake wait mean ${wait.meanMs.toFixed(0)} ms; passes ${passes.map(([o, n]) => `${o} ${n}`).join(', ')}`,
  );
  const act = (p: string) => hist(a, b, 'pcpflow_action_phase_seconds', `{phase="${p}"}`);
  const actions = act('pcp').count;
  const qwait = hist(a, b, 'pcpflow_action_queue_wait_seconds');
  const pcpTotal = [...b.pcp.keys()].map((k) => [k, delta(a.pcp, b.pcp, k)] as const).filter(([, n]) => n > 0);
  lines.push(
    `  executor: ${actions} attempts; per attempt audit ${((act('audit').meanMs * act('audit').count) / Math.max(1, actions)).toFixed(2)} ms (the started record; a failed attempt's result too), PCP ${act('pcp').meanMs.toFixed(2)} ms, ` +
      `finish ${act('finish').meanMs.toFixed(2)} ms (result record, final result and outcome event: one script); ` +
      `queue wait mean ${qwait.meanMs.toFixed(0)} ms`,
  );
  lines.push(
    `  PCP per action: ${pcpTotal.map(([k, n]) => `${PCP_NAMES[k] ?? k} ${(n / Math.max(1, actions)).toFixed(2)}`).join(', ')}; ` +
      `connections opened ${((b.pcpConnections - a.pcpConnections) / Math.max(1, actions)).toFixed(2)}`,
  );
  return lines;
}
