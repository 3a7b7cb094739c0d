import type { ClusterConfig } from '../contracts/config.ts';
import { PcpConnection } from './connection.ts';
import * as cmd from './commands.ts';
import { endpointsOf, tryEndpoints, type Answered, type Endpoint, type MarkSent } from './endpoints.ts';
import { lookupPassword } from './passfile.ts';
import { deadlineIn, type CallDeadline } from './deadline.ts';
import type { PcpServerMessage } from './messages.ts';
import type { CallOptions, NodesAnswer, PcpDriver } from './driver.ts';
import { eachEndpoint, type EachAnswer } from './views.ts';
import type { EndpointHealth } from './endpoint-health.ts';
import { DEFAULT_KEEP_POLICY, KeptConnections, useOnce, type KeepPolicy, type KeptStats } from './kept.ts';
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
 * and retire every kept one first.
 */
export class NativeDriver implements PcpDriver {
  readonly kind = 'native' as const;
  private readonly endpoints: Endpoint[];
  private readonly kept: KeptConnections<PcpConnection>;

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly opts: NativeDriverOptions = {},
  ) {
    this.endpoints = endpointsOf(cluster);
    this.kept = new KeptConnections<PcpConnection>(opts.keep ?? DEFAULT_KEEP_POLICY);
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
      await cmd.authenticate(conn, this.cluster.pcp.user, password);
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
    this.kept.observe(`${ep.host}:${ep.port}`, r.nodes.map((n) => `${n.status}/${n.role}/${n.lastStatusChange ?? ''}`).join(','));
    return r;
  }

  private run<T>(readOnly: boolean, opts: CallOptions | undefined, fn: (c: PcpConnection, markSent: MarkSent, ep: Endpoint) => Promise<T>): Promise<Answered<T>> {
    const deadline = opts?.deadlineMs !== undefined ? deadlineIn(opts.deadlineMs) : undefined;
    // An action makes pgpool run failover(), which waits for every open PCP connection to close.
    if (!readOnly) this.kept.settle();
    const on = readOnly ? this.readSession.bind(this) : this.session.bind(this);
    return tryEndpoints(this.endpoints, (ep, markSent) => on(ep, opts?.signal, deadline, (c) => fn(c, markSent, ep)), {
      readOnly,
      signal: opts?.signal,
      ...(deadline ? { deadline } : {}),
      health: this.opts.health,
      prefer: opts?.prefer,
    });
  }

  nodeCount(opts?: CallOptions): Promise<Answered<number>> {
    return this.run(true, opts, (c) => cmd.nodeCount(c));
  }

  nodes(opts?: CallOptions): Promise<Answered<NodesAnswer>> {
    return this.run(true, opts, (c, _sent, ep) => this.nodesOn(ep, c));
  }

  attach(nodeId: number, opts?: CallOptions): Promise<Answered<void>> {
    return this.run(false, opts, async (c, sent) => {
      const count = await cmd.nodeCount(c);
      cmd.validateNodeId(nodeId, count);
      sent();
      await cmd.attach(c, nodeId, count);
    });
  }

  detach(nodeId: number, opts?: CallOptions): Promise<Answered<void>> {
    return this.run(false, opts, async (c, sent) => {
      const count = await cmd.nodeCount(c);
      cmd.validateNodeId(nodeId, count);
      sent();
      await cmd.detach(c, nodeId, count);
    });
  }

  promote(nodeId: number, opts?: CallOptions & { switchover?: boolean }): Promise<Answered<void>> {
    const switchover = opts?.switchover ?? false;
    return this.run(false, opts, async (c, sent) => {
      const count = await cmd.nodeCount(c);
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
    return eachEndpoint(this.endpoints, (ep) => this.readSession(ep, opts?.signal, deadline, (c) => this.nodesOn(ep, c)), { skipSuspects: opts?.skipSuspects, health: this.opts.health });
  }

  watchdogEach(opts?: CallOptions): Promise<EachAnswer<cmd.WatchdogInfo>[]> {
    const deadline = opts?.deadlineMs !== undefined ? deadlineIn(opts.deadlineMs) : undefined;
    return eachEndpoint(this.endpoints, (ep) => this.readSession(ep, opts?.signal, deadline, (c) => cmd.watchdogInfo(c)), { health: this.opts.health });
  }
}
