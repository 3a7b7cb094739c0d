import type { ClusterConfig } from '../contracts/config.ts';
import { createPcpOps, type PcpNode } from './index.ts';
import { endpointsOf } from './endpoints.ts';

export interface EndpointHealth {
  endpoint: string;
  reachable: boolean;
  /** Why it could not be asked (connect refused, timeout, authentication): the DBA's first clue. */
  error: string | null;
  nodes: PcpNode[] | null;
}

/**
 * Asks every configured PCP endpoint on its own (not the first that answers, as actions do), so
 * status and metrics show a pgpool that is down behind a watchdog VIP that still answers.
 * One short connection per endpoint, bounded by the cluster's connect and read timeouts.
 */
export async function probeEndpoints(cluster: ClusterConfig): Promise<EndpointHealth[]> {
  const names = endpointsOf(cluster);
  return Promise.all(
    cluster.pcp.endpoints.map(async (ep, i) => {
      const endpoint = names[i]?.name ?? `${ep.host}:${ep.port}`;
      const single: ClusterConfig = { ...cluster, pcp: { ...cluster.pcp, endpoints: [ep] } };
      try {
        const { nodes } = await createPcpOps(single).nodes({ signal: AbortSignal.timeout(cluster.timeouts.connectMs + cluster.timeouts.readMs) });
        return { endpoint, reachable: true, error: null, nodes };
      } catch (err) {
        return { endpoint, reachable: false, error: err instanceof Error ? err.message : String(err), nodes: null };
      }
    }),
  );
}
