import type { ClusterConfig } from '../contracts/config.ts';
import type { Logger } from '../runtime/logger.ts';
import { BinariesDriver } from './binaries.ts';
import type { CallOptions, PcpDriver } from './driver.ts';
import { Ensurer, type EnsureOptions, type EnsureOutcome } from './ensure.ts';
import { NativeDriver } from './native.ts';
import type { NodeInfo } from './node-info.ts';
import { formatServerMessage } from './messages.ts';
import { readPgpools, type PgpoolsView } from './pgpools.ts';
import type { PgpoolNodeStatus } from '../contracts/pgpool-node.ts';

export type { EnsureOptions, EnsureOutcome, EnsureResult } from './ensure.ts';
export type { PcpDriver, NodesAnswer, CallOptions } from './driver.ts';
export type { NodeInfo, NodeInfoLayout } from './node-info.ts';
export type { HealthCheckStats, PoolParam, WatchdogInfo } from './commands.ts';
export type { PcpServerMessage } from './messages.ts';
export type { Endpoint, Answered } from './endpoints.ts';
export type { EachAnswer } from './views.ts';
export type { PgpoolState, PgpoolsView } from './pgpools.ts';
export { disagreements } from './pgpools.ts';
export { EndpointHealth, sharedEndpointHealth, type EndpointHealthEntry } from './endpoint-health.ts';
export { judge, describeViews, type PgpoolNodeView } from './confirm.ts';
export { NativeDriver } from './native.ts';
export { DEFAULT_KEEP_POLICY, type KeepPolicy } from './kept.ts';
export { BinariesDriver } from './binaries.ts';
export { findNode, resolveNodeId } from './resolve.ts';
export { watchdogView, type WatchdogView } from './watchdog-view.ts';
export { callBudgetMs } from './deadline.ts';
export { lookupPassword, matchPassfile, passfilePath } from './passfile.ts';
export * from './errors/index.ts';

export interface PcpNode {
  id: number;
  host: string;
  port: number;
  status: PgpoolNodeStatus;
  role: 'primary' | 'standby';
  weight: number;
  backendStatus?: string;
  backendRole?: string;
  replicationDelay?: number;
  /** bytes behind the primary's WAL, or microseconds when pgpool measures delay by time. */
  replicationDelayUnit?: 'bytes' | 'microseconds';
  replicationState?: string;
  replicationSyncState?: string;
  lastStatusChange?: string;
}

export interface PcpOps {
  nodes(opts?: CallOptions): Promise<{ endpoint: string; nodes: PcpNode[] }>;
  /** Every pgpool's own node table and watchdog role (one entry when there is one endpoint). */
  pgpools(opts?: CallOptions): Promise<PgpoolsView<PcpNode>>;
  ensureAttached(address: string, opts?: EnsureOptions): Promise<EnsureOutcome>;
  ensureDetached(address: string, opts?: EnsureOptions): Promise<EnsureOutcome>;
  /** Promote without switchover; attaches first if the node is down (pgpool silently ignores promote of a down node); "already primary" = already. */
  ensurePrimary(address: string, opts?: EnsureOptions): Promise<EnsureOutcome>;
  /** pgpool's configuration parameters by name (pcp_pool_status), e.g. sr_check_period. */
  poolParams(opts?: { signal?: AbortSignal }): Promise<Map<string, string>>;
}

/** The stable view of a node: what every layout and both drivers provide, empty strings dropped. */
export function toPcpNode(n: NodeInfo): PcpNode {
  const opt = <K extends string, V>(k: K, v: V | undefined | ''): { [P in K]?: V } =>
    (v === undefined || v === '' ? {} : { [k]: v }) as { [P in K]?: V };
  return {
    id: n.id,
    host: n.host,
    port: n.port,
    status: n.status,
    role: n.role,
    weight: n.weight,
    ...opt('backendStatus', n.backendStatus),
    ...opt('backendRole', n.backendRole),
    ...opt('replicationDelay', n.replicationDelay),
    ...opt('replicationDelayUnit', n.replicationDelayUnit),
    ...opt('replicationState', n.replicationState),
    ...opt('replicationSyncState', n.replicationSyncState),
    ...opt('lastStatusChange', n.lastStatusChange),
  };
}

/** What the driver logs with (pgpool's notices): a pino Logger, or a one-shot command's stderr line. */
export interface NoticeLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * keepConnections: read-only calls may reuse a briefly kept PCP connection (pcp/kept.ts), for a
 * long-running worker; a one-shot command leaves it off and logs out after each call.
 */
export function createDriver(cluster: ClusterConfig, deps: { logger?: NoticeLogger; keepConnections?: boolean } = {}): PcpDriver {
  switch (cluster.pcp.driver) {
    case 'native':
      return new NativeDriver(cluster, {
        onNotice: (notice, endpoint) => deps.logger?.warn({ endpoint, cluster: cluster.name }, `pgpool: ${formatServerMessage(notice)}`),
        ...(deps.keepConnections ? {} : { keep: false }),
      });
    case 'binaries':
      return new BinariesDriver(cluster);
  }
}

export function createPcpOps(cluster: ClusterConfig, deps: { logger?: Logger; keepConnections?: boolean } = {}): PcpOps {
  return opsOver(cluster, createDriver(cluster, deps), deps);
}

/** PcpOps over a given driver (tests, benchmarks). */
export function opsOver(cluster: ClusterConfig, driver: PcpDriver, deps: { logger?: Logger } = {}): PcpOps {
  const log = deps.logger?.child({ cluster: cluster.name, component: 'pcp' });
  const ensurer = new Ensurer(cluster, driver, log);
  return {
    async nodes(opts) {
      const a = await driver.nodes(opts);
      return { endpoint: a.endpoint, nodes: a.value.nodes.map(toPcpNode) };
    },
    pgpools: (opts) => readPgpools(driver, (a) => a.nodes.map(toPcpNode), opts),
    ensureAttached: (address, opts) => ensurer.ensure('attached', address, opts),
    ensureDetached: (address, opts) => ensurer.ensure('detached', address, opts),
    ensurePrimary: (address, opts) => ensurer.ensure('primary', address, opts),
    async poolParams(opts) {
      const a = await driver.poolStatus(opts);
      return new Map(a.value.map((p) => [p.name, p.value]));
    },
  };
}
