import { formatAddress } from '../contracts/address.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import type { PcpNode } from '../pcp/index.ts';

/** The pgpool node a configured backend stands for: its pinned nodeId, else host and port. */
export function nodeForBackend(b: ClusterConfig['backends'][number], nodes: readonly PcpNode[]): PcpNode | undefined {
  return nodes.find((n) => (b.nodeId !== undefined ? n.id === b.nodeId : n.host === b.address && n.port === b.port));
}

/**
 * Backends pcpflow's config and pgpool's backend list do not share, one sentence each. A backend
 * only pcpflow knows can never be attached or detached; a node only pgpool knows is balanced to
 * without pcpflow ever acting on it. Both are config mistakes a DBA must hear about, not states.
 */
export function backendListMismatches(cluster: ClusterConfig, nodes: readonly PcpNode[]): string[] {
  const out: string[] = [];
  const matched = new Set<number>();
  for (const b of cluster.backends) {
    const n = nodeForBackend(b, nodes);
    const text = formatAddress({ host: b.address, port: b.port });
    if (n) matched.add(n.id);
    else
      out.push(
        `${text} is in pcpflow's config but not in pgpool's backend list${b.nodeId !== undefined ? ` (pinned nodeId ${b.nodeId})` : ''}: pcpflow cannot attach or detach it; fix backend_hostnameN/backend_portN in pgpool.conf or the pcpflow config`,
      );
  }
  for (const n of nodes) {
    if (matched.has(n.id) || n.status === 'unused' || n.host === '') continue;
    out.push(
      `pgpool's node ${n.id} (${formatAddress({ host: n.host, port: n.port })}) is not in pcpflow's config: pgpool balances to it but pcpflow never acts on it; add it to clusters[].backends (pin nodeId if pgpool names the host differently)`,
    );
  }
  return out;
}
