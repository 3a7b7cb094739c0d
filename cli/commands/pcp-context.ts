import { formatAddress } from '../../contracts/address-syntax.ts';
import { resolveInCluster } from '../../contracts/backend-resolution.ts';
import type { ClusterConfig } from '../../contracts/config.ts';
import { loadConfig, selectCluster } from '../../runtime/config.ts';
import { redactText } from '../../runtime/redact.ts';
import { createDriver, type NodeInfo, type NoticeLogger, type PcpDriver } from '../../pcp/index.ts';

/** What the `pcp` commands share: config and driver, the address argument, a node as JSON. */

export interface CommonOpts {
  config?: string;
  cluster?: string;
  json?: boolean;
  verifyMs?: string;
}

/** The cluster a `pcp` command addresses and a PCP driver for it. */
export function pcpContext(opts: CommonOpts): { cluster: ClusterConfig; driver: PcpDriver } {
  const { config } = loadConfig(opts.config);
  const cluster = selectCluster(config, opts.cluster);
  // pgpool's notices, the only thing the driver logs, go to stderr as one line each: a one-shot
  // command does not need pino (~30 ms of start-up).
  const logger: NoticeLogger = {
    warn: (_fields, message) => {
      if (config.log.level !== 'silent') process.stderr.write(`pcpflow: ${redactText(message)}\n`);
    },
  };
  return { cluster, driver: createDriver(cluster, { logger }) };
}

/** The configured backend the argument names (one rule with the hooks, audit and viz): exit 2 otherwise. */
export function addressArg(cluster: ClusterConfig, text: string): string {
  return resolveInCluster(cluster, text, '<address>');
}

/** Everything the layout offers, with `address` in the canonical form the rest of pcpflow uses. */
export function nodeJson(n: NodeInfo): Record<string, unknown> {
  const address = n.host === '' ? '' : formatAddress({ host: n.host, port: n.port });
  const out: Record<string, unknown> = { id: n.id, address, host: n.host, port: n.port, status: n.status, role: n.role };
  for (const [k, v] of Object.entries(n)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}
