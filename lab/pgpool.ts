import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecret } from '../runtime/redact.ts';
import { LabError } from './errors.ts';
import { run, spawnDaemon } from './exec.ts';
import { bin, pgpoolsOf, type LabPlan, type PgpoolPlan } from './options.ts';
import { pollUntil } from './wait.ts';
import { isAttached } from '../contracts/pgpool-node.ts';

/**
 * pgpool-II for the lab, set up the way the EDB reference architecture runs it: streaming
 * replication mode, no health checks, no failover or failback command (EFM decides; pcpflow tells
 * pgpool over PCP), sr_check every second so replication state shows in node info.
 */

export const PCP_USER = 'pcpadmin';

/**
 * The watchdog section: every member listed with its pgpool, watchdog and heartbeat ports, no
 * virtual IP (a loopback VIP would need root and `ip addr` on every start and gains nothing on one
 * host: pcpflow lists every PCP endpoint instead), heartbeat lifecheck, and failover only with
 * quorum and consensus as the reference architecture runs it.
 */
function renderWatchdog(plan: LabPlan, me: PgpoolPlan): string {
  const all = pgpoolsOf(plan);
  if (all.length === 1) return 'use_watchdog = off\n';
  const members = all
    .map(
      (p) =>
        `hostname${p.index} = '${p.host}'\nwd_port${p.index} = ${p.wdPort}\npgpool_port${p.index} = ${p.port}\n` +
        `heartbeat_hostname${p.index} = '${p.host}'\nheartbeat_port${p.index} = ${p.heartbeatPort}\nheartbeat_device${p.index} = ''\n`,
    )
    .join('');
  return `use_watchdog = on
${members}delegate_ip = ''
wd_priority = ${all.length - me.index}
wd_lifecheck_method = 'heartbeat'
wd_interval = 1
wd_heartbeat_keepalive = 1
wd_heartbeat_deadtime = 5
wd_monitoring_interfaces_list = ''
failover_when_quorum_exists = on
failover_require_consensus = on
allow_multiple_failover_requests_from_node = off
enable_consensus_with_half_votes = on
wd_escalation_command = ''
wd_de_escalation_command = ''
`;
}

export function renderPgpoolConf(plan: LabPlan, me: PgpoolPlan = pgpoolsOf(plan)[0] as PgpoolPlan): string {
  const backends = plan.nodes
    .map(
      (n, i) =>
        `backend_hostname${i} = '${n.address}'\n` +
        `backend_port${i} = ${n.port}\n` +
        `backend_weight${i} = 1\n` +
        `backend_data_directory${i} = '${n.dataDir}'\n` +
        `backend_flag${i} = 'ALLOW_TO_FAILOVER'\n` +
        `backend_application_name${i} = '${n.name}'\n`,
    )
    .join('');
  return `# pgpool.conf written by pcpflow lab ${plan.name}
backend_clustering_mode = 'streaming_replication'
listen_addresses = '${me.host}'
port = ${me.port}
socket_dir = '${me.run}'
pcp_listen_addresses = '${me.host}'
pcp_port = ${me.pcpPort}
pcp_socket_dir = '${me.run}'
wd_ipc_socket_dir = '${me.run}'
pid_file_name = '${join(me.run, 'pgpool.pid')}'
logdir = '${me.logDir}'
log_destination = 'stderr'
log_line_prefix = '%m: %a pid %p: '
${backends}
enable_pool_hba = off
pool_passwd = ''
num_init_children = 8
max_pool = 2
load_balance_mode = on
sr_check_period = 1
sr_check_user = 'postgres'
sr_check_password = ''
sr_check_database = 'postgres'
health_check_period = 0
failover_command = ''
failback_command = ''
follow_primary_command = '${plan.followPrimaryCommand}'
failover_on_backend_error = off
search_primary_node_timeout = 3
${renderWatchdog(plan, me)}memory_cache_enabled = off
# Without this pgpool sizes a 64MB+ shared segment at start even with the cache off: ~1 s slower.
memqcache_total_size = 4MB
memqcache_oiddir = '${join(me.dir, 'oiddir')}'
`;
}

/**
 * pcp.conf (md5 of a fresh random password) and the matching .pcppass (0600, owned by the caller,
 * who runs PCP clients). The password itself never leaves these two files and this process.
 */
export function writePcpAuth(plan: LabPlan): void {
  const password = randomBytes(18).toString('base64url');
  registerSecret(password);
  const md5 = createHash('md5').update(password).digest('hex');
  writeFileSync(plan.paths.pcpConf, `${PCP_USER}:${md5}\n`, { mode: 0o600 });
  const lines = pgpoolsOf(plan).map((p) => `${p.host}:${p.pcpPort}:${PCP_USER}:${password}\n`);
  writeFileSync(plan.paths.pcppass, lines.join(''), { mode: 0o600 });
}

export function writePgpoolFiles(plan: LabPlan): void {
  const all = pgpoolsOf(plan);
  for (const p of all) {
    mkdirSync(join(p.dir, 'oiddir'), { recursive: true });
    mkdirSync(p.run, { recursive: true });
    writeFileSync(p.conf, renderPgpoolConf(plan, p), { mode: 0o644 });
    // 4.3 reads the watchdog node id from this file beside pgpool.conf.
    if (all.length > 1) writeFileSync(join(p.dir, 'pgpool_node_id'), `${p.index}\n`, { mode: 0o644 });
  }
  writeFileSync(plan.paths.poolHba, 'local all all trust\nhost all all 127.0.0.0/8 trust\n', { mode: 0o644 });
  writePcpAuth(plan);
}

/**
 * -n: stay in the foreground so the pid we get is pgpool's main process (in its own session and
 * process group, so killing the group is a host loss); -D: forget any pgpool_status left over, so
 * a lab starts with all backends up. `keepStatus` restarts a pgpool with the view it saved.
 */
export async function startPgpool(plan: LabPlan, me: PgpoolPlan = pgpoolsOf(plan)[0] as PgpoolPlan, opts: { keepStatus?: boolean } = {}): Promise<number> {
  return spawnDaemon(
    [bin(plan.pgpoolBinDir, 'pgpool'), '-n', ...(opts.keepStatus ? [] : ['-D']), '-f', me.conf, '-F', plan.paths.pcpConf, '-a', plan.paths.poolHba],
    me.log,
    { cwd: plan.dir },
  );
}

export interface PcpNodeLine {
  host: string;
  port: number;
  status: string;
  role: string;
  replicationState: string;
}

/** pcp_node_info -a through the binary; success is rc 0 AND empty stderr (pcp_* exit 0 on server errors). */
export async function pcpNodeInfo(plan: LabPlan, timeoutMs = 5_000, me: { host: string; pcpPort: number } = plan.pgpool): Promise<PcpNodeLine[]> {
  const { stdout, stderr } = await run(
    [bin(plan.pgpoolBinDir, 'pcp_node_info'), '-h', me.host, '-p', String(me.pcpPort), '-U', PCP_USER, '-w', '-a'],
    { as: null, timeoutMs, env: { PCPPASSFILE: plan.paths.pcppass } },
  );
  if (stderr.trim()) throw new LabError(`pcp_node_info: ${stderr.trim().split('\n')[0]}`);
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      return { host: f[0] ?? '', port: Number(f[1]), status: f[4] ?? '', role: f[6] ?? '', replicationState: f[9] ?? '' };
    });
}

/**
 * Ready = PCP answers and pgpool sees every backend attached, exactly one primary, and every
 * standby streaming (sr_check has run), so the first thing a test reads is a settled cluster.
 */
export async function waitPgpoolReady(plan: LabPlan, me: PgpoolPlan = pgpoolsOf(plan)[0] as PgpoolPlan): Promise<PcpNodeLine[]> {
  return pollUntil(
    `pgpool to answer PCP on ${me.host}:${me.pcpPort} with every backend up`,
    async () => {
      const lines = await pcpNodeInfo(plan, 5_000, me);
      const settled =
        lines.length === plan.nodes.length &&
        lines.every((l) => isAttached(l.status)) &&
        lines.filter((l) => l.role === 'primary').length === 1 &&
        lines.every((l) => l.role === 'primary' || l.replicationState === 'streaming');
      return settled ? lines : undefined;
    },
    { timeoutMs: plan.stepTimeoutMs, intervalMs: 50, logHint: me.log },
  );
}

/** SHOW pool_nodes through pgpool's SQL port, as psql prints it. */
export async function showPoolNodes(plan: LabPlan): Promise<string> {
  const { stdout } = await run(
    ['psql', '-h', plan.pgpool.host, '-p', String(plan.pgpool.port), '-U', 'postgres', '-d', 'postgres', '-X', '-c', 'SHOW pool_nodes'],
    { as: null, timeoutMs: 10_000, env: { PGCONNECT_TIMEOUT: '5' } },
  );
  return stdout;
}
