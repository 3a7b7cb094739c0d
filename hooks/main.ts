import { randomUUID } from 'node:crypto';
import type { NodeEvent } from '../contracts/events.ts';
import type { IntakeRejection } from '../contracts/keys.ts';
import { printable } from '../contracts/address-syntax.ts';
import { BackendResolutionError, PcpflowError } from '../contracts/errors.ts';
import { redactText } from '../runtime/redact.ts';
import { claimedSource, parseHookArgv } from './argv-to-event.ts';
import {
  DEFAULT_CONFIG_PATH,
  loadHookConfig,
  selectHookCluster,
  type HookCluster,
  type HookConfig,
} from './config.ts';
import { deliverPending, publishEvent } from './deliver.ts';
import { configuredAddresses, resolveAddress, unresolvedMessage } from '../contracts/backend-resolution.ts';
import { HookArgvError, OutboxReadError } from './errors.ts';
import { awaitFence } from './fence.ts';
import { spool } from './outbox.ts';
import { RespClient } from './resp.ts';
import { hookKeys, INTAKE_REJECTION_FIELD } from './wire.ts';
import { connectRedis } from './connect.ts';

/**
 * pcpflow-hook: argv → validated event → Redis intake stream (or the local outbox) → exit.
 * Exit codes (hooks/README.md): 0 published or spooled; 2 invalid input; 3 fence not confirmed
 * under fail-closed; 1 internal error.
 */

export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_INVALID = 2;
export const EXIT_FENCE_VETO = 3;

/** Events a hook delivers from its outbox before its own, per run: bounds how long EFM waits. */
const MAX_BACKLOG_PER_RUN = 1000;

const USAGE = `usage: pcpflow-hook [--cluster NAME] [--config FILE] [--node ADDRESS] <hook> [args…]
  efm attach|detach %h %t            efm fence|post-promotion %p [%f]
  efm remote-pre-promotion|remote-post-promotion %p
  efm resumed|db-failure|primary-isolated       efm notification <subject> <body>
  pgpool follow-primary %d %h %p %D %m %H %M %P %r %R %N %S
  event rebuild-started|rebuild-done <address>
env: PCPFLOW_CLUSTER, PCPFLOW_CONFIG, PCPFLOW_NODE`;

export interface HookIo {
  stderr(line: string): void;
  stdout(line: string): void;
}

interface GlobalFlags {
  cluster?: string;
  config?: string;
  node?: string;
  help: boolean;
  rest: string[];
}

const FLAGS = ['cluster', 'config', 'node'] as const;

/** Global flags come first; everything from the hook source on is the hook's (pgpool passes -1). */
export function parseGlobalFlags(argv: readonly string[]): GlobalFlags {
  const out: GlobalFlags = { help: false, rest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('-')) break;
    if (a === '--help' || a === '-h') {
      out.help = true;
      continue;
    }
    const m = /^--([a-z]+)(?:=(.*))?$/s.exec(a);
    const flag = FLAGS.find((f) => f === m?.[1]);
    if (!m || !flag)
      throw new HookArgvError(
        `option "${printable(a)}" is unknown; the options are --cluster, --config, --node`,
      );
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === '') throw new HookArgvError(`option --${flag}: needs a value`);
    out[flag] = value;
  }
  out.rest = argv.slice(i);
  return out;
}

function rejectionOf(cluster: string, argv: readonly string[], reason: string): IntakeRejection {
  return {
    cluster,
    at: new Date().toISOString(),
    source: claimedSource(argv),
    argv: argv.slice(0, 40).map((a) => printable(a, 280).slice(0, 300)),
    reason: reason.slice(0, 1000),
  };
}

async function connect(config: HookConfig, env: NodeJS.ProcessEnv, deadlineAt: number): Promise<RespClient> {
  return connectRedis(config.redis, env, deadlineAt);
}

/** Best effort: a refused invocation is audited when Redis answers in time; never blocks the exit. */
async function recordRejection(
  config: HookConfig,
  cluster: HookCluster,
  argv: readonly string[],
  reason: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  let client: RespClient | undefined;
  try {
    client = await connect(config, env, Date.now() + config.redis.publishTimeoutMs);
    const json = JSON.stringify(rejectionOf(cluster.name, argv, reason));
    await client.call(
      'XADD',
      hookKeys.intake(config.redis.keyPrefix, cluster.name),
      '*',
      INTAKE_REJECTION_FIELD,
      json,
    );
  } catch {
    // Not auditable now; the message on stderr reaches EFM's notification anyway.
  } finally {
    client?.close();
  }
}

type Delivery =
  | { via: 'redis'; client: RespClient; notes: string[] }
  | { via: 'outbox'; path: string; why: string; notes: string[] };

/** Backlog first, then this event; whatever cannot reach Redis in time goes to the outbox, in order. */
async function deliver(
  config: HookConfig,
  cluster: HookCluster,
  event: NodeEvent,
  json: string,
  env: NodeJS.ProcessEnv,
  startedAt: number,
): Promise<Delivery> {
  const deadlineAt = startedAt + config.redis.publishTimeoutMs;
  const prefix = config.redis.keyPrefix;
  const notes: string[] = [];
  let client: RespClient | undefined;
  let why: string;
  try {
    client = await connect(config, env, deadlineAt);
    let remaining = 0;
    try {
      const backlog = await deliverPending(client, {
        prefix,
        cluster: cluster.name,
        dir: config.outbox.dir,
        deadlineAt,
        maxEvents: MAX_BACKLOG_PER_RUN,
      });
      notes.push(...backlog.notes);
      remaining = backlog.remaining;
    } catch (err) {
      // Another user's outbox this one may not even list: what it cannot drain, it must not
      // lose its own event over. The owner's next run, or `pcpflow outbox flush`, drains it.
      if (!(err instanceof OutboxReadError)) throw err;
      notes.push(err.message);
    }
    if (remaining === 0) {
      await publishEvent(client, prefix, cluster.name, event.eventId, json);
      return { via: 'redis', client, notes };
    }
    why = `${remaining} older event(s) still in the outbox`;
    try {
      const path = spool(config.outbox.dir, cluster.name, event.eventId, json);
      client.close();
      return { via: 'outbox', path, why, notes };
    } catch (err) {
      // Cannot queue behind the backlog: publishing now, out of order, beats losing the event.
      notes.push(`${err instanceof Error ? err.message : String(err)}; published ahead of the backlog instead`);
      await publishEvent(client, prefix, cluster.name, event.eventId, json);
      return { via: 'redis', client, notes };
    }
  } catch (err) {
    // Redis down, slow, refusing AUTH, or its secret unreadable by this OS user: spool, never drop.
    why = err instanceof Error ? err.message : String(err);
  }
  client?.close();
  return { via: 'outbox', path: spool(config.outbox.dir, cluster.name, event.eventId, json), why, notes };
}

/** Why the detach was not confirmed, or null when it was. */
async function fenceProblem(
  config: HookConfig,
  cluster: HookCluster,
  eventId: string,
  delivery: Delivery,
  deadlineAt: number,
): Promise<string | null> {
  if (delivery.via === 'outbox')
    return `the fence event could not reach Redis (${delivery.why}), so nothing can confirm the detach; spooled to ${delivery.path}`;
  try {
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
function fenceVerdict(mode: HookCluster['fence']['mode'], detail: string, io: HookIo): number {
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
export function checkEventAddresses(event: NodeEvent, cluster: HookCluster): void {
  // pgpool names its node by id too; a pinned nodeId is how a config says "pgpool calls it otherwise".
  if (event.type === 'pgpool.follow-primary' && cluster.backends.some((b) => b.nodeId === event.nodeId)) return;
  const addresses = configuredAddresses(cluster.backends);
  const prefix = event.argv.slice(0, 2).join(' ');
  for (const [text, what] of addressChecks(event)) {
    const res = resolveAddress(addresses, text);
    if (res.kind !== 'match') throw new BackendResolutionError(`${prefix}: ${unresolvedMessage(res, text, what, `cluster ${cluster.name}`)}`, res.kind);
  }
}

/** What the deadline watchdog needs to say, and decide, if it fires. */
interface RunState {
  phase: string;
  fenceMode?: HookCluster['fence']['mode'];
  eventJson?: string;
  delivered: boolean;
}

/** Reading the config: a regular file of at most 4 MiB, so this is generous. */
const CONFIG_BUDGET_MS = 2_000;
/** Writing one event to a local disk, fsyncs included. */
const SPOOL_BUDGET_MS = 2_000;

/**
 * The backstop deadline: a timer that wins the race against the hook's work. It can fire because
 * nothing the hook does blocks the event loop (files are opened non-blocking and size-checked,
 * directories created without Node's recursive mkdir, sockets have their own deadlines).
 */
class Watchdog {
  readonly expired: Promise<number>;
  private timer: NodeJS.Timeout | undefined;
  private fire: () => void = () => undefined;

  constructor(
    private readonly startedAt: number,
    public budgetMs: number,
    onExpiry: (budgetMs: number) => number,
  ) {
    this.expired = new Promise<number>((resolve) => {
      this.fire = () => resolve(onExpiry(this.budgetMs));
    });
    this.arm();
  }

  /** Sets the whole run's budget, counted from the start, once the config says what it is. */
  setBudget(ms: number): void {
    this.budgetMs = ms;
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.fire, Math.max(0, this.startedAt + this.budgetMs - Date.now()));
  }
}

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
  let config: HookConfig;
  let cluster: HookCluster;
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
    delivery = await deliver(config, cluster, event, json, env, startedAt);
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
