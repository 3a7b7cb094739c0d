import { formatAddress, parseAddress } from '../contracts/address.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import type { NodeEvent } from '../contracts/events.ts';
import { parseHookArgv } from '../hooks/argv-to-event.ts';
import { initialSnapshot, resolveBackend, type InitialBackend } from '../machines/index.ts';
import { SIM_EPOCH, type Scenario } from './scenario.ts';
import { ScenarioError } from './errors.ts';

/**
 * The cluster a scenario runs against: from a config when one is given, else inferred from the
 * addresses the scenario names, with the primary from --primary or the `# primary:` header.
 */

/** Addresses a scenario names, so a cluster can be built without a config file. */
function addressesIn(sc: Scenario, cluster: string): string[] {
  const found: string[] = [];
  const add = (a: string | null | undefined): void => {
    if (a) found.push(a);
  };
  let n = 0;
  for (const item of sc.items) {
    if (item.kind === 'outcome' || item.kind === 'wait') continue;
    let ev: NodeEvent;
    try {
      ev = item.kind === 'event' ? item.event : parseHookArgv(item.argv, { cluster, now: new Date(SIM_EPOCH), newId: () => `scan-${++n}`.padEnd(8, '0'), ...(item.localNode ? { localNode: item.localNode } : {}) });
    } catch {
      continue; // reported with its line number when the scenario runs
    }
    add(ev.backend);
    if (ev.type === 'efm.fence' || ev.type === 'efm.post-promotion') {
      add(ev.newPrimary);
      add(ev.failedPrimary);
    }
    if (ev.type === 'pgpool.follow-primary') add(formatAddress({ host: parseAddress(ev.host)?.host ?? ev.host, port: ev.port }));
  }
  return found;
}

/**
 * One backend per host: EFM names hosts without ports, pgpool with them, so `h` and `h:p` are the
 * same backend when only one port is ever seen for `h`; a host never seen with a port gets 5432.
 */
export function canonicalBackends(addresses: readonly string[]): string[] {
  const ports = new Map<string, Set<number>>();
  for (const a of addresses) {
    const p = parseAddress(a);
    if (!p) continue;
    const set = ports.get(p.host) ?? new Set<number>();
    if (p.port !== undefined) set.add(p.port);
    ports.set(p.host, set);
  }
  const out: string[] = [];
  for (const [host, set] of ports) {
    if (set.size === 0) out.push(formatAddress({ host, port: 5432 }));
    else for (const port of [...set].sort((x, y) => x - y)) out.push(formatAddress({ host, port }));
  }
  return out;
}

export interface ClusterSetup {
  cluster: string;
  backends: InitialBackend[];
  detachHealthyPrimary: boolean;
  /** The config's fence policy, so a late fail-closed fence is simulated as production decides it. */
  fence?: { mode: 'fail-open' | 'fail-closed'; timeoutMs: number };
}

export function clusterFor(sc: Scenario, opts: { primary?: string; config?: ClusterConfig; detachHealthyPrimary?: boolean }): ClusterSetup {
  const cluster = opts.config?.name ?? 'sim';
  const addresses = opts.config
    ? opts.config.backends.map((b) => formatAddress({ host: b.address, port: b.port }))
    : sc.backends
      ? canonicalBackends(sc.backends)
      : canonicalBackends([...(opts.primary ?? sc.primary ? [opts.primary ?? sc.primary ?? ''] : []), ...addressesIn(sc, cluster)]);
  const primaryText = opts.primary ?? sc.primary;
  if (!primaryText) throw new ScenarioError('name the primary with --primary ADDR (or a `# primary:` line in the scenario)');
  const probe = initialSnapshot({ cluster, backends: addresses.map((address) => ({ address, role: 'standby', attached: true })) });
  const primary = resolveBackend(probe, primaryText);
  if (primary === null) throw new ScenarioError(`--primary ${primaryText} matches none of the backends: ${addresses.join(', ')}`);
  return {
    cluster,
    backends: addresses.map((address) => ({ address, role: address === primary ? 'primary' : 'standby', attached: true })),
    detachHealthyPrimary: opts.detachHealthyPrimary ?? opts.config?.fence.detachHealthyPrimary ?? false,
    ...(opts.config ? { fence: { mode: opts.config.fence.mode, timeoutMs: opts.config.fence.timeoutMs } } : {}),
  };
}
