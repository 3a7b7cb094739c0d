import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import type { LabOptions } from '../../lab/index.ts';
import { SCENARIOS } from '../../lab/drills/scenarios.ts';
import { action } from '../run.ts';

// The lab code (and what it pulls in: Redis, the workers) loads when a lab command runs.
const labCode = () => import('../../lab/index.ts');
/** Named here so --help does not load the watchdog drills (and the PCP client) they come from. */
const WATCHDOG_SCENARIO_NAMES = ['pgpool-frozen', 'pgpool-leader-loss', 'pgpool-rejoin'];

/** `pcpflow lab up|down|status|env|drill`: a real cluster on loopback for demos, drills and tests. */

interface LabFlags {
  id?: string;
  dir?: string;
  name?: string;
  pgpoolHost?: string;
  pgpoolPort?: string;
  pcpPort?: string;
  pgHosts?: string;
  pgPort?: string;
  redisHost?: string;
  redisPort?: string;
  followPrimaryCommand?: string;
  pgBin?: string;
  pgpools?: string;
}

function int(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value)) throw new InvalidInputError(`--${flag} must be a whole number, got "${value.slice(0, 20)}"`);
  return Number(value);
}

function optionsFrom(f: LabFlags): LabOptions {
  const o: LabOptions = {};
  const id = int('id', f.id);
  if (id !== undefined) o.id = id;
  if (f.dir !== undefined) o.dir = f.dir;
  if (f.name !== undefined) o.name = f.name;
  if (f.pgpoolHost !== undefined) o.pgpoolHost = f.pgpoolHost;
  if (f.pgHosts !== undefined) o.pgHosts = f.pgHosts.split(',').map((h) => h.trim());
  if (f.redisHost !== undefined) o.redisHost = f.redisHost;
  if (f.followPrimaryCommand !== undefined) o.followPrimaryCommand = f.followPrimaryCommand;
  if (f.pgBin !== undefined) o.pgBinDir = f.pgBin;
  for (const [key, flag] of [
    ['pgpoolPort', 'pgpool-port'],
    ['pcpPort', 'pcp-port'],
    ['pgPort', 'pg-port'],
    ['redisPort', 'redis-port'],
    ['pgpools', 'pgpools'],
  ] as const) {
    const v = int(flag, f[key]);
    if (v !== undefined) o[key] = v;
  }
  return o;
}

async function dirOf(f: LabFlags): Promise<string> {
  return f.dir ?? (await labCode()).defaultLabDir(int('id', f.id) ?? 0);
}

/** Single-quoted for sh, so a lab dir with spaces still evals correctly. */
const sh = (v: string) => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

const print = (line: string) => process.stdout.write(`${line}\n`);

function where(cmd: Command): Command {
  return cmd
    .option('--id <n>', 'lab id 0..250: addresses become 127.0.<id>.x (0 is the demo lab)', '0')
    .option('--dir <path>', 'lab directory (default: $TMPDIR/pcpflow-lab-<id>)');
}

export function register(program: Command): void {
  const lab = program
    .command('lab')
    .description('a real local cluster on loopback: PostgreSQL primary + 2 standbys, pgpool-II, Redis (up|down|status|env|drill)');

  where(lab.command('up'))
    .description('start the lab (idempotent: a running lab is left as is, a half-started one is rebuilt); writes a pcpflow config')
    .option('--name <name>', 'lab name (default: lab, or lab-<id>)')
    .option('--pgpool-host <addr>', 'pgpool address (default 127.0.<id>.10)')
    .option('--pgpool-port <port>', 'pgpool SQL port', '9999')
    .option('--pcp-port <port>', 'pgpool PCP port', '9898')
    .option('--pgpools <n>', 'pgpool instances: 1, or 2-5 joined by the watchdog (each on its own address, no virtual IP)', '1')
    .option('--pg-hosts <a,b,c>', 'PostgreSQL node addresses, primary first (default 127.0.<id>.11,.12,.13)')
    .option('--pg-port <port>', 'PostgreSQL port on every node', '5432')
    .option('--redis-host <addr>', 'Redis address (default: the pgpool address)')
    .option('--redis-port <port>', 'Redis port', '6380')
    .option('--follow-primary-command <cmd>', "pgpool's follow_primary_command (default: none)")
    .option('--pg-bin <dir>', 'PostgreSQL binaries (default: newest /usr/lib/postgresql/*/bin)')
    .action(
      action(async (f: LabFlags) => {
        const h = await (await labCode()).labUp(optionsFrom(f), print);
        for (const p of h.pgpools) print(`${p.role.padEnd(7)} ${p.host}:${p.port}   PCP ${p.host}:${p.pcpPort} (user ${h.pcp.user}, passfile ${h.pcp.passfile})`);
        print(`redis   ${h.redisUrl}`);
        for (const n of h.nodes) print(`${n.name.padEnd(7)} ${n.address}:${n.port}  ${n.dataDir}`);
        print(`config  ${h.configPath}`);
        print(`next    eval "$(pcpflow lab env${f.id && f.id !== '0' ? ` --id ${f.id}` : ''}${f.dir ? ` --dir ${f.dir}` : ''})"`);
        return 0;
      }),
    );

  where(lab.command('down'))
    .description('stop every process the lab started (by pid) and remove its directory')
    .action(
      action(async (f: LabFlags) => {
        await (await labCode()).labDown(await dirOf(f), print);
        return 0;
      }),
    );

  where(lab.command('status'))
    .description("the lab's processes and pgpool's node table (SHOW pool_nodes); exit 1 when something is not running")
    .action(
      action(async (f: LabFlags) => {
        const s = await (await labCode()).labStatus(await dirOf(f));
        print(`lab ${s.plan.name} in ${s.plan.dir}: ${s.phase}`);
        for (const p of s.processes) print(`  ${p.role.padEnd(7)} ${p.kind.padEnd(8)} pid ${String(p.pid).padEnd(8)} ${p.running ? 'running' : 'NOT RUNNING'}`);
        if (typeof s.poolNodes === 'string') print(s.poolNodes.trimEnd());
        else print(`SHOW pool_nodes failed: ${s.poolNodes.error}`);
        if (s.watchdog.length) {
          print('watchdog (as each pgpool sees it):');
          for (const l of s.watchdogLines) print(l);
        }
        const ok = s.phase === 'up' && s.processes.every((p) => p.running) && typeof s.poolNodes === 'string';
        return ok ? 0 : 1;
      }),
    );

  where(lab.command('env'))
    .description('print shell exports pointing pcpflow at the lab: eval "$(pcpflow lab env)"')
    .action(
      action(async (f: LabFlags) => {
        const [{ openLab }, { LAB_CLUSTER }] = await Promise.all([labCode(), import('../../lab/pcpflow-config.ts')]);
        const h = openLab(await dirOf(f));
        print(`export PCPFLOW_CONFIG=${sh(h.configPath)}`);
        print(`export PCPFLOW_CLUSTER=${LAB_CLUSTER}`);
        return 0;
      }),
    );

  where(lab.command('drill'))
    .description(`run the EDB architecture's failover scenarios for real on a running lab, with workers: ${[...SCENARIOS.map((x) => x.name), ...WATCHDOG_SCENARIO_NAMES].join(', ')}, or all (the ones for the lab's shape: pgpool-* on a --pgpools 3 lab)`)
    .argument('[scenario...]', 'scenario names, or all', ['all'])
    .option('--workers <n>', 'pcpflow worker processes to run during the drill', '2')
    .action(
      action(async (names: string[], f: LabFlags & { workers: string }) => {
        const [{ openLab }, { runDrill, selectScenarios }] = await Promise.all([labCode(), import('../../lab/drills/index.ts')]);
        const workers = int('workers', f.workers) ?? 2;
        const h = openLab(await dirOf(f));
        const scenarios = selectScenarios(names, h.pgpools.length);
        const results = await runDrill(h, scenarios, { workers, say: print });
        const failed = results.filter((r) => !r.ok);
        const total = results.reduce((t, r) => t + r.ms, 0);
        print(`drill: ${results.length - failed.length}/${results.length} steps matched pgpool's expected table in ${(total / 1000).toFixed(1)} s`);
        return failed.length === 0 && results.length > 0 ? 0 : 1;
      }),
    );
}
