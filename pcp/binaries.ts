import { join } from 'node:path';
import type { ClusterConfig } from '../contracts/config.ts';
import { endpointsOf, tryEndpoints, type Answered, type Endpoint, type MarkSent } from './endpoints.ts';
import { lookupPassword } from './passfile.ts';
import { deadlineIn, remainingMs, type CallDeadline } from './deadline.ts';
import { escapeControls } from '../contracts/text.ts';
import { validateNodeId, validateUser, type HealthCheckStats, type PoolParam, type WatchdogInfo } from './commands.ts';
import type { NodeInfo } from './node-info.ts';
import { parseStderrReport, parseVerboseNodeInfo } from './binaries-output.ts';
import type { CallOptions, NodesAnswer, PcpDriver } from './driver.ts';
import { eachEndpoint, type EachAnswer } from './views.ts';
import {
  PcpAbortedError,
  PcpAuthError,
  PcpBinaryError,
  PcpConnectError,
  PcpServerError,
  PcpTimeoutError,
  PcpUnsupportedError,
} from './errors/index.ts';

/**
 * The same operations through the pcp_* binaries, for sites that insist on them. Run with
 * execFile and an argv array (never a shell), always `-w` with PCPPASSFILE, and judged by their
 * output: they exit 0 on every server-side error (only connect/auth failures exit 1), so success
 * is rc 0 and an empty stderr, plus "Command Successful" for actions. Reading what they print is
 * binaries-output.ts.
 */

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface BinariesDriverOptions {
  env?: NodeJS.ProcessEnv;
}

/** pcp_* print what pgpool sent them: control characters escaped, lines kept for parsing. */
const clean = (text: string): string => escapeControls(text, { keepNewlines: true });

interface Ctx {
  signal?: AbortSignal;
  deadline?: CallDeadline;
}

export class BinariesDriver implements PcpDriver {
  readonly kind = 'binaries' as const;
  private readonly endpoints: Endpoint[];

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly opts: BinariesDriverOptions = {},
  ) {
    this.endpoints = endpointsOf(cluster);
  }

  /** Runs one binary against one endpoint; never through a shell. */
  exec(binary: string, ep: Endpoint, args: readonly string[], signal?: AbortSignal, deadline?: CallDeadline): Promise<RunResult> {
    validateUser(this.cluster.pcp.user);
    const env = { ...(this.opts.env ?? process.env) };
    if (this.cluster.pcp.passfile) env.PCPPASSFILE = this.cluster.pcp.passfile;
    // The binaries ignore a bad passfile silently and report "authentication failed"; say why first.
    lookupPassword({ host: ep.host, port: ep.port, user: this.cluster.pcp.user }, { passfile: env.PCPPASSFILE, env });
    const file = this.cluster.pcp.binDir ? join(this.cluster.pcp.binDir, binary) : binary;
    const argv = ['-h', ep.host, '-p', String(ep.port), '-U', this.cluster.pcp.user, '-w', ...args];
    const ownMs = this.cluster.timeouts.connectMs + this.cluster.timeouts.readMs;
    const left = deadline ? Math.max(1, Math.floor(remainingMs(deadline))) : Infinity;
    const timeoutMs = Math.min(ownMs, left);
    const timedOut = (err: unknown): PcpTimeoutError =>
      deadline && left < ownMs ? new PcpTimeoutError(ep.name, 'call', deadline.ms, { cause: err }) : new PcpTimeoutError(ep.name, 'command', timeoutMs, { cause: err });
    // Loaded on first use: a command on the native driver (`pcp check-primary`) never spawns.
    return import('node:child_process').then(({ execFile }) => new Promise<RunResult>((resolve, reject) => {
      execFile(
        file,
        argv,
        { env, timeout: timeoutMs, killSignal: 'SIGKILL', signal, maxBuffer: 4 * 1024 * 1024, windowsHide: true },
        (err, stdout, stderr) => {
          if (err) {
            const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
            if (e.name === 'AbortError') return reject(new PcpAbortedError(binary, { endpoint: ep.name, cause: err }));
            if (e.code === 'ENOENT') return reject(new PcpBinaryError(binary, `not found (${file})`, { endpoint: ep.name, cause: err }));
            if (e.killed) return reject(timedOut(err));
            if (typeof e.code !== 'number') return reject(new PcpBinaryError(binary, `could not run (${String(e.code)})`, { endpoint: ep.name, cause: err }));
            return resolve({ stdout: clean(stdout), stderr: clean(stderr), code: e.code });
          }
          resolve({ stdout: clean(stdout), stderr: clean(stderr), code: 0 });
        },
      );
    }));
  }

  /** Turns a run into stdout or the typed error its stderr describes. */
  check(binary: string, ep: Endpoint, r: RunResult, request: string, action: boolean): string {
    const conn = /connection to (?:host|socket) "[^"]*" failed with error "([^"]*)"/.exec(r.stderr);
    if (conn) throw new PcpConnectError(ep.name, conn[1] ?? 'failed');
    const report = parseStderrReport(r.stderr);
    if (report) {
      if (/authenticat/i.test(report.message)) throw new PcpAuthError(ep.name, this.cluster.pcp.user, `${report.severity}: ${report.message}`);
      // Warnings and notices alone do not make a failure; everything else does, whatever the rc.
      if (!['WARNING', 'NOTICE', 'INFO', 'LOG', 'DEBUG'].includes(report.severity)) throw new PcpServerError(ep.name, report, request);
    } else if (r.stderr.trim() !== '') {
      throw new PcpBinaryError(binary, `unexpected stderr: ${r.stderr.trim().split('\n')[0]?.slice(0, 200)}`, { endpoint: ep.name });
    }
    if (r.code !== 0) throw new PcpBinaryError(binary, `exit status ${r.code} without a message`, { endpoint: ep.name });
    if (action && !r.stdout.includes('Command Successful'))
      throw new PcpBinaryError(binary, `no "Command Successful" in its output`, { endpoint: ep.name });
    return r.stdout;
  }

  private async call(binary: string, ep: Endpoint, args: string[], ctx: Ctx, request: string, action = false): Promise<string> {
    return this.check(binary, ep, await this.exec(binary, ep, args, ctx.signal, ctx.deadline), request, action);
  }

  private async count(ep: Endpoint, ctx: Ctx): Promise<number> {
    const out = (await this.call('pcp_node_count', ep, [], ctx, 'node count')).trim();
    if (!/^\d{1,3}$/.test(out)) throw new PcpBinaryError('pcp_node_count', `printed "${out.slice(0, 40)}" instead of a number`, { endpoint: ep.name });
    return Number(out);
  }

  private run<T>(readOnly: boolean, opts: CallOptions | undefined, fn: (ep: Endpoint, markSent: MarkSent, ctx: Ctx) => Promise<T>): Promise<Answered<T>> {
    const deadline = opts?.deadlineMs !== undefined ? deadlineIn(opts.deadlineMs) : undefined;
    const ctx: Ctx = { ...(opts?.signal ? { signal: opts.signal } : {}), ...(deadline ? { deadline } : {}) };
    return tryEndpoints(this.endpoints, (ep, sent) => fn(ep, sent, ctx), { readOnly, ...ctx, ...(opts?.prefer !== undefined ? { prefer: opts.prefer } : {}) });
  }

  nodeCount(opts?: CallOptions): Promise<Answered<number>> {
    return this.run(true, opts, (ep, _sent, ctx) => this.count(ep, ctx));
  }

  /** One node through its own pcp_node_info process (what the old scripts did for each node). */
  nodeInfo(nodeId: number, opts?: CallOptions): Promise<Answered<NodeInfo>> {
    return this.run(true, opts, async (ep, _sent, ctx) => {
      if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 127) validateNodeId(nodeId, 128);
      const out = await this.call('pcp_node_info', ep, ['-v', '-n', String(nodeId)], ctx, `node info ${nodeId}`);
      const nodes = parseVerboseNodeInfo(out, nodeId);
      if (typeof nodes === 'string' || nodes.length !== 1 || !nodes[0]) throw new PcpBinaryError('pcp_node_info', `unexpected output (${typeof nodes === 'string' ? nodes : `${nodes.length} records`})`, { endpoint: ep.name });
      return nodes[0];
    });
  }

  nodes(opts?: CallOptions): Promise<Answered<NodesAnswer>> {
    return this.run(true, opts, (ep, _sent, ctx) => this.nodesAt(ep, ctx));
  }

  private async nodesAt(ep: Endpoint, ctx: Ctx): Promise<NodesAnswer> {
    const count = await this.count(ep, ctx);
    if (count === 0) return { nodes: [], layout: undefined };
    const out = await this.call('pcp_node_info', ep, ['-v', '-a'], ctx, 'node info');
    const nodes = parseVerboseNodeInfo(out, 0);
    if (typeof nodes === 'string') throw new PcpBinaryError('pcp_node_info', `unexpected output (${nodes})`, { endpoint: ep.name });
    if (nodes.length !== count) throw new PcpBinaryError('pcp_node_info', `printed ${nodes.length} nodes, node count is ${count}`, { endpoint: ep.name });
    return { nodes, layout: undefined };
  }

  get endpointCount(): number {
    return this.endpoints.length;
  }

  nodesEach(opts?: CallOptions & { skipSuspects?: boolean }): Promise<EachAnswer<NodesAnswer>[]> {
    const deadline = opts?.deadlineMs !== undefined ? deadlineIn(opts.deadlineMs) : undefined;
    const ctx: Ctx = { ...(opts?.signal ? { signal: opts.signal } : {}), ...(deadline ? { deadline } : {}) };
    return eachEndpoint(this.endpoints, (ep) => this.nodesAt(ep, ctx), { skipSuspects: opts?.skipSuspects });
  }

  private action(binary: string, nodeId: number, extra: string[], what: string, opts?: CallOptions): Promise<Answered<void>> {
    return this.run(false, opts, async (ep, sent, ctx) => {
      validateNodeId(nodeId, await this.count(ep, ctx));
      sent();
      await this.call(binary, ep, ['-n', String(nodeId), ...extra], ctx, `${what} of node ${nodeId}`, true);
    });
  }

  attach(nodeId: number, opts?: CallOptions): Promise<Answered<void>> {
    return this.action('pcp_attach_node', nodeId, [], 'attach', opts);
  }

  /** Never -g: graceful detach can wedge pgpool 4.0–4.4 for good. */
  detach(nodeId: number, opts?: CallOptions): Promise<Answered<void>> {
    return this.action('pcp_detach_node', nodeId, [], 'detach', opts);
  }

  promote(nodeId: number, opts?: CallOptions & { switchover?: boolean }): Promise<Answered<void>> {
    // The binaries do not tell us the server generation; a switchover to ≤4.2 would silently degrade.
    if (opts?.switchover) return Promise.reject(new PcpUnsupportedError('switchover promote needs driver: native (it checks that pgpool is 4.3+)'));
    return this.action('pcp_promote_node', nodeId, [], 'promote', opts);
  }

  watchdog(opts?: CallOptions): Promise<Answered<WatchdogInfo>> {
    return Promise.reject(
      opts?.signal?.aborted
        ? new PcpAbortedError('watchdog info')
        : new PcpUnsupportedError('watchdog info as JSON needs driver: native (pcp_watchdog_info prints text only)'),
    );
  }

  healthCheckStats(_nodeId: number): Promise<Answered<HealthCheckStats>> {
    return Promise.reject(new PcpUnsupportedError('health check stats need driver: native'));
  }

  poolStatus(): Promise<Answered<PoolParam[]>> {
    return Promise.reject(new PcpUnsupportedError('pool status needs driver: native'));
  }
}
