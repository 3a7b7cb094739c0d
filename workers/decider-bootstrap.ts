import type { AuditBody } from '../contracts/audit.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import { formatAddress } from '../contracts/address.ts';
import { keys } from '../contracts/keys.ts';
import type { AuditStore, LinkPlan } from '../audit/store.ts';
import { parseHead } from '../audit/chain.ts';
import { initialSnapshot, policyOf, type ClusterSnapshot } from '../machines/index.ts';
import { callBudgetMs, type PcpOps } from '../pcp/index.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { backendListMismatches, nodeForBackend } from './backend-list.ts';
import { isAttached } from '../contracts/pgpool-node.ts';

/** What the first commit of a cluster writes: the snapshot from pgpool's view and the record saying so. */
export interface BootstrapStep {
  snapshot: ClusterSnapshot;
  body: AuditBody;
  /** The audit head read, and where the record links on (after a reset record when Redis lost the chain). */
  headText: string | null;
  plan: LinkPlan;
}

export type BootstrapPlan = { ready: true; step: BootstrapStep } | { ready: false; reason: string };

/**
 * A cluster's first snapshot, from pgpool's live view: which backend is primary and which are
 * attached. A chain already in Redis (or in the JSONL anchor) means the state was lost, not
 * new: the record and the log say so.
 */
export async function planBootstrap(
  cluster: ClusterConfig,
  deps: { redis: RedisClient; prefix: string; audit: AuditStore; pcpFor: (cluster: ClusterConfig) => PcpOps; logger: Logger },
  at: Date,
): Promise<BootstrapPlan> {
  let observed;
  try {
    observed = await deps.pcpFor(cluster).nodes({ deadlineMs: callBudgetMs(cluster) });
  } catch (err) {
    deps.logger.warn({ cluster: cluster.name, err }, 'cannot bootstrap: pgpool unreachable; events wait in the intake');
    return { ready: false, reason: `pgpool unreachable: ${err instanceof Error ? err.message : String(err)}` };
  }
  const mismatches = backendListMismatches(cluster, observed.nodes);
  for (const m of mismatches) deps.logger.warn({ cluster: cluster.name }, m);
  const backends = cluster.backends.map((b) => {
    const node = nodeForBackend(b, observed.nodes);
    return {
      address: formatAddress({ host: b.address, port: b.port }),
      role: node?.role ?? ('standby' as const),
      attached: node ? isAttached(node.status) : false,
    };
  });
  const snapshot = initialSnapshot({
    cluster: cluster.name,
    backends,
    policy: policyOf(cluster.fence),
  });
  const table = backends.map((b) => `${b.address} ${b.role} ${b.attached ? 'attached' : 'detached'}`).join('; ');
  const headText = await deps.redis.get(keys.auditHead(deps.prefix, cluster.name));
  const plan = await deps.audit.linkPlan(cluster.name, headText);
  const redisSeq = parseHead(headText).seq;
  const lost = plan.reset !== null || redisSeq > 0;
  if (lost)
    deps.logger.error(
      { cluster: cluster.name, auditSeqInRedis: redisSeq, anchorSeq: plan.reset ? plan.base.seq : null },
      `the decision state of cluster ${cluster.name} is gone from Redis; re-bootstrapping from pgpool's live view`,
    );
  const why = lost
    ? `The decision state of cluster ${cluster.name} was gone from Redis${plan.reset ? ` along with audit records after seq ${plan.base.seq}` : ` while its audit chain (seq ${redisSeq}) was not`}: EFM events decided before are not replayed; re-bootstrapped`
    : `No decision state existed for cluster ${cluster.name}; started`;
  const body: AuditBody = {
    kind: 'decision',
    cluster: cluster.name,
    at: at.toISOString(),
    backend: null,
    to: 'bootstrapped',
    endpoint: observed.endpoint,
    note: `${why} from pgpool's live view at ${observed.endpoint}: ${table}.${mismatches.map((m) => ` Warning: ${m}.`).join('')}`,
    // Structured too, so a timeline knows each backend's first state and pgpool's view of it.
    payload: { bootstrap: backends },
    snapshot,
  };
  return { ready: true, step: { snapshot, body, headText, plan } };
}
