import { randomUUID } from 'node:crypto';
import type { NodeEvent } from '../contracts/events.ts';
import type { IntakeRejection } from '../contracts/keys.ts';
import { printable } from '../contracts/address-syntax.ts';
import { PcpflowError } from '../contracts/errors.ts';
import { redactText } from '../runtime/redact.ts';
import { claimedSource, parseHookArgv } from './argv.ts';
import {
  DEFAULT_CONFIG_PATH,
  loadHookConfig,
  selectHookCluster,
  type HookCluster,
  type HookConfig,
} from './config.ts';
import { deliverPending, publishEvent } from './deliver.ts';
import { HookArgvError } from './errors.ts';
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

type Delivery = { via: 'redis'; client: RespClient } | { via: 'outbox'; path: string; why: string };

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
  let client: RespClient | undefined;
  let why: string;
  try {
    client = await connect(config, env, deadlineAt);
    const backlog = await deliverPending(client, {
      prefix,
      cluster: cluster.name,
      dir: config.outbox.dir,
      deadlineAt,
      maxEvents: MAX_BACKLOG_PER_RUN,
    });
    if (backlog.remaining === 0) {
      await publishEvent(client, prefix, cluster.name, event.eventId, json);
      return { via: 'redis', client };
    }
    why = `${backlog.remaining} older event(s) still in the outbox`;
  } catch (err) {
    // Redis down, slow, refusing AUTH, or its secret unreadable by this OS user: spool, never drop.
    why = err instanceof Error ? err.message : String(err);
  }
  client?.close();
  return { via: 'outbox', path: spool(config.outbox.dir, cluster.name, event.eventId, json), why };
}

async function fenceExit(
  config: HookConfig,
  cluster: HookCluster,
  eventId: string,
  delivery: Delivery,
  io: HookIo,
): Promise<number> {
  const policy = cluster.fence.mode;
  let detail: string;
  if (delivery.via === 'outbox') {
    detail = 'the fence event could not reach Redis, so nothing can confirm the detach';
  } else {
    try {
      const outcome = await awaitFence(delivery.client, {
        prefix: config.redis.keyPrefix,
        cluster: cluster.name,
        eventId,
        deadlineAt: Date.now() + cluster.fence.timeoutMs,
      });
      if (outcome.confirmed) return EXIT_OK;
      detail = outcome.detail;
    } catch (err) {
      detail = err instanceof Error ? err.message : String(err);
    }
  }
  if (policy === 'fail-closed') {
    io.stderr(
      `pcpflow-hook: fence not confirmed (${detail}); fail-closed: exiting 3 so EFM does not promote`,
    );
    return EXIT_FENCE_VETO;
  }
  io.stderr(`pcpflow-hook: warning: fence not confirmed (${detail}); fail-open: exiting 0, EFM promotes`);
  return EXIT_OK;
}

export async function runHook(argv: readonly string[], env: NodeJS.ProcessEnv, io: HookIo): Promise<number> {
  const startedAt = Date.now();
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

  let event: NodeEvent;
  try {
    const localNode = flags.node ?? (env.PCPFLOW_NODE || undefined);
    event = parseHookArgv(flags.rest, {
      cluster: cluster.name,
      now: new Date(startedAt),
      newId: randomUUID,
      localNode,
    });
  } catch (err) {
    if (err instanceof PcpflowError) await recordRejection(config, cluster, flags.rest, err.message, env);
    return report(err, io);
  }

  const json = JSON.stringify(event);
  let delivery: Delivery;
  try {
    delivery = await deliver(config, cluster, event, json, env, startedAt);
  } catch (err) {
    // The outbox refused the event too: the one way to lose it. Put it where EFM's notification
    // (which carries our stderr) keeps it, so an operator can replay it by hand.
    io.stderr(`pcpflow-hook: ${redactText(err instanceof Error ? err.message : String(err))}`);
    io.stderr(`pcpflow-hook: event NOT delivered: ${json}`);
    return EXIT_INTERNAL;
  }
  if (delivery.via === 'outbox')
    io.stderr(
      `pcpflow-hook: warning: Redis unavailable (${redactText(delivery.why)}); event ${event.eventId} spooled to ${delivery.path}`,
    );
  try {
    return event.type === 'efm.fence'
      ? await fenceExit(config, cluster, event.eventId, delivery, io)
      : EXIT_OK;
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
