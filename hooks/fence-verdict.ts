// The fence hook's answer to EFM: whether the detach was confirmed, and the one exit code and line that say so.
import { redactText } from '../runtime/redact.ts';
import type { ClusterConfig, Config } from '../contracts/config.ts';
import { EXIT_FENCE_VETO, EXIT_OK } from './exit-codes.ts';
import type { HookIo } from './hook-io.ts';
import type { Delivery } from './publish-or-spool.ts';

/** Why the detach was not confirmed, or null when it was. */
export async function fenceProblem(
  config: Config,
  cluster: ClusterConfig,
  eventId: string,
  delivery: Delivery,
  deadlineAt: number,
): Promise<string | null> {
  if (delivery.via === 'outbox')
    return `the fence event could not reach Redis (${delivery.why}), so nothing can confirm the detach; spooled to ${delivery.path}`;
  try {
    // Imported here, not at the top: fence.ts builds zod schemas at load, a cost (~3 ms,
    // bench/hooks.ts) every other hook would pay; in the bundle it is evaluated at this import.
    const { awaitFence } = await import('./fence.ts');
    const outcome = await awaitFence(delivery.client, {
      prefix: config.redis.keyPrefix,
      cluster: cluster.name,
      eventId,
      deadlineAt: Math.min(Date.now() + cluster.fence.timeoutMs, deadlineAt),
    });
    return outcome.confirmed ? null : outcome.detail;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * The fence hook's one verdict, whatever went wrong: fail-closed exits 3 (EFM does not promote),
 * fail-open exits 0; either way exactly one line on stderr says why.
 */
export function fenceVerdict(mode: ClusterConfig['fence']['mode'], detail: string, io: HookIo): number {
  const why = redactText(detail).replace(/[\r\n]+/g, ' ');
  switch (mode) {
    case 'fail-closed':
      io.stderr(`pcpflow-hook: fence not confirmed (${why}); fail-closed: exiting 3 so EFM does not promote`);
      return EXIT_FENCE_VETO;
    case 'fail-open':
      io.stderr(`pcpflow-hook: warning: fence not confirmed (${why}); fail-open: exiting 0, EFM promotes`);
      return EXIT_OK;
  }
}
