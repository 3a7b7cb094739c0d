import type { ClusterConfig } from '../../contracts/config.ts';
import { callBudgetMs, createPcpOps } from '../../pcp/index.ts';
import { run } from '../exec.ts';
import type { LabHandle } from '../lab.ts';
import { isAttached } from '../../contracts/pgpool-node.ts';

/** One row of what one pgpool shows for a backend, from PCP node info and from SHOW pool_nodes. */
export interface ViewRow {
  /** The pgpool (role in the lab: pgpool, pgpool1, ...) this row was read from. */
  pgpool: string;
  node: string;
  address: string;
  pcpStatus: string;
  pcpRole: string;
  sqlStatus: string;
  sqlRole: string;
}

/** What a drill step expects of each lab node: attached ('up') or not ('down'), and its role. */
export interface Expectation {
  [nodeName: string]: { status: 'up' | 'down'; role?: 'primary' | 'standby' };
}

/** PCP to one pgpool only, so a drill sees that pgpool's own copy of the backend table. */
function onlyEndpoint(cluster: ClusterConfig, host: string, port: number): ClusterConfig {
  return { ...cluster, pcp: { ...cluster.pcp, endpoints: cluster.pcp.endpoints.filter((e) => e.host === host && e.port === port) } };
}

/**
 * Reads every running pgpool's view twice: over PCP (what pcpflow acts on) and over SQL
 * (`SHOW pool_nodes`, what clients are balanced by). A drill step passes only when every pgpool
 * that is not out (killed or frozen by the drill) agrees with the expectation both ways.
 */
export async function readView(lab: LabHandle, cluster: ClusterConfig, opts: { out?: ReadonlySet<string> } = {}): Promise<ViewRow[]> {
  const pgpools = lab.pgpools.filter((p) => !opts.out?.has(p.role));
  const per = await Promise.all(
    pgpools.map(async (p) => {
      const [{ nodes }, sql] = await Promise.all([
        createPcpOps(onlyEndpoint(cluster, p.host, p.pcpPort)).nodes({ deadlineMs: callBudgetMs(cluster) }),
        // pgpool refuses new sessions while a backend it believes up is dead (health checks off):
        // then SHOW pool_nodes is unavailable, which is itself an observation.
        run(['psql', '-h', p.host, '-p', String(p.port), '-U', 'postgres', '-d', 'postgres', '-X', '-At', '-F', '|', '-c', 'SHOW pool_nodes'], {
          as: null,
          timeoutMs: 10_000,
          env: { PGCONNECT_TIMEOUT: '5' },
        }).catch(() => ({ stdout: '' })),
      ]);
      const sqlRows = sql.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('|'));
      return lab.nodes.map((n): ViewRow => {
        const pcp = nodes.find((x) => x.host === n.address && x.port === n.port);
        const row = sqlRows.find((r) => r[1] === n.address && Number(r[2]) === n.port);
        return {
          pgpool: p.role,
          node: n.name,
          address: `${n.address}:${n.port}`,
          pcpStatus: pcp?.status ?? '?',
          pcpRole: pcp?.role ?? '?',
          sqlStatus: row?.[3] ?? 'n/a',
          sqlRole: row?.[6] ?? 'n/a',
        };
      });
    }),
  );
  return per.flat();
}


/** Differences between the view and the expectation, one sentence each; empty when it matches. */
export function mismatches(view: readonly ViewRow[], expected: Expectation, opts: { sqlUnavailable?: boolean } = {}): string[] {
  const out: string[] = [];
  const pgpools = [...new Set(view.map((r) => r.pgpool))];
  const several = pgpools.length > 1;
  for (const pgpool of pgpools) {
    const rows = view.filter((r) => r.pgpool === pgpool);
    const who = several ? `${pgpool}: ` : '';
    const sqlAnswered = rows.some((r) => r.sqlStatus !== 'n/a');
    if (opts.sqlUnavailable) {
      if (sqlAnswered) out.push(`${who}SHOW pool_nodes answered, but pgpool should refuse sessions while it believes the dead primary is up`);
    } else if (!sqlAnswered) out.push(`${who}SHOW pool_nodes did not answer through pgpool`);
    for (const row of rows) {
      const want = expected[row.node];
      if (!want) continue;
      const pcpUp = isAttached(row.pcpStatus);
      const sqlUp = row.sqlStatus === 'up';
      if (pcpUp !== (want.status === 'up')) out.push(`${who}${row.node} ${row.address}: PCP status ${row.pcpStatus}, expected ${want.status}`);
      if (sqlAnswered && sqlUp !== (want.status === 'up')) out.push(`${who}${row.node} ${row.address}: SHOW pool_nodes status ${row.sqlStatus}, expected ${want.status}`);
      if (want.role && row.pcpRole !== want.role) out.push(`${who}${row.node} ${row.address}: PCP role ${row.pcpRole}, expected ${want.role}`);
      if (sqlAnswered && want.role && row.sqlRole !== want.role) out.push(`${who}${row.node} ${row.address}: SHOW pool_nodes role ${row.sqlRole}, expected ${want.role}`);
    }
  }
  return out;
}

export function formatView(view: readonly ViewRow[]): string {
  const several = new Set(view.map((r) => r.pgpool)).size > 1;
  const p = (r: ViewRow | null): string => (several ? `${(r ? r.pgpool : 'pgpool').padEnd(8)} ` : '');
  const head = `  ${p(null)}${'node'.padEnd(5)} ${'address'.padEnd(18)} ${'pcp status/role'.padEnd(18)} SHOW pool_nodes`;
  return [head, ...view.map((r) => `  ${p(r)}${r.node.padEnd(5)} ${r.address.padEnd(18)} ${`${r.pcpStatus}/${r.pcpRole}`.padEnd(18)} ${r.sqlStatus}/${r.sqlRole}`)].join('\n');
}
