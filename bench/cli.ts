import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startWorker } from '../lab/drills/fleet-processes.ts';
import { labDown, labUp, type LabHandle } from '../lab/index.ts';
import { packageRoot } from '../runtime/package-root.ts';
import { labId } from '../testkit/lab.ts';
import { freePort } from '../testkit/redis.ts';
import { fmtMs, median } from './stats.ts';

const run = promisify(execFile);

/**
 * The operator CLI as shipped (issue 14): each command started as a DBA or a timer starts it,
 * spawn to exit, timed in interleaved rounds against a bare `node -e ''` start in the same
 * run; `pcp check-primary` also against the seed's pgpool_backend.sh check. Then the worker's
 * RSS with the lab's one cluster, idle.
 *
 * The seed (/work/shared/seed) holds pgpool_backend.sh only as text in the architecture
 * document, with its shell syntax mangled by the conversion (missing then/fi/do/done, spaces in
 * variable names), so it cannot be run from there. The baseline is the process sequence its
 * is_host_is_primary_pgpool_node function runs, written here for bash: pcp_node_count, then per
 * node pcp_node_info and three `echo | awk` field extractions, until the host matches.
 */
const LAB = 12;
const CLI = join(packageRoot(), 'bin', 'pcpflow.js');

const SEED_CHECK = `#!/bin/bash
# pgpool_backend.sh's check, as a process sequence (see bench/cli.ts): exit 1 primary, 0 standby, 255 none
node_count=$(pcp_node_count -U "$PCP_USER" -h "$PCP_HOST" -p "$PCP_PORT" -w)
i=0
while [ $i -lt $node_count ]; do
  nodeinfo=$(pcp_node_info -U "$PCP_USER" -h "$PCP_HOST" -p "$PCP_PORT" -w -n $i)
  hostname=$(echo $nodeinfo | awk -v N=1 '{print $N}')
  port=$(echo $nodeinfo | awk -v N=2 '{print $N}')
  role=$(echo $nodeinfo | awk -v N=7 '{print $N}')
  if [ "$hostname" == "$1" ] && { [ -z "$2" ] || [ "$port" -eq "$2" ]; }; then
    if [ "$role" == "primary" ]; then exit 1; else exit 0; fi
  fi
  i=$((i+1))
done
exit 255
`;

interface Row {
  label: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /** exit codes that mean the command did its job */
  ok: number[];
  goal?: number;
}

async function timeOnce(r: Row): Promise<number> {
  const [cmd = '', ...args] = r.argv;
  const t0 = performance.now();
  let code = 0;
  try {
    await run(cmd, args, { env: { ...process.env, ...r.env } });
  } catch (err) {
    code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
  }
  const ms = performance.now() - t0;
  if (!r.ok.includes(code)) throw new Error(`${r.label}: exit ${code}`);
  return ms;
}

function vmRssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function benchCli(opts: { rounds?: number } = {}): Promise<void> {
  const rounds = opts.rounds ?? Number(process.env.BENCH_ROUNDS ?? 15);
  const id = labId(LAB);
  const lab: LabHandle = await labUp({ id, dir: join(process.env.TMPDIR ?? '/tmp', `pcpflow-bench-lab-${id}`) });
  const primary = lab.nodes[0];
  if (!primary) throw new Error('lab has no nodes');
  const seed = join(lab.dir, 'seed-check.sh');
  writeFileSync(seed, SEED_CHECK, { mode: 0o755 });
  const worker = await startWorker({ configPath: lab.configPath, httpPort: await freePort(), logFile: join(lab.dir, 'log', 'bench-cli-worker.log') });
  try {
    const node = process.execPath;
    const cfg = ['--config', lab.configPath];
    const rows: Row[] = [
      { label: "node -e ''", argv: [node, '-e', ''], ok: [0] },
      { label: 'pcpflow --help', argv: [node, CLI, '--help'], ok: [0], goal: 1.5 },
      { label: `pcpflow pcp check-primary ${primary.address}`, argv: [node, CLI, 'pcp', 'check-primary', primary.address, ...cfg], ok: [0], goal: 2.0 },
      {
        label: "seed's pgpool_backend.sh check (bash + pcp_*)",
        argv: ['bash', seed, primary.address],
        env: { PATH: `/usr/sbin:${process.env.PATH ?? ''}`, PCP_USER: lab.pcp.user, PCP_HOST: lab.pcp.host, PCP_PORT: String(lab.pcp.port), PCPPASSFILE: lab.pcp.passfile },
        ok: [1],
      },
      { label: 'pcpflow status', argv: [node, CLI, 'status', ...cfg], ok: [0], goal: 3.0 },
      { label: 'pcpflow outbox flush (nothing spooled)', argv: [node, CLI, 'outbox', 'flush', ...cfg], ok: [0], goal: 2.0 },
      // Where the time goes: node plus one library the commands load (no goal; see the README).
      ...['commander', 'zod', 'ioredis', 'xstate', 'pino'].map((p): Row => ({ label: `  node + require('${p}')`, argv: [node, '-e', `require(${JSON.stringify(p)})`], ok: [0] })),
    ];
    const times = rows.map(() => [] as number[]);
    process.chdir(packageRoot()); // the library rows resolve from pcpflow's node_modules
    for (const r of rows) await timeOnce(r); // warm the page cache; not counted
    for (let i = 0; i < rounds; i++) for (const [j, r] of rows.entries()) times[j]?.push(await timeOnce(r));
    const med = times.map((t) => median(t));
    const base = med[0] ?? NaN;
    const seedMs = med[3] ?? NaN;
    console.log(`\n== CLI as shipped (built JavaScript, plain node), spawn to exit, median of ${rounds} interleaved rounds`);
    for (const [j, r] of rows.entries()) {
      const m = med[j] ?? NaN;
      const ratio = m / base;
      const goal = r.goal === undefined ? '' : `goal ≤ ${r.goal.toFixed(1)}× ${ratio <= r.goal ? 'met' : 'NOT met'}`;
      console.log(`${r.label.padEnd(52)} ${fmtMs(m).padStart(9)}  ${j === 0 ? 'baseline' : `${ratio.toFixed(2)}× node`}  ${goal}`);
    }
    const check = med[2] ?? NaN;
    console.log(`check-primary vs the seed's check: ${(check / seedMs).toFixed(2)}× (goal ≤ 3× ${check / seedMs <= 3 ? 'met' : 'NOT met'})`);

    // Idle: the reconciler has run a few passes (every 5 s) since the worker became ready.
    await new Promise((r) => setTimeout(r, 10_000));
    const rss = vmRssMb(worker.pid);
    console.log(`worker RSS, one cluster, idle: ${rss.toFixed(0)} MB (goal ≤ 100 MB ${rss <= 100 ? 'met' : 'NOT met'})`);
  } finally {
    await worker.stop();
    await labDown(lab.dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchCli();
