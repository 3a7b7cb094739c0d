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

export interface NativeDriverOptions {
  onNotice?: (notice: PcpServerMessage, endpoint: string) => void;
  /** Overrides the passfile lookup (tests, or a secret manager). */
  password?: (ep: Endpoint) => string;
  env?: NodeJS.ProcessEnv;
  /** Which endpoints failed lately (default: the process-wide memory). */
  health?: EndpointHealth;
}

/**
 * PCP over a socket, one connection per operation (connect, auth, command(s), X): pgpool 4.0–4.4
 * cannot finish a failover while any PCP connection stays open, so none ever does.
 */
export class NativeDriver implements PcpDriver {
  readonly kind = 'native' as const;
  private readonly endpoints: Endpoint[];

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly opts: NativeDriverOptions = {},
  ) {
    this.endpoints = endpointsOf(cluster);
  }

  private password(ep: Endpoint): string {
    if (this.opts.password) return this.opts.password(ep);
    return lookupPassword(
      { host: ep.host, port: ep.port, user: this.cluster.pcp.user },
      { passfile: this.cluster.pcp.passfile, env: this.opts.env },
    );
  }

  private async session<T>(
    ep: Endpoint,
    signal: AbortSignal | undefined,
    deadline: CallDeadline | undefined,
    fn: (c: PcpConnection) => Promise<T>,
  ): Promise<T> {
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
      const value = await fn(conn);
      await conn.close();
      return value;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  private run<T>(readOnly: boolean, opts: CallOptions | undefined, fn: (c: PcpConnection, markSent: MarkSent) => Promise<T>): Promise<Answered<T>> {
    const deadline = opts?.deadlineMs !== undefined ? deadlineIn(opts.deadlineMs) : undefined;
    return tryEndpoints(this.endpoints, (ep, markSent) => this.session(ep, opts?.signal, deadline, (c) => fn(c, markSent)), {
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
    return this.run(true, opts, (c) => cmd.nodeInfoAll(c));
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
    return eachEndpoint(this.endpoints, (ep) => this.session(ep, opts?.signal, deadline, (c) => cmd.nodeInfoAll(c)), { skipSuspects: opts?.skipSuspects, health: this.opts.health });
  }

  watchdogEach(opts?: CallOptions): Promise<EachAnswer<cmd.WatchdogInfo>[]> {
    const deadline = opts?.deadlineMs !== undefined ? deadlineIn(opts.deadlineMs) : undefined;
    return eachEndpoint(this.endpoints, (ep) => this.session(ep, opts?.signal, deadline, (c) => cmd.watchdogInfo(c)), { health: this.opts.health });
  }
}
