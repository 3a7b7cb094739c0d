import type { ClusterConfig } from '../contracts/config.ts';
import { PcpConnection } from './connection.ts';
import * as cmd from './commands.ts';
import { endpointsOf, tryEndpoints, type Answered, type Endpoint, type MarkSent } from './endpoints.ts';
import { lookupPassword } from './passfile.ts';
import { deadlineIn, type CallDeadline } from './deadline.ts';
import type { PcpServerMessage } from './messages.ts';
import type { CallOptions, LeasedDriver, NodesAnswer, PcpDriver } from './driver.ts';
import { eachEndpoint, type EachAnswer } from './views.ts';
import type { EndpointHealth } from './endpoint-health.ts';
import { DEFAULT_KEEP_POLICY, KeptConnections, OwnConnections, useOnce, type KeepPolicy, type KeptStats } from './kept.ts';
import type { NodeInfoResult } from './commands.ts';

export interface NativeDriverOptions {
  onNotice?: (notice: PcpServerMessage, endpoint: string) => void;
  /** Overrides the passfile lookup (tests, or a secret manager). */
  password?: (ep: Endpoint) => string;
  env?: NodeJS.ProcessEnv;
  /** Which endpoints failed lately (default: the process-wide memory). */
  health?: EndpointHealth;
  /** How long read-only calls may keep an authenticated connection (kept.ts says why so briefly); false: one connection per call. */
  keep?: KeepPolicy | false;
}

/**
 * PCP over a socket. Read-only calls reuse a kept, authenticated connection per endpoint, briefly
 * (pgpool 4.0–4.4 cannot finish a failover while any PCP connection stays open: see kept.ts);
 * actions (attach, detach, promote) always get a connection of their own (connect, auth, command, X)
 * and retire every kept one first. A lease (lease()) gives one caller its own connection for a
 * short run of calls, actions included (pcp/kept.ts, OwnConnections).
 */
export class NativeDriver implements PcpDriver {
  readonly kind = 'native' as const;
  private readonly endpoints: Endpoint[];
  private readonly kept: KeptConnections<PcpConnection>;
  /**
   * The node count each connection saw last (its node info of every node): an action on a lease
   * connection right after the read checks its node id against it instead of asking again.
   * Shared with the leases of this driver.
   */
  private readonly counts: WeakMap<PcpConnection, number>;
  /** Set on a lease only: its own connections, tried before the usual path. */
  private readonly own: OwnConnections<PcpConnection> | undefined;

  /** `lease` is internal: lease() passes the pool it shares and the lease's own connections. */
  constructor(
    private readonly cluster: ClusterConfig,
    private readonly opts: NativeDriverOptions = {},
    lease?: { kept: KeptConnections<PcpConnection>; own: OwnConnections<PcpConnection>; counts: WeakMap<PcpConnection, number> },
  ) {
    this.endpoints = endpointsOf(cluster);
    this.counts = lease?.counts ?? new WeakMap();
    this.kept = lease?.kept ?? new KeptConnections<PcpConnection>(opts.keep ?? DEFAULT_KEEP_POLICY);
    this.own = lease?.own;
  }

  /**
   * The same driver, whose calls (reads and actions) share one connection per endpoint for up to
   * the keep policy's maxAgeMs, then go the usual way; release() logs out. None when connections
   * are not to be kept at all (keep: false, a one-shot command) or this is a lease already.
   */
  lease(): LeasedDriver | undefined {
    const policy = this.opts.keep ?? DEFAULT_KEEP_POLICY;
    if (policy === false || this.own) return undefined;
    const own = new OwnConnections<PcpConnection>(policy.maxAgeMs);
    const driver = new NativeDriver(this.cluster, this.opts, { kept: this.kept, own, counts: this.counts });
    return Object.assign(driver, { release: () => own.release() });
  }

  /** Connections opened, reused, one-shot, and reopened after a kept one broke. */
  get keptStats(): Readonly<KeptStats> {
    return this.kept.stats;
  }

  /** Logs out of every kept connection (a one-shot command's end, a test's). */
  close(): Promise<void> {
    return this.kept.closeAll();
  }

  private password(ep: Endpoint): string {
    if (this.opts.password) return this.opts.password(ep);
    return lookupPassword(
      { host: ep.host, port: ep.port, user: this.cluster.pcp.user },
      { passfile: this.cluster.pcp.passfile, env: this.opts.env },
    );
  }

  /** Connect and authenticate. */
  private async login(ep: Endpoint, signal: AbortSignal | undefined, deadline: CallDeadline | undefined): Promise<PcpConnection> {
    cmd.validateUser(this.cluster.pcp.user);
    const password = this.password(ep);
    const t = this.cluster.timeouts;
    const conn = await PcpConnection.open({
      host: ep.host,
      port: ep.port,
      name: ep.name,
      connectMs: t.connectMs,
      readMs: t.readMs,
      ...(deadline ? { deadline } : {}),
      signal,
      onNotice: (n) => this.opts.onNotice?.(n, ep.name),
    });
    try {
      // The first command follows R without waiting for its reply (commands.ts, authenticate).
      await cmd.authenticate(conn, this.cluster.pcp.user, password, { pipelined: true });
      return conn;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  /** A connection of its own: connect, auth, fn, X. */
  private async session<T>(
    ep: Endpoint,
    signal: AbortSignal | undefined,
    deadline: CallDeadline | undefined,
    fn: (c: PcpConnection) => Promise<T>,
  ): Promise<T> {
    return useOnce(await this.login(ep, signal, deadline), fn);
  }

  /** A read-only call, on the endpoint's kept connection when the keep policy allows one. */
  private readSession<T>(
    ep: Endpoint,
    signal: AbortSignal | undefined,
    deadline: CallDeadline | undefined,
    fn: (c: PcpConnection) => Promise<T>,
  ): Promise<T> {
    return this.kept.use(
      `${ep.host}:${ep.port}`,
      () => this.login(ep, signal, deadline),
      (c) => c.beginCall({ signal, deadline }),
      fn,
    );
  }

  /** Every node, noting on the way whether pgpool's table moved since the last look (see kept.ts). */
  private async nodesOn(ep: Endpoint, c: PcpConnection): Promise<NodeInfoResult> {
    const r = await cmd.nodeInfoAll(c);
    // Every node means NUM_BACKENDS records, the node count an action on this connection checks its id against.
    this.counts.set(c, r.nodes.length);
    this.kept.observe(`${ep.host}:${ep.port}`, r.nodes.map((n) => `${n.status}/${n.role}/${n.lastStatusChange ?? ''}`).join(','));
    return r;
  }

  /**
   * One call on an endpoint: on the lease's own connection while it lives, else a kept connection
   * (reads) or one of its own (actions). `repeatable`: whether the request cannot have reached
   * pgpool yet, so a lease connection found closed may be replaced and the call repeated.
   */
  private on<T>(ep: Endpoint, readOnly: boolean, signal: AbortSignal | undefined, deadline: CallDeadline | undefined, fn: (c: PcpConnection) => Promise<T>, repeatable: () => boolean): Promise<T> {
    const usual = (): Promise<T> => (readOnly ? this.readSession(ep, signal, deadline, fn) : this.session(ep, signal, deadline, fn));
    if (!this.own) return usual();
    return this.own.use(`${ep.host}:${ep.port}`, () => this.login(ep, signal, deadline), (c) => c.beginCall({ signal, deadline }), fn, usual, repeatable);
  }

  private run<T>(readOnly: boolean, opts: CallOptions | undefined, fn: (c: PcpConnection, markSent: MarkSent, ep: Endpoint) => Promise<T>): Promise<Answered<T>> {
    const deadline = opts?.deadlineMs !== undefined ? deadlineIn(opts.deadlineMs) : undefined;
    // An action makes pgpool run failover(), which waits for every open PCP connection to close.
    if (!readOnly) this.kept.settle();
    return tryEndpoints(this.endpoints, (ep, markSent) => {
      let sent = false;
      const mark: MarkSent = () => {
        sent = true;
        markSent();
      };
      return this.on(ep, readOnly, opts?.signal, deadline, (c) => fn(c, mark, ep), () => readOnly || !sent);
    }, {
      readOnly,
      signal: opts?.signal,
      ...(deadline ? { deadline } : {}),
      health: this.opts.health,
      prefer: opts?.prefer,
    });
  }

  /** The node count for an action's id check: the one this connection just read, else asked now. */
  private async nodeCountOn(c: PcpConnection): Promise<number> {
    return this.counts.get(c) ?? (await cmd.nodeCount(c));
  }

  nodeCount(opts?: CallOptions): Promise<Answered<number>> {
    return this.run(true, opts, (c) => cmd.nodeCount(c));
  }

  nodes(opts?: CallOptions): Promise<Answered<NodesAnswer>> {
    return this.run(true, opts, (c, _sent, ep) => this.nodesOn(ep, c));
  }

  attach(nodeId: number, opts?: CallOptions): Promise<Answered<void>> {
    return this.run(false, opts, async (c, sent) => {
      const count = await this.nodeCountOn(c);
      cmd.validateNodeId(nodeId, count);
      sent();
      await cmd.attach(c, nodeId, count);
    });
  }

  detach(nodeId: number, opts?: CallOptions): Promise<Answered<void>> {
    return this.run(false, opts, async (c, sent) => {
      const count = await this.nodeCountOn(c);
      cmd.validateNodeId(nodeId, count);
      sent();
      await cmd.detach(c, nodeId, count);
    });
  }

  promote(nodeId: number, opts?: CallOptions & { switchover?: boolean }): Promise<Answered<void>> {
    const switchover = opts?.switchover ?? false;
    return this.run(false, opts, async (c, sent) => {
      const count = await this.nodeCountOn(c);
      cmd.validateNodeId(nodeId, count);
      // Only a switchover needs the layout, as proof the server is 4.3+.
      const layout = switchover ? (await cmd.nodeInfo(c, nodeId, count)).layout : undefined;
      sent();
      await cmd.promote(c, nodeId, count, { switchover, layout });
    });
  }

  watchdog(opts?: CallOptions): Promise<Answered<cmd.WatchdogInfo>> {
    return this.run(true, opts, (c) => cmd.watchdogInfo(c));
  }

  healthCheckStats(nodeId: number, opts?: CallOptions): Promise<Answered<cmd.HealthCheckStats>> {
    return this.run(true, opts, async (c) => cmd.healthCheckStats(c, nodeId, await cmd.nodeCount(c)));
  }

  poolStatus(opts?: CallOptions): Promise<Answered<cmd.PoolParam[]>> {
    return this.run(true, opts, (c) => cmd.poolStatus(c));
  }

  get endpointCount(): number {
    return this.endpoints.length;
  }

  nodesEach(opts?: CallOptions & { skipSuspects?: boolean }): Promise<EachAnswer<NodesAnswer>[]> {
    const deadline = opts?.deadlineMs !== undefined ? deadlineIn(opts.deadlineMs) : undefined;
    return eachEndpoint(this.endpoints, (ep) => this.on(ep, true, opts?.signal, deadline, (c) => this.nodesOn(ep, c), () => true), { skipSuspects: opts?.skipSuspects, health: this.opts.health });
  }

  watchdogEach(opts?: CallOptions): Promise<EachAnswer<cmd.WatchdogInfo>[]> {
    const deadline = opts?.deadlineMs !== undefined ? deadlineIn(opts.deadlineMs) : undefined;
    return eachEndpoint(this.endpoints, (ep) => this.on(ep, true, opts?.signal, deadline, (c) => cmd.watchdogInfo(c), () => true), { health: this.opts.health });
  }
}
