import type { ClusterConfig } from '../contracts/config.ts';
import type { PcpDriver } from './driver.ts';
import type { NodeInfo } from './node-info.ts';
import { resolveNodeId } from './resolve.ts';
import { describeViews, judge } from './confirm.ts';
import {
  PcpAbortedError,
  PcpClosedError,
  PcpEndpointsFailedError,
  PcpError,
  PcpNoLeaderError,
  PcpNodeStateError,
  PcpProtocolError,
  PcpServerError,
  PcpTimeoutError,
  PcpUnsupportedError,
  PcpVerifyTimeoutError,
} from './errors/index.ts';
import { isAttached } from '../contracts/pgpool-node.ts';

export type EnsureResult = 'changed' | 'already' | 'failed';

export interface EnsureOutcome {
  result: EnsureResult;
  nodeId?: number;
  endpoint?: string;
  reason?: string;
  /** false when retrying cannot help (unknown address, invalid node id) */
  retryable: boolean;
  durationMs: number;
  /** Several pgpools: the ones that showed the change when it was confirmed. */
  confirmedBy?: string[];
  /** Several pgpools: the ones that answered but still showed the old state at the deadline (drift). */
  pgpoolDrift?: { endpoint: string; seen: string }[];
}

export interface EnsureOptions {
  signal?: AbortSignal;
  verifyMs?: number;
}

export interface EnsureLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

type Goal = 'attached' | 'detached' | 'primary';

/**
 * Failures that pass on their own: pgpool restarts its PCP process after every failover/failback
 * and resets connections waiting in its backlog meanwhile; node info occasionally desyncs. A
 * refused connection is not among them (pgpool is down: fail fast, the executor backs off).
 */
function transient(err: unknown): err is PcpError {
  if (err instanceof PcpClosedError || err instanceof PcpProtocolError || err instanceof PcpNoLeaderError) return true;
  // Several pgpools all failing: transient when one of them is only restarting its PCP process
  // (a watchdog cluster restarts it on every state change), not when every one refuses.
  if (err instanceof PcpEndpointsFailedError) return err.failures.some(transient);
  return err instanceof PcpTimeoutError && err.phase !== 'connect';
}

const nodeAttached = (n: NodeInfo): boolean => isAttached(n.status);
const REACHED: Record<Goal, (n: NodeInfo) => boolean> = {
  attached: nodeAttached,
  detached: (n) => n.status === 'down',
  primary: (n) => n.role === 'primary' && nodeAttached(n),
};

/**
 * Idempotent node operations for the executor: read, act only when needed, then poll node info
 * until the effect is visible, because a PCP reply only means "queued". Never throws: every
 * failure becomes an outcome with a reason and whether a retry can help.
 */
export class Ensurer {
  constructor(
    private readonly cluster: ClusterConfig,
    private readonly driver: PcpDriver,
    private readonly log?: EnsureLog,
  ) {}

  ensure(goal: Goal, address: string, opts: EnsureOptions = {}): Promise<EnsureOutcome> {
    const started = performance.now();
    const verifyMs = opts.verifyMs ?? this.cluster.timeouts.verifyMs;
    const state: EnsureState = {};
    const done = (result: EnsureResult, extra: { reason?: string; retryable?: boolean } = {}): EnsureOutcome => {
      const outcome: EnsureOutcome = {
        result,
        ...(state.nodeId !== undefined ? { nodeId: state.nodeId } : {}),
        ...(state.endpoint !== undefined ? { endpoint: state.endpoint } : {}),
        ...(state.confirmedBy !== undefined ? { confirmedBy: state.confirmedBy } : {}),
        ...(state.pgpoolDrift?.length ? { pgpoolDrift: state.pgpoolDrift } : {}),
        ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
        retryable: extra.retryable ?? result === 'failed',
        durationMs: Math.round(performance.now() - started),
      };
      this.log?.debug({ goal, address, ...outcome }, `pcp ensure ${goal}: ${result}`);
      return outcome;
    };
    // The read, the action and the first confirmation polls log in once (a lease lets go after
    // the keep policy's maxAgeMs, so a failover pgpool runs after our action never waits for it).
    const lease = this.driver.lease?.();
    return this.run(lease ?? this.driver, goal, address, opts.signal, started + verifyMs, verifyMs, state)
      .then((r) => done(r))
      .catch((err: unknown) => {
        if (err instanceof PcpError) return done('failed', { reason: err.message, retryable: err.retryable });
        const text = err instanceof Error ? err.message : String(err);
        return done('failed', { reason: `unexpected: ${text}`, retryable: true });
      })
      .finally(() => void lease?.release());
  }

  private async run(
    driver: PcpDriver,
    goal: Goal,
    address: string,
    signal: AbortSignal | undefined,
    deadline: number,
    verifyMs: number,
    state: EnsureState,
  ): Promise<'changed' | 'already'> {
    /** Retries transient failures until the verify deadline, then gives up with the last one. */
    const retrying = async <T>(fn: () => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await fn();
        } catch (err) {
          if (!transient(err) || performance.now() >= deadline) throw err;
          this.log?.debug({ address, err: err.message }, 'pcp ensure: transient failure, retrying');
          await sleep(this.cluster.timeouts.pollIntervalMs, signal);
        }
      }
    };
    const read = (): Promise<NodeInfo> =>
      retrying(async () => {
        const answer = await driver.nodes({ signal, prefer: state.prefer });
        state.endpoint = answer.endpoint;
        const id = state.nodeId ?? resolveNodeId(this.cluster, address, answer.value.nodes);
        state.nodeId = id;
        const node = answer.value.nodes.find((n) => n.id === id);
        if (!node) throw new PcpNodeStateError(`pgpool no longer reports node ${id}; its backend list changed (reload?)`, true);
        return node;
      });
    const several = (driver.endpointCount ?? 1) > 1;
    // Read and act through the watchdog leader first: its table is the one the others copy, so
    // a stale standby pgpool answering first cannot make an action look already done.
    if (several) state.prefer = await this.leaderHost(driver, signal);
    const waitFor = async (pred: (n: NodeInfo) => boolean, what: string): Promise<void> => {
      if (several && driver.nodesEach) return this.waitForEvery(driver, pred, what, { signal, deadline, verifyMs, state, id: state.nodeId ?? 0 });
      for (;;) {
        const n = await read();
        if (pred(n)) return;
        if (performance.now() >= deadline)
          throw new PcpVerifyTimeoutError(n.id, `${n.status}/${n.role}`, what, verifyMs, { endpoint: state.endpoint });
        await sleep(this.cluster.timeouts.pollIntervalMs, signal);
      }
    };
    // An action refused because the state is already reached (detach of a down node, promote of
    // the primary) is success; re-read to tell that apart from a real refusal. A transient failure
    // may or may not have queued the request: re-read, and send again only if still needed
    // (a duplicate is harmless: the second one is refused as "already so" or ignored).
    const act = async (action: () => Promise<{ endpoint: string }>, reached: (n: NodeInfo) => boolean): Promise<boolean> => {
      for (;;) {
        try {
          if (several) state.prefer = await this.leaderGate(driver, signal);
          state.endpoint = (await action()).endpoint;
          return true;
        } catch (err) {
          if (err instanceof PcpServerError) {
            if (reached(await read())) return false;
            throw err;
          }
          if (!transient(err) || performance.now() >= deadline) throw err;
          if (reached(await read())) return true;
          await sleep(this.cluster.timeouts.pollIntervalMs, signal);
        }
      }
    };

    const node = await read();
    const id = node.id;
    if (node.status === 'unused') throw new PcpNodeStateError(`node ${id} is an unused pgpool backend slot (no backend_hostname${id})`, false);
    if (REACHED[goal](node)) return 'already';

    switch (goal) {
      case 'attached':
        if (!(await act(() => driver.attach(id, { signal, prefer: state.prefer }), REACHED.attached))) return 'already';
        await waitFor(REACHED.attached, 'status up or waiting');
        return 'changed';
      case 'detached':
        if (!(await act(() => driver.detach(id, { signal, prefer: state.prefer }), REACHED.detached))) return 'already';
        await waitFor(REACHED.detached, 'status down');
        return 'changed';
      case 'primary':
        // pgpool silently ignores a promote of a down node: attach it first.
        if (node.status === 'down') {
          this.log?.debug({ nodeId: id }, 'pcp ensure primary: node is down, attaching it first');
          await act(() => driver.attach(id, { signal, prefer: state.prefer }), nodeAttached);
          await waitFor(nodeAttached, 'status up or waiting before the promote');
          if (REACHED.primary(await read())) return 'changed';
        }
        if (!(await act(() => driver.promote(id, { signal, prefer: state.prefer, switchover: false }), REACHED.primary))) return 'already';
        await waitFor(REACHED.primary, 'role primary and status up or waiting');
        return 'changed';
    }
  }

  /**
   * A watchdog cluster drops a failover request sent while it has no leader (and still answers
   * "Command Successful"): ask first, and wait (transient) while there is none. A pgpool without
   * a watchdog answers with an error or the driver cannot ask; then there is nothing to wait for.
   */
  private async leaderGate(driver: PcpDriver, signal: AbortSignal | undefined): Promise<string | undefined> {
    let answer;
    try {
      answer = await driver.watchdog({ signal });
    } catch (err) {
      if (err instanceof PcpServerError || err instanceof PcpUnsupportedError) return undefined;
      throw err;
    }
    const w = answer.value;
    const leader = w.leaderHostName;
    if (!leader || leader === 'Not Set' || w.QuorumStatus < 0)
      throw new PcpNoLeaderError(answer.endpoint, `watchdog leader ${leader || 'none'}, quorum status ${w.QuorumStatus}`);
    return leader;
  }

  /** The watchdog leader's host, if a pgpool names one; reads go there first. Never fails the operation. */
  private async leaderHost(driver: PcpDriver, signal: AbortSignal | undefined): Promise<string | undefined> {
    try {
      const leader = (await driver.watchdog({ signal })).value.leaderHostName;
      return leader && leader !== 'Not Set' ? leader : undefined;
    } catch (err) {
      if (err instanceof PcpAbortedError) throw err;
      return undefined;
    }
  }

  /**
   * Confirmation over every pgpool: done when each one that answers shows the change. At the
   * deadline, if the leader (else most pgpools) shows it, the pgpools that show it confirm the
   * action and the ones still behind are reported as drift, by name; otherwise the verify timeout
   * stands (the request was lost) and the action is retried.
   */
  private async waitForEvery(
    driver: PcpDriver,
    pred: (n: NodeInfo) => boolean,
    what: string,
    c: { signal: AbortSignal | undefined; deadline: number; verifyMs: number; state: EnsureState; id: number },
  ): Promise<void> {
    const nodesEach = driver.nodesEach?.bind(driver);
    if (!nodesEach) return;
    for (;;) {
      let answers = await nodesEach({ signal: c.signal, skipSuspects: true });
      if (answers.every((a) => a.value === undefined)) answers = await nodesEach({ signal: c.signal });
      const j = judge(answers, c.id, pred);
      if (j.confirmed) {
        c.state.confirmedBy = j.ahead.map((v) => v.endpoint);
        return;
      }
      if (performance.now() >= c.deadline) {
        // Confirmed with drift only when the leader shows it (the others copy the leader), or,
        // without an answering leader, most pgpools do; else the request was lost: time out.
        const leader = c.state.prefer === undefined ? undefined : answers.find((a) => a.host === c.state.prefer && a.value !== undefined)?.endpoint;
        const carried = leader !== undefined ? j.ahead.some((v) => v.endpoint === leader) : j.ahead.length > j.behind.length;
        if (carried) {
          c.state.confirmedBy = j.ahead.map((v) => v.endpoint);
          c.state.pgpoolDrift = j.behind.map((v) => ({ endpoint: v.endpoint, seen: v.seen ?? '?' }));
          this.log?.warn({ nodeId: c.id, views: j.views }, `pcp ensure: confirmed by ${c.state.confirmedBy.join(', ')}; drift on ${describeViews(j.behind)}`);
          return;
        }
        throw new PcpVerifyTimeoutError(c.id, describeViews(j.views), what, c.verifyMs, { endpoint: c.state.endpoint });
      }
      await sleep(this.cluster.timeouts.pollIntervalMs, c.signal);
    }
  }
}

interface EnsureState {
  /** Host of the watchdog leader, tried first by every call (several pgpools only). */
  prefer?: string;
  nodeId?: number;
  endpoint?: string;
  confirmedBy?: string[];
  pgpoolDrift?: { endpoint: string; seen: string }[];
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new PcpAbortedError('verification'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new PcpAbortedError('verification'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
