// Which backend each address in an event names, checked before the event leaves the hook.
import type { NodeEvent } from '../contracts/events.ts';
import { configuredAddresses, resolveAddress, unresolvedMessage } from '../contracts/backend-resolution.ts';
import { BackendResolutionError } from '../contracts/errors.ts';
import type { ClusterConfig } from '../contracts/config.ts';

/** Which label an event's address carries in messages, so the DBA knows which argument it was. */
function addressChecks(event: NodeEvent): [string, string][] {
  switch (event.type) {
    case 'efm.attach':
    case 'efm.detach':
      return [[event.backend ?? '', 'argument 3 (%h, address of the node)']];
    case 'efm.fence':
    case 'efm.post-promotion':
      return [
        [event.newPrimary, 'argument 3 (%p, new primary)'],
        ...(event.failedPrimary === null ? [] : [[event.failedPrimary, 'argument 4 (%f, failed primary)'] as [string, string]]),
      ];
    case 'efm.remote-pre-promotion':
    case 'efm.remote-post-promotion':
      return [[event.newPrimary, 'argument 3 (%p, new primary)']];
    case 'efm.resumed':
    case 'efm.db-failure':
    case 'efm.primary-isolated':
      return event.backend === null ? [] : [[event.backend, '--node / PCPFLOW_NODE']];
    case 'efm.notification':
      return [];
    case 'pgpool.follow-primary':
      return event.backend === null ? [] : [[event.backend, 'arguments 4-5 (%h %p, the node to follow)']];
    case 'operator.rebuild-started':
    case 'operator.rebuild-done':
      return [[event.backend ?? '', 'argument 3 (address of the node)']];
    case 'operator.command':
    case 'operator.maintenance':
    case 'operator.attention-clear':
    case 'action.outcome':
    case 'reconciler.drift':
    case 'reconciler.retry':
      return []; // built by the pcpflow command or the workers, never by a hook
  }
}

/**
 * Every address the event names must be one configured backend, by the rule the decider and the
 * CLI use: a bare host shared by several backends is refused here (exit 2, or the fence policy)
 * instead of being published and then "not a backend" in the audit.
 */
export function checkEventAddresses(event: NodeEvent, cluster: ClusterConfig): void {
  // pgpool names its node by id too; a pinned nodeId is how a config says "pgpool calls it otherwise".
  if (event.type === 'pgpool.follow-primary' && cluster.backends.some((b) => b.nodeId === event.nodeId)) return;
  const addresses = configuredAddresses(cluster.backends);
  const prefix = event.argv.slice(0, 2).join(' ');
  for (const [text, what] of addressChecks(event)) {
    const res = resolveAddress(addresses, text);
    if (res.kind !== 'match') throw new BackendResolutionError(`${prefix}: ${unresolvedMessage(res, text, what, `cluster ${cluster.name}`)}`, res.kind);
  }
}
