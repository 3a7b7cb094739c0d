import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.ts';
import { run, serviceUser } from './exec.ts';
import { bin, type LabPlan, type NodePlan } from './options.ts';
import { pollUntil } from './wait.ts';

/**
 * One PostgreSQL node of the lab: create, clone, configure, start, stop, query. Settings shared by
 * every node live in postgresql.conf (copied by pg_basebackup and pg_rewind); what differs per node
 * (address, socket dir, cluster_name) lives in node.conf, rewritten after every copy because both
 * tools overwrite it with the source's.
 */

const SHARED_CONF = `
# --- pcpflow lab ---
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 128MB
# pg_rewind needs hint bits in WAL when checksums are off.
wal_log_hints = on
hot_standby = on
max_connections = 60
shared_buffers = 16MB
# A lab trades durability for speed; crashes in drills are immediate shutdowns, not power cuts.
fsync = off
full_page_writes = on
logging_collector = off
log_line_prefix = '%m [%p] %q%a '
include = 'node.conf'
`;

const HBA = `# pcpflow lab: trust on loopback only (pgpool, replication, psql from the lab tools)
local all all trust
local replication all trust
host all all 127.0.0.0/8 trust
host replication all 127.0.0.0/8 trust
`;

export function writeNodeConf(node: NodePlan): void {
  mkdirSync(node.socketDir, { recursive: true });
  // cluster_name doubles as the walreceiver's application_name, which pgpool's
  // backend_application_name matches to report the replication state.
  const text =
    `# written by pcpflow lab for ${node.name}; rewritten after pg_basebackup and pg_rewind\n` +
    `listen_addresses = '${node.address}'\n` +
    `port = ${node.port}\n` +
    `unix_socket_directories = '${node.socketDir}'\n` +
    `cluster_name = '${node.name}'\n`;
  writeFileSync(join(node.dataDir, 'node.conf'), text, { mode: 0o600 });
}

async function chownToService(path: string): Promise<void> {
  const user = await serviceUser();
  if (user) await run(['chown', '-R', `${user.uid}:${user.gid}`, path], { as: null });
}

export async function initPrimary(plan: LabPlan, node: NodePlan): Promise<void> {
  await run([bin(plan.pgBinDir, 'initdb'), '-D', node.dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    cwd: plan.dir,
    timeoutMs: plan.stepTimeoutMs,
  });
  const confPath = join(node.dataDir, 'postgresql.conf');
  writeFileSync(confPath, readFileSync(confPath, 'utf8') + SHARED_CONF);
  writeFileSync(join(node.dataDir, 'pg_hba.conf'), HBA);
  writeNodeConf(node);
  await chownToService(node.dataDir);
  await chownToService(node.socketDir);
}

/** A fresh standby of `source`: pg_basebackup -R writes standby.signal and primary_conninfo. */
export async function cloneStandby(plan: LabPlan, node: NodePlan, source: NodePlan): Promise<void> {
  rmSync(node.dataDir, { recursive: true, force: true });
  await run(
    [
      bin(plan.pgBinDir, 'pg_basebackup'),
      '-h', source.address, '-p', String(source.port), '-U', 'postgres',
      '-D', node.dataDir, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync',
    ],
    { cwd: plan.dir, timeoutMs: plan.stepTimeoutMs },
  );
  writeNodeConf(node);
  await chownToService(node.dataDir);
  await chownToService(node.socketDir);
}

/** pg_ctl start -w; returns the postmaster's pid from postmaster.pid. */
export async function startPostgres(plan: LabPlan, node: NodePlan): Promise<number> {
  await run([bin(plan.pgBinDir, 'pg_ctl'), 'start', '-w', '-t', String(Math.ceil(plan.stepTimeoutMs / 1000)), '-D', node.dataDir, '-l', node.logFile], {
    cwd: plan.dir,
    timeoutMs: plan.stepTimeoutMs + 5_000,
  }).catch((err: unknown) => {
    throw new LabError(`${node.name} (${node.address}:${node.port}) did not start; see ${node.logFile}`, { cause: err });
  });
  const pid = postmasterPid(node);
  if (pid === undefined) throw new LabError(`${node.name} started but ${node.dataDir}/postmaster.pid has no pid`);
  return pid;
}

export function postmasterPid(node: NodePlan): number | undefined {
  try {
    const first = readFileSync(join(node.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
    const pid = Number(first);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function stopPostgres(plan: LabPlan, node: NodePlan, mode: 'fast' | 'immediate'): Promise<void> {
  if (postmasterPid(node) === undefined) return;
  await run([bin(plan.pgBinDir, 'pg_ctl'), 'stop', '-w', '-m', mode, '-D', node.dataDir], {
    cwd: plan.dir,
    timeoutMs: plan.stepTimeoutMs,
  });
}

/** One SQL statement over TCP as postgres (trust on loopback); unaligned, tuples only. */
export async function sql(node: Pick<NodePlan, 'address' | 'port'>, statement: string, timeoutMs = 10_000): Promise<string> {
  const { stdout } = await run(
    ['psql', '-h', node.address, '-p', String(node.port), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', statement],
    { as: null, timeoutMs, env: { PGCONNECT_TIMEOUT: '3' } },
  );
  return stdout.trim();
}

export async function waitAcceptingSql(plan: LabPlan, node: NodePlan): Promise<void> {
  await pollUntil(`${node.name} to accept SQL on ${node.address}:${node.port}`, async () => ((await sql(node, 'select 1')) === '1' ? true : undefined), {
    timeoutMs: plan.stepTimeoutMs,
    logHint: node.logFile,
  });
}
