import type { ClusterConfig } from '../contracts/config.ts';
import { formatAddress, parseAddress } from '../contracts/address-syntax.ts';
import type { PcpDriver } from './driver.ts';
import type { NodeInfo } from './node-info.ts';
import { callBudgetMs } from './deadline.ts';
import { PcpAmbiguousAddressError, PcpInvalidRequestError, PcpUnknownAddressError } from './errors/index.ts';

/**
 * Backend address (canonical `host` or `host:port`) → pgpool node id, from structured node info,
 * never from text output:
 *  1. a config backend with a pinned nodeId wins (pgpool's backend_hostnameN may differ from what
 *     EFM reports, e.g. a DNS name against an IP);
 *  2. else the node whose host (and port, when given) equals the address;
 *  3. a bare host matching several nodes is narrowed by the config backend's port for that host.
 */
export function resolveNodeId(cluster: ClusterConfig, addressText: string, nodes: readonly NodeInfo[]): number {
  const addr = parseAddress(addressText);
  if (!addr) throw new PcpInvalidRequestError(`"${addressText.slice(0, 80)}" is not host or host:port`);
  const canonical = formatAddress(addr);
  const sameHost = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

  const configured = cluster.backends.filter((b) => sameHost(b.address, addr.host) && (addr.port === undefined || b.port === addr.port));
  const pinned = configured.filter((b) => b.nodeId !== undefined);
  if (pinned.length === 1 && pinned[0]?.nodeId !== undefined) {
    const id = pinned[0].nodeId;
    if (!nodes.some((n) => n.id === id))
      throw new PcpUnknownAddressError(canonical, known(nodes), { cause: new Error(`pinned nodeId ${id} is not among pgpool's ${nodes.length} nodes`) });
    return id;
  }

  const live = nodes.filter((n) => n.status !== 'unused' && n.host !== '');
  let matches = live.filter((n) => sameHost(n.host, addr.host) && (addr.port === undefined || n.port === addr.port));
  if (matches.length > 1 && addr.port === undefined && configured.length === 1 && configured[0]) {
    const port = configured[0].port;
    matches = matches.filter((n) => n.port === port);
  }
  const only = matches[0];
  if (matches.length === 1 && only) return only.id;
  if (matches.length === 0) throw new PcpUnknownAddressError(canonical, known(nodes));
  throw new PcpAmbiguousAddressError(canonical, matches.map((n) => n.id));
}

function known(nodes: readonly NodeInfo[]): string[] {
  return nodes.filter((n) => n.host !== '').map((n) => `${n.id}=${formatAddress({ host: n.host, port: n.port })}`);
}

/** pgpool's node for a backend address, asked of the first pgpool that answers. */
export async function findNode(cluster: ClusterConfig, driver: PcpDriver, address: string): Promise<{ nodeId: number; node: NodeInfo; endpoint: string }> {
  const a = await driver.nodes({ deadlineMs: callBudgetMs(cluster) });
  const nodeId = resolveNodeId(cluster, address, a.value.nodes);
  const node = a.value.nodes.find((n) => n.id === nodeId);
  if (!node) throw new PcpUnknownAddressError(address, []);
  return { nodeId, node, endpoint: a.endpoint };
}
