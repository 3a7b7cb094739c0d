import { formatAddress, parseAddress, printable } from './address-syntax.ts';
import { BackendResolutionError } from './errors.ts';

/**
 * The one rule that turns an address as EFM, pgpool or an operator writes it into a configured
 * backend. The hooks, the decider, `audit --backend`, `viz --backend`, `status` and `pcp *` all
 * call it, so an address means the same thing everywhere:
 *
 * - `host:port` matches the backend with that host and port;
 * - a bare host (EFM's %h never carries a port) matches when exactly one backend has that host;
 *   when several do (all backends on one host, told apart by port) it is ambiguous, never a guess;
 * - anything else is unknown, and text that is not an address at all is invalid.
 *
 * Zod-free on purpose: the hook bundle uses it and must start in milliseconds.
 */

export type Resolution =
  | { kind: 'match'; address: string }
  | { kind: 'ambiguous'; candidates: string[] }
  | { kind: 'unknown'; configured: string[] }
  | { kind: 'invalid' };

/** A configured backend as the config file has it (`address` is a host, the port defaults to 5432). */
export interface ConfiguredBackend {
  address: string;
  port?: number;
  nodeId?: number;
}

export const DEFAULT_BACKEND_PORT = 5432;

/** Canonical `host:port` of each configured backend, the key the machines and the audit use. */
export function configuredAddresses(backends: readonly ConfiguredBackend[]): string[] {
  return backends.map((b) => formatAddress({ host: b.address, port: b.port ?? DEFAULT_BACKEND_PORT }));
}

const sameHost = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** `addresses` are canonical backend addresses (with or without a port). */
export function resolveAddress(addresses: readonly string[], text: string): Resolution {
  const wanted = parseAddress(text);
  if (!wanted) return { kind: 'invalid' };
  const exact = addresses.filter((a) => {
    const b = parseAddress(a);
    return b !== null && sameHost(b.host, wanted.host) && b.port === wanted.port;
  });
  if (exact.length === 1 && exact[0] !== undefined) return { kind: 'match', address: exact[0] };
  // A port on only one side still matches: EFM passes bare hosts, a config may omit ports.
  const candidates = addresses.filter((a) => {
    const b = parseAddress(a);
    return b !== null && sameHost(b.host, wanted.host) && (b.port === undefined || wanted.port === undefined);
  });
  if (candidates.length === 1 && candidates[0] !== undefined) return { kind: 'match', address: candidates[0] };
  if (candidates.length > 1) return { kind: 'ambiguous', candidates };
  return { kind: 'unknown', configured: [...addresses] };
}

/**
 * What to tell a DBA about an address that did not resolve. `what` names the argument
 * (`--backend`, `argument 3 (%h, address of the node)`), `scope` what was searched
 * (`cluster lab`, `the history`).
 */
export function unresolvedMessage(res: Exclude<Resolution, { kind: 'match' }>, text: string, what: string, scope: string): string {
  const shown = printable(text);
  switch (res.kind) {
    case 'invalid':
      return `${what}: "${shown}" is not an IPv4 address, IPv6 address or host name (optionally with :port)`;
    case 'ambiguous':
      return (
        `${what}: ${shown} is ambiguous in ${scope}: it matches ${res.candidates.join(', ')}; ` +
        `name one as host:port, or give each backend its own address (EFM's %h carries no port) ` +
        `with nodeId or port pinned in clusters[].backends`
      );
    case 'unknown':
      return `${what}: ${shown} is not a backend of ${scope}; ${scope.startsWith('cluster ') ? 'configured backends' : 'backends in it'}: ${res.configured.join(', ') || '(none)'}`;
  }
}

/** The backend an address names, or a BackendResolutionError saying why not. */
export function requireBackend(addresses: readonly string[], text: string, what: string, scope: string): string {
  const res = resolveAddress(addresses, text);
  if (res.kind === 'match') return res.address;
  throw new BackendResolutionError(unresolvedMessage(res, text, what, scope), res.kind);
}

/** The backend of `cluster` that `text` names (canonical `host:port`), by the rule above. */
export function resolveInCluster(
  cluster: { name: string; backends: readonly ConfiguredBackend[] },
  text: string,
  what: string,
): string {
  return requireBackend(configuredAddresses(cluster.backends), text, what, `cluster ${cluster.name}`);
}

/**
 * One address over several clusters (`pcpflow audit --backend`), by the same rule, per cluster: a
 * cluster where it names nothing is skipped, but an address no given cluster has, or a bare host
 * two backends share, is bad input with the candidates or the configured backends. Returns the
 * backend per cluster; a cluster without it gets a name no record carries.
 */
export function resolveInClusters(
  clusters: ReadonlyArray<{ name: string; backends: readonly ConfiguredBackend[] }>,
  text: string | undefined,
  what: string,
): (cluster: string) => string | undefined {
  if (text === undefined) return () => undefined;
  const found = new Map<string, string>();
  let firstError: unknown;
  for (const c of clusters) {
    try {
      found.set(c.name, resolveInCluster(c, text, what));
    } catch (err) {
      if (!(err instanceof BackendResolutionError)) throw err;
      // Ambiguous or invalid anywhere is a question only the DBA can answer.
      if (err.kind !== 'unknown' || clusters.length === 1) throw err;
      firstError ??= err;
    }
  }
  if (found.size === 0) throw firstError;
  return (cluster) => found.get(cluster) ?? NO_SUCH_BACKEND;
}

/** Matches no record: the cluster has no backend of that address. */
const NO_SUCH_BACKEND = '(none)';
