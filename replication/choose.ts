import type { ClusterConfig } from '../contracts/config.ts';
import type { PcpOps } from '../pcp/index.ts';
import { readSecret } from '../runtime/config.ts';
import { PgpoolStreamSource, pgpoolSourceGap } from './pgpool-source.ts';
import { PostgresStreamSource } from './postgres-source.ts';
import type { StreamSource } from './source.ts';

/** The stream check a cluster uses, or why it has none; `off` is the configured opt-out. */
export type StreamCheckChoice =
  | { kind: 'source'; source: StreamSource; note: string }
  | { kind: 'off'; note: string }
  /** transient: pgpool could not be asked; asking again later may find a source. */
  | { kind: 'unavailable'; note: string; transient?: boolean };

function postgresSource(cluster: ClusterConfig): StreamSource | null {
  const pg = cluster.streamCheck.postgres;
  if (!pg) return null;
  return new PostgresStreamSource(pg, pg.password ? readSecret(pg.password) : undefined);
}

/**
 * Picks the source per the config. `auto`: PostgreSQL when `streamCheck.postgres` is configured
 * (it answers within one poll), else pgpool's replication state when its sr_check is configured
 * for every backend (pgpool is asked for its parameters with pcp_pool_status), else none: the
 * caller says so and standbys then stay out after a promotion.
 */
export async function chooseStreamSource(cluster: ClusterConfig, pcp: PcpOps, signal?: AbortSignal): Promise<StreamCheckChoice> {
  const mode = cluster.streamCheck.source;
  const name = cluster.name;
  switch (mode) {
    case 'off':
      return {
        kind: 'off',
        note: `cluster ${name}: streamCheck.source is off: standbys are attached after a promotion without checking that they follow the new primary (stale reads possible)`,
      };
    case 'postgres': {
      const s = postgresSource(cluster);
      return s
        ? { kind: 'source', source: s, note: `cluster ${name}: standbys are attached after a promotion once PostgreSQL shows them streaming from the new primary` }
        : { kind: 'unavailable', note: `cluster ${name}: streamCheck.source is postgres but streamCheck.postgres is not configured` };
    }
    case 'pgpool':
    case 'auto': {
      // PostgreSQL answers within one poll; pgpool's sr_check only once per sr_check_period (≥ 1 s).
      const exact = mode === 'auto' ? postgresSource(cluster) : null;
      if (exact)
        return { kind: 'source', source: exact, note: `cluster ${name}: standbys are attached after a promotion once PostgreSQL shows them streaming from the new primary` };
      let gap: string | null;
      let transient = false;
      let periodMs = 1_000;
      try {
        const params = await pcp.poolParams({ signal });
        gap = pgpoolSourceGap(params, cluster.backends.length);
        periodMs = Math.max(1, Number(params.get('sr_check_period') ?? '1')) * 1_000;
      } catch (err) {
        gap = `pgpool could not be asked for its sr_check settings (${err instanceof Error ? err.message : String(err)})`;
        transient = true;
      }
      if (gap === null || mode === 'pgpool')
        return {
          kind: 'source',
          source: new PgpoolStreamSource(cluster, pcp, periodMs),
          note: `cluster ${name}: standbys are attached after a promotion once pgpool's sr_check shows them streaming from the new primary${gap ? ` (warning: ${gap})` : ''}`,
        };
      return {
        kind: 'unavailable',
        transient,
        note:
          `cluster ${name}: no way to check that a standby follows the new primary: ${gap}, and streamCheck.postgres is not configured. ` +
          'After a promotion the other standbys stay out of pgpool (attention) until this is fixed: configure sr_check in pgpool, or streamCheck.postgres, or set streamCheck.source: off to attach without the check',
      };
    }
  }
}
