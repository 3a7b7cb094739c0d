import type { ClusterConfig } from '../contracts/config.ts';
import { formatAddress } from '../contracts/address-syntax.ts';
import { remainingMs, type CallDeadline } from './deadline.ts';
import {
  PcpAbortedError,
  PcpAuthError,
  PcpClosedError,
  PcpConnectError,
  PcpEndpointsFailedError,
  PcpError,
  PcpPasswordNotFoundError,
  PcpProtocolError,
  PcpTimeoutError,
} from './errors/index.ts';
import { sharedEndpointHealth, type EndpointHealth } from './endpoint-health.ts';

export interface Endpoint {
  host: string;
  port: number;
  /** label, else host:port: what results and audit records show. */
  name: string;
}

export function endpointsOf(cluster: ClusterConfig): Endpoint[] {
  return cluster.pcp.endpoints.map((e) => ({
    host: e.host,
    port: e.port,
    name: e.label ?? formatAddress({ host: e.host, port: e.port }),
  }));
}

export interface Answered<T> {
  endpoint: string;
  value: T;
}

/** Lets an operation say "the action request is on the wire now": from then on, no failover to the next endpoint. */
export type MarkSent = () => void;

/** Failures that prove the request never reached pgpool's request queue. */
function beforeRequest(err: PcpError): boolean {
  if (err instanceof PcpConnectError || err instanceof PcpAuthError || err instanceof PcpPasswordNotFoundError) return true;
  if (err instanceof PcpTimeoutError) return err.phase === 'connect' || err.phase === 'salt' || err.phase === 'auth';
  return false;
}

function isTransportFailure(err: PcpError): boolean {
  return err instanceof PcpConnectError || err instanceof PcpTimeoutError || err instanceof PcpClosedError || err instanceof PcpProtocolError;
}

/**
 * Tries the endpoints in order and returns the first answer with the endpoint's name. A read can
 * move on after any transport failure; an action moves on only when it certainly was not sent
 * (otherwise two pgpools might both queue it). pgpool's own refusal (an E frame) is an answer,
 * and so is a client-side validation error: neither is retried elsewhere.
 */
export async function tryEndpoints<T>(
  endpoints: readonly Endpoint[],
  op: (ep: Endpoint, markSent: MarkSent) => Promise<T>,
  opts: { readOnly: boolean; signal?: AbortSignal; deadline?: CallDeadline; health?: EndpointHealth; prefer?: string },
): Promise<Answered<T>> {
  const failures: PcpError[] = [];
  const health = opts.health ?? sharedEndpointHealth;
  const ordered = health.order(endpoints);
  const first = opts.prefer === undefined ? -1 : ordered.findIndex((e) => e.host === opts.prefer && !health.suspect(e));
  if (first > 0) ordered.unshift(...ordered.splice(first, 1));
  for (const ep of ordered) {
    if (opts.signal?.aborted) throw new PcpAbortedError('the PCP request');
    // The call's deadline is spent: the endpoints not yet tried are not asked. (A timer may fire a
    // fraction of a millisecond before performance.now() reaches it: a 'call' timeout is proof.)
    const last = failures[failures.length - 1];
    if (opts.deadline && last && ((last instanceof PcpTimeoutError && last.phase === 'call') || remainingMs(opts.deadline) < 1)) break;
    let sent = false;
    try {
      const value = await op(ep, () => {
        sent = true;
      });
      health.answered(ep);
      return { endpoint: ep.name, value };
    } catch (err) {
      if (!(err instanceof PcpError)) throw err;
      err.endpoint ??= ep.name;
      failures.push(err);
      const transport = isTransportFailure(err);
      if (transport) health.failed(ep, err.message);
      else if (!(err instanceof PcpAbortedError)) health.answered(ep);
      const movable = beforeRequest(err) || (transport && (opts.readOnly || !sent));
      if (!movable) {
        // pgpool refused, the caller aborted, or an action may have been queued: report it as itself.
        throw err;
      }
    }
  }
  if (failures.length === 1 && failures[0]) throw failures[0];
  throw new PcpEndpointsFailedError(failures);
}
