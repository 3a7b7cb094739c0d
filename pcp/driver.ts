import type { NodeInfo, NodeInfoLayout } from './node-info.ts';
import type { Answered } from './endpoints.ts';
import type { EachAnswer } from './views.ts';
import type { HealthCheckStats, PoolParam, WatchdogInfo } from './commands.ts';

export interface NodesAnswer {
  nodes: NodeInfo[];
  /** Known only from the native driver; binaries hide the field count. */
  layout: NodeInfoLayout | undefined;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Host of the endpoint to try first when it is not suspect: the watchdog leader, whose table the others copy. */
  prefer?: string;
  /**
   * One budget for the whole call: every endpoint tried, connect, auth and every reply frame.
   * Without it each endpoint still gets at most connectMs + readMs.
   */
  deadlineMs?: number;
}

/**
 * The PCP operations pcpflow needs, one short-lived connection (or binary run) each, behind which
 * the native client and the pcp_* binaries are interchangeable. Every action only means "pgpool
 * accepted it"; callers confirm the effect with nodes().
 */
export interface PcpDriver {
  readonly kind: 'native' | 'binaries';
  nodeCount(opts?: CallOptions): Promise<Answered<number>>;
  nodes(opts?: CallOptions): Promise<Answered<NodesAnswer>>;
  attach(nodeId: number, opts?: CallOptions): Promise<Answered<void>>;
  detach(nodeId: number, opts?: CallOptions): Promise<Answered<void>>;
  promote(nodeId: number, opts?: CallOptions & { switchover?: boolean }): Promise<Answered<void>>;
  watchdog(opts?: CallOptions): Promise<Answered<WatchdogInfo>>;
  healthCheckStats(nodeId: number, opts?: CallOptions): Promise<Answered<HealthCheckStats>>;
  poolStatus(opts?: CallOptions): Promise<Answered<PoolParam[]>>;
  /**
   * Node info from every endpoint side by side (a watchdog cluster's pgpools each keep a copy).
   * skipSuspects leaves out the ones that failed moments ago instead of waiting on them again.
   */
  nodesEach?(opts?: CallOptions & { skipSuspects?: boolean }): Promise<EachAnswer<NodesAnswer>[]>;
  /** Watchdog info from every endpoint: each pgpool's own role and its idea of the leader. */
  watchdogEach?(opts?: CallOptions): Promise<EachAnswer<WatchdogInfo>[]>;
  /** How many endpoints this driver knows (more than one: a watchdog cluster or a VIP plus pgpools). */
  readonly endpointCount?: number;
  /**
   * The same operations over connections of the caller's own, briefly (native: pcp/kept.ts,
   * OwnConnections): an ensure's read, action and first confirmation polls log in once.
   */
  lease?(): LeasedDriver | undefined;
}

/** A driver lent to one caller for a short run of calls; release() logs out of what it kept. */
export interface LeasedDriver extends PcpDriver {
  release(): Promise<void>;
}
