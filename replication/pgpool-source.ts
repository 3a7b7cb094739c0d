import type { ClusterConfig } from '../contracts/config.ts';
import { formatAddress, parseAddress } from '../contracts/address.ts';
import type { PcpNode, PcpOps } from '../pcp/index.ts';
import { type StreamProbe, type StreamSource, type StreamWatch } from './source.ts';
import { isAttached } from '../contracts/pgpool-node.ts';
import { StreamProbeError } from './errors.ts';

/** The pgpool node of a configured backend: its pinned nodeId, else its host and port. */
export function nodeOf(cluster: ClusterConfig, nodes: readonly PcpNode[], address: string): PcpNode | undefined {
  const a = parseAddress(address);
  if (!a) return undefined;
  const pinned = cluster.backends.find((b) => b.address === a.host && (a.port === undefined || b.port === a.port))?.nodeId;
  if (pinned !== undefined) return nodes.find((n) => n.id === pinned);
  return nodes.find((n) => n.host === a.host && (a.port === undefined || n.port === a.port));
}


/**
 * pgpool's sr_check copies `pg_stat_replication.state` of the primary it routes writes to into
 * each node's replication state (matched by backend_application_nameN), once per
 * sr_check_period. So "streaming" on the standby's node, while pgpool's primary is the expected
 * one, means it streams from that primary, but only once a check has run since: right after a
 * promote pgpool 4.3.5 still shows the state it copied from the old primary for up to a period
 * (seen in the lab: a standby following the dead primary shown `streaming` for ~1 s). A
 * "streaming" is therefore trusted only after the wait has seen the state change, or after two
 * periods with pgpool's primary already the expected one.
 */
export class PgpoolStreamSource implements StreamSource {
  readonly name = 'pgpool' as const;

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly pcp: PcpOps,
    private readonly srCheckPeriodMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  watch(standby: string, primary: string): StreamWatch {
    let primarySince: number | null = null;
    let sawOther = false;
    return {
      look: async (signal) => {
        const p = await this.probe(standby, primary, signal);
        if (!p.routed) {
          primarySince = null;
          return p;
        }
        primarySince ??= this.now();
        if (!p.streaming) {
          sawOther = true;
          return p;
        }
        const settled = this.now() - primarySince >= 2 * this.srCheckPeriodMs;
        if (sawOther || settled) return p;
        return { streaming: false, seen: `${p.seen}, not trusted yet: pgpool may still show the state it copied from the old primary until its next sr_check` };
      },
    };
  }

  private async probe(standby: string, primary: string, signal: AbortSignal): Promise<StreamProbe & { routed: boolean }> {
    let nodes: PcpNode[];
    try {
      nodes = (await this.pcp.nodes({ signal })).nodes;
    } catch (err) {
      throw new StreamProbeError(`pgpool's node info could not be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const s = nodeOf(this.cluster, nodes, standby);
    const p = nodeOf(this.cluster, nodes, primary);
    if (!s) throw new StreamProbeError(`${standby} is not in pgpool's backend list`);
    const routed = nodes.find((n) => isAttached(n.status) && n.role === 'primary');
    const routedText = routed ? formatAddress({ host: routed.host, port: routed.port }) : 'none';
    if (!p || routed?.id !== p.id) return { streaming: false, routed: false, seen: `pgpool's primary is ${routedText}, not yet ${primary}` };
    const state = s.replicationState ?? '';
    return {
      streaming: state === 'streaming',
      routed: true,
      seen: `pgpool's sr_check shows ${standby} ${state === '' || state === 'none' ? 'not replicating' : state} from ${routedText}`,
    };
  }
}

/**
 * Whether pgpool's replication state can be trusted for every backend: sr_check runs
 * (sr_check_period > 0, an sr_check_user) and each backend has an application name to be matched
 * by. Returns the reason when not.
 */
export function pgpoolSourceGap(params: ReadonlyMap<string, string>, backendCount: number): string | null {
  const period = Number(params.get('sr_check_period') ?? '0');
  if (!(period > 0)) return 'pgpool has sr_check_period = 0 (no streaming replication check)';
  if (!params.get('sr_check_user')) return 'pgpool has no sr_check_user';
  for (let i = 0; i < backendCount; i++)
    if (!params.get(`backend_application_name${i}`)) return `pgpool has no backend_application_name${i}, so its sr_check cannot match that node`;
  return null;
}
