import { PcpAbortedError, PcpError } from './errors/index.ts';
import { sharedEndpointHealth, type EndpointHealth } from './endpoint-health.ts';
import type { Endpoint } from './endpoints.ts';

/**
 * One answer (or failure) per pgpool, asked side by side: in a watchdog cluster every pgpool has
 * its own copy of the backend table, synced from the leader, and they can disagree for a while.
 */
export interface EachAnswer<T> {
  endpoint: string;
  host: string;
  port: number;
  /** Set when this pgpool answered. */
  value?: T;
  /** Why it did not: its own error, or that it was skipped as recently unreachable. */
  error?: string;
  /** Not asked this time: it failed within the health cooldown (frozen or down). */
  skipped?: boolean;
}

export async function eachEndpoint<T>(
  endpoints: readonly Endpoint[],
  op: (ep: Endpoint) => Promise<T>,
  opts: { health?: EndpointHealth; skipSuspects?: boolean } = {},
): Promise<EachAnswer<T>[]> {
  const health = opts.health ?? sharedEndpointHealth;
  return Promise.all(
    endpoints.map(async (ep): Promise<EachAnswer<T>> => {
      const base = { endpoint: ep.name, host: ep.host, port: ep.port };
      if (opts.skipSuspects && endpoints.length > 1 && health.suspect(ep)) return { ...base, skipped: true, error: 'not asked: unreachable moments ago' };
      try {
        const value = await op(ep);
        health.answered(ep);
        return { ...base, value };
      } catch (err) {
        // The caller gave up (deadline): not this pgpool's failure.
        if (!(err instanceof PcpError) || err instanceof PcpAbortedError) throw err;
        health.failed(ep, err.message);
        return { ...base, error: err.message };
      }
    }),
  );
}
