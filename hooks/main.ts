import { randomUUID } from './random-uuid.ts';
import type { NodeEvent } from '../contracts/events.ts';
import { PcpflowError } from '../contracts/errors.ts';
import { redactText } from '../runtime/redact.ts';
import { parseHookArgv } from './argv-to-event.ts';
import {
  DEFAULT_CONFIG_PATH,
  loadHookConfig,
  selectHookCluster,
} from './config.ts';
import { checkEventAddresses } from './event-addresses.ts';
import { EXIT_INTERNAL, EXIT_OK } from './exit-codes.ts';
import { fenceProblem, fenceVerdict } from './fence-verdict.ts';
import { parseGlobalFlags, USAGE, type GlobalFlags } from './global-flags.ts';
import type { HookIo } from './hook-io.ts';
import { publishOrSpool, type Delivery } from './publish-or-spool.ts';
import { recordRejection } from './record-rejection.ts';
import { Watchdog } from './watchdog.ts';
import type { ClusterConfig, Config } from '../contracts/config.ts';

/**
 * pcpflow-hook: argv → validated event → Redis intake stream (or the local outbox) → exit.
 * Exit codes (hooks/README.md): 0 published or spooled; 2 invalid input; 3 fence not confirmed
 * under fail-closed; 1 internal error. The pieces it runs live in their own modules; this one keeps
 * the order, the deadlines and which exit code each outcome gets.
 */

export { EXIT_FENCE_VETO, EXIT_INTERNAL, EXIT_INVALID, EXIT_OK } from './exit-codes.ts';
export type { HookIo } from './hook-io.ts';

/** What the deadline watchdog needs to say, and decide, if it fires. */
interface RunState {
  phase: string;
  fenceMode?: ClusterConfig['fence']['mode'];
  eventJson?: string;
  delivered: boolean;
}

/** Reading the config: a regular file of at most 4 MiB, so this is generous. */
const CONFIG_BUDGET_MS = 2_000;
/** Writing one event to a local disk, fsyncs included. */
const SPOOL_BUDGET_MS = 2_000;

export async function runHook(argv: readonly string[], env: NodeJS.ProcessEnv, io: HookIo): Promise<number> {
  const startedAt = Date.now();
  const state: RunState = { phase: 'reading the config', delivered: false };
  const watchdog = new Watchdog(startedAt, CONFIG_BUDGET_MS, (budgetMs) => onDeadline(state, budgetMs, io));
  try {
    return await Promise.race([work(argv, env, io, startedAt, state, (ms) => watchdog.setBudget(ms)), watchdog.expired]);
  } finally {
    watchdog.stop();
  }
}

/**
 * The hook's overall deadline fired (config, publish and spool each have their own, this is the
 * backstop): EFM must never wait on a hook without end. The event, if built, is printed so
 * EFM's notification keeps it.
 */
function onDeadline(state: RunState, budgetMs: number, io: HookIo): number {
  const what = `overall deadline of ${budgetMs} ms passed while ${state.phase}`;
  if (state.fenceMode !== undefined) return fenceVerdict(state.fenceMode, what, io);
  if (state.eventJson !== undefined && !state.delivered) {
    io.stderr(`pcpflow-hook: ${what}; event NOT delivered: ${state.eventJson}`);
    return EXIT_INTERNAL;
  }
  io.stderr(`pcpflow-hook: ${what}`);
  return EXIT_INTERNAL;
}

async function work(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: HookIo,
  startedAt: number,
  state: RunState,
  setBudget: (ms: number) => void,
): Promise<number> {
  let flags: GlobalFlags;
  let config: Config;
  let cluster: ClusterConfig;
  try {
    flags = parseGlobalFlags(argv);
    if (flags.help) {
      io.stdout(USAGE);
      return EXIT_OK;
    }
    config = (await loadHookConfig(flags.config ?? env.PCPFLOW_CONFIG ?? DEFAULT_CONFIG_PATH, env)).config;
    cluster = selectHookCluster(config, flags.cluster ?? env.PCPFLOW_CLUSTER);
  } catch (err) {
    return report(err, io);
  }

  // The fence is known by its first two words even when the rest is garbage: its policy then decides.
  const isFence = flags.rest[0] === 'efm' && flags.rest[1] === 'fence';
  if (isFence) state.fenceMode = cluster.fence.mode;
  const overallMs =
    CONFIG_BUDGET_MS + 2 * config.redis.publishTimeoutMs + SPOOL_BUDGET_MS + (isFence ? cluster.fence.timeoutMs : 0);
  setBudget(overallMs);
  const deadlineAt = startedAt + overallMs;

  let event: NodeEvent;
  try {
    state.phase = 'validating the arguments';
    const localNode = flags.node ?? (env.PCPFLOW_NODE || undefined);
    event = parseHookArgv(flags.rest, {
      cluster: cluster.name,
      now: new Date(startedAt),
      newId: randomUUID,
      localNode,
    });
    checkEventAddresses(event, cluster);
  } catch (err) {
    if (err instanceof PcpflowError) {
      state.phase = 'auditing the refused call';
      await recordRejection(config, cluster, flags.rest, err.message, env);
    }
    if (isFence && err instanceof PcpflowError) return fenceVerdict(cluster.fence.mode, err.message, io);
    return report(err, io);
  }

  const json = JSON.stringify(event);
  state.eventJson = json;
  state.phase = 'publishing to Redis or spooling to the outbox';
  let delivery: Delivery;
  try {
    delivery = await publishOrSpool(config, cluster, event, json, env, startedAt);
  } catch (err) {
    // The outbox refused the event too: the one way to lose it. Put it where EFM's notification
    // (which carries our stderr) keeps it, so an operator can replay it by hand.
    const why = redactText(err instanceof Error ? err.message : String(err));
    if (isFence) return fenceVerdict(cluster.fence.mode, `${why}; event NOT delivered: ${json}`, io);
    io.stderr(`pcpflow-hook: ${why}`);
    io.stderr(`pcpflow-hook: event NOT delivered: ${json}`);
    return EXIT_INTERNAL;
  }
  state.delivered = true;
  // The fence says everything in its one verdict line; other hooks warn about what they stepped over.
  if (!isFence) {
    for (const note of delivery.notes) io.stderr(`pcpflow-hook: warning: outbox: ${redactText(note)}`);
    if (delivery.via === 'outbox')
      io.stderr(
        `pcpflow-hook: warning: Redis unavailable (${redactText(delivery.why)}); event ${event.eventId} spooled to ${delivery.path}`,
      );
  }
  try {
    if (event.type !== 'efm.fence') return EXIT_OK;
    state.phase = 'waiting for the detach of the failed primary to be confirmed';
    const problem = await fenceProblem(config, cluster, event.eventId, delivery, deadlineAt);
    return problem === null ? EXIT_OK : fenceVerdict(cluster.fence.mode, problem, io);
  } finally {
    if (delivery.via === 'redis') delivery.client.close();
  }
}

function report(err: unknown, io: HookIo): number {
  if (err instanceof PcpflowError) {
    io.stderr(`pcpflow-hook: ${redactText(err.message)}`);
    return err.exitCode;
  }
  io.stderr(
    `pcpflow-hook: unexpected error: ${redactText(err instanceof Error ? (err.stack ?? err.message) : String(err))}`,
  );
  return EXIT_INTERNAL;
}
