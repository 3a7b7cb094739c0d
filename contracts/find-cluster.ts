import type { ClusterConfig, Config } from './config.ts';

/**
 * The configured cluster `name` names, or the only one when no name is given; otherwise the
 * problem in words. One rule for the commands (runtime/config.ts) and the hook, each wrapping the
 * problem in its own error.
 */
export function findCluster(config: Config, name: string | undefined): ClusterConfig | { problem: string } {
  const names = config.clusters.map((c) => c.name).join(', ');
  if (name === undefined) {
    const only = config.clusters.length === 1 ? config.clusters[0] : undefined;
    return only ?? { problem: `several clusters are configured (${names}); choose one with --cluster or PCPFLOW_CLUSTER` };
  }
  return config.clusters.find((c) => c.name === name) ?? { problem: `unknown cluster "${name.slice(0, 64)}"; configured: ${names}` };
}
