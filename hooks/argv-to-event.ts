import type { NodeEvent, NodeEventOf } from '../contracts/events.ts';
import { printable } from '../contracts/address-syntax.ts';
import * as arg from './argument-checks.ts';
import { dedupeKey } from './dedupe.ts';
import { HookArgvError } from './errors.ts';

/**
 * argv (after the global flags) → one NodeEvent. Pure: no I/O, no clock, no randomness except
 * through ctx, so `pcpflow simulate` reads scenario files with the very function the hooks run.
 *
 * Written without zod on purpose: the hook must start in a few milliseconds and zod classic
 * costs ~25 ms to load and build the event schemas. Every event this returns is checked against
 * NodeEventSchema in test/hooks/argv-to-event.test.ts, so the wire format has one definition.
 */
export interface HookContext {
  cluster: string;
  now: Date;
  newId: () => string;
  /** This host's own database address (--node / PCPFLOW_NODE): the subject of resumed, db-failure, isolation. */
  localNode?: string;
}

type Source = 'efm' | 'pgpool' | 'operator';

interface Base {
  eventId: string;
  dedupeKey: string;
  source: Source;
  cluster: string;
  backend: string | null;
  observedAt: string;
  argv: string[];
}

type BaseFn = (
  type: NodeEvent['type'],
  backend: string | null,
  key: readonly (string | number | null)[],
  hashKey?: boolean,
) => Base;

interface Spec {
  source: Source;
  /** Placeholders after the hook name, for messages: `<%h address> <%t p|m|s>`. */
  usage: string;
  min: number;
  max: number;
  build(args: readonly string[], base: BaseFn, ctx: HookContext): NodeEvent;
}

/** Argument name for messages: position counts from the hook source word (efm/pgpool/event). */
const at = (i: number, label: string): arg.ArgName => ({ position: i + 3, label });

function efmLoadBalancer(type: 'efm.attach' | 'efm.detach'): Spec {
  return {
    source: 'efm',
    usage: '<%h address of the node> <%t p|m|s>',
    min: 2,
    max: 2,
    build(a, base) {
      const node = arg.address(at(0, '(%h, address of the node)'), a[0] ?? '');
      const nodeType = arg.efmNodeType(at(1, '(%t, node type)'), a[1] ?? '');
      const ev: NodeEventOf<'efm.attach' | 'efm.detach'> = {
        ...base(type, node, [node, nodeType]),
        type,
        nodeType,
      };
      return ev;
    },
  };
}

function efmPromotion(type: 'efm.fence' | 'efm.post-promotion'): Spec {
  return {
    source: 'efm',
    usage: '<%p new primary> [<%f failed primary>]',
    min: 1,
    max: 2,
    build(a, base) {
      const newPrimary = arg.address(at(0, '(%p, new primary)'), a[0] ?? '');
      const failedPrimary = arg.optionalAddress(at(1, '(%f, failed primary)'), a[1]);
      return { ...base(type, newPrimary, [newPrimary, failedPrimary]), type, newPrimary, failedPrimary };
    },
  };
}

function efmRemote(type: 'efm.remote-pre-promotion' | 'efm.remote-post-promotion'): Spec {
  return {
    source: 'efm',
    usage: '<%p new primary>',
    min: 1,
    max: 1,
    build(a, base) {
      const newPrimary = arg.address(at(0, '(%p, new primary)'), a[0] ?? '');
      return { ...base(type, newPrimary, [newPrimary]), type, newPrimary };
    },
  };
}

function efmLocal(type: 'efm.resumed' | 'efm.db-failure' | 'efm.primary-isolated'): Spec {
  return {
    source: 'efm',
    usage: '(no arguments; the node is --node or PCPFLOW_NODE)',
    min: 0,
    max: 0,
    build(_a, base, ctx) {
      const node =
        ctx.localNode === undefined
          ? null
          : arg.address({ position: 0, label: '(--node / PCPFLOW_NODE)' }, ctx.localNode);
      // Only the local agent reports these, so nothing needs collapsing; and without the node we
      // cannot tell two nodes' failures apart, so an unknown subject must never merge with another.
      const eventBase = base(type, node, [node]);
      if (node === null) eventBase.dedupeKey = `${eventBase.dedupeKey}|unknown-node:${eventBase.eventId}`;
      return { ...eventBase, type };
    },
  };
}

const efmNotification: Spec = {
  source: 'efm',
  usage: '<subject> <body>',
  min: 2,
  max: 2,
  build(a, base) {
    const subject = arg.freeText(at(0, '(notification subject)'), a[0] ?? '');
    const body = arg.freeText(at(1, '(notification body)'), a[1] ?? '');
    return {
      ...base('efm.notification', null, [subject, body], true),
      type: 'efm.notification',
      subject,
      body,
    };
  },
};

const PGPOOL_USAGE = '%d %h %p %D %m %H %M %P %r %R %N %S';

const pgpoolFollowPrimary: Spec = {
  source: 'pgpool',
  usage: PGPOOL_USAGE,
  min: 12,
  max: 12,
  build(a, base) {
    const v = (i: number) => a[i] ?? '';
    const nodeId = arg.pgpoolNodeId(at(0, '(%d, id of the node to follow the new primary)'), v(0), false);
    const host = arg.address(at(1, '(%h, its host)'), v(1));
    const port = arg.pgpoolPort(at(2, '(%p, its port)'), v(2), false);
    const dataDir = arg.dataDir(at(3, '(%D, its data directory)'), v(3));
    const newPrimaryId = arg.pgpoolNodeId(at(4, '(%m, new primary node id)'), v(4), true);
    const newPrimaryHost = arg.pgpoolHost(at(5, '(%H, new primary host)'), v(5));
    const oldMainId = arg.pgpoolNodeId(at(6, '(%M, old main node id)'), v(6), true);
    const oldPrimaryId = arg.pgpoolNodeId(at(7, '(%P, old primary node id)'), v(7), true);
    const newPrimaryPort = arg.pgpoolPort(at(8, '(%r, new primary port)'), v(8), true);
    const rawNewDir = v(9);
    const newPrimaryDataDir = arg.isPgpoolEmpty(rawNewDir)
      ? null
      : arg.dataDir(at(9, '(%R, new primary data directory)'), rawNewDir);
    const oldPrimaryHost = arg.pgpoolHost(at(10, '(%N, old primary host)'), v(10));
    const oldPrimaryPort = arg.pgpoolPort(at(11, '(%S, old primary port)'), v(11), true);
    const backend = host.startsWith('[') || host.includes(':') ? host : `${host}:${port}`;
    const key = [
      nodeId,
      backend,
      newPrimaryId,
      newPrimaryHost,
      newPrimaryPort,
      oldPrimaryId,
      oldPrimaryHost,
      oldPrimaryPort,
    ];
    return {
      ...base('pgpool.follow-primary', backend, key),
      type: 'pgpool.follow-primary',
      nodeId,
      host,
      port,
      dataDir,
      newPrimaryId,
      newPrimaryHost,
      oldMainId,
      oldPrimaryId,
      newPrimaryPort,
      newPrimaryDataDir,
      oldPrimaryHost,
      oldPrimaryPort,
    };
  },
};

function operatorRebuild(type: 'operator.rebuild-started' | 'operator.rebuild-done'): Spec {
  return {
    source: 'operator',
    usage: '<address of the node>',
    min: 1,
    max: 1,
    build(a, base) {
      const node = arg.address(at(0, '(address of the node)'), a[0] ?? '');
      return { ...base(type, node, [node]), type };
    },
  };
}

/** `source name` → spec. EFM 3.x and pgpool < 4.2 spellings are aliases of today's names. */
const HOOKS: ReadonlyMap<string, Spec> = new Map([
  ['efm attach', efmLoadBalancer('efm.attach')],
  ['efm detach', efmLoadBalancer('efm.detach')],
  ['efm fence', efmPromotion('efm.fence')],
  ['efm post-promotion', efmPromotion('efm.post-promotion')],
  ['efm remote-pre-promotion', efmRemote('efm.remote-pre-promotion')],
  ['efm remote-post-promotion', efmRemote('efm.remote-post-promotion')],
  ['efm resumed', efmLocal('efm.resumed')],
  ['efm db-failure', efmLocal('efm.db-failure')],
  ['efm primary-isolated', efmLocal('efm.primary-isolated')],
  ['efm master-isolated', efmLocal('efm.primary-isolated')],
  ['efm notification', efmNotification],
  ['pgpool follow-primary', pgpoolFollowPrimary],
  ['pgpool follow-master', pgpoolFollowPrimary],
  ['event rebuild-started', operatorRebuild('operator.rebuild-started')],
  ['event rebuild-done', operatorRebuild('operator.rebuild-done')],
]);

export const HOOK_NAMES: readonly string[] = [...HOOKS.keys()];

/** Which source a (possibly invalid) invocation claims, for the audit record of a rejection. */
export function claimedSource(argv: readonly string[]): Source {
  if (argv[0] === 'pgpool') return 'pgpool';
  if (argv[0] === 'event') return 'operator';
  return 'efm';
}

function hookList(source?: string): string {
  return HOOK_NAMES.filter((n) => source === undefined || n.startsWith(`${source} `)).join(', ');
}

export function parseHookArgv(argv: readonly string[], ctx: HookContext): NodeEvent {
  if (argv.length > arg.MAX_ARGV)
    throw new HookArgvError(`${argv.length} arguments; a hook takes at most ${arg.MAX_ARGV}`);
  argv.forEach((a, i) => {
    if (a.length > arg.MAX_ARG_LENGTH)
      throw arg.argError(
        { position: i + 1, label: '' },
        `is ${a.length} characters long; at most ${arg.MAX_ARG_LENGTH} are accepted`,
      );
  });
  const [source, name] = argv;
  if (source === undefined)
    throw new HookArgvError('argument 1 (hook source): missing; expected efm, pgpool or event');
  if (source !== 'efm' && source !== 'pgpool' && source !== 'event')
    throw new HookArgvError(`argument 1 (hook source): "${printable(source)}" is not efm, pgpool or event`);
  if (name === undefined)
    throw new HookArgvError(`argument 2 (hook name): missing; ${source} hooks are ${hookList(source)}`);
  const spec = HOOKS.get(`${source} ${name}`);
  if (!spec)
    throw new HookArgvError(
      `argument 2 (hook name): "${printable(name)}" is not a hook; ${source} hooks are ${hookList(source)}`,
    );
  const args = argv.slice(2);
  if (args.length < spec.min || args.length > spec.max) {
    const want = spec.min === spec.max ? `${spec.min}` : `${spec.min} to ${spec.max}`;
    throw new HookArgvError(
      `${source} ${name}: expected ${want} argument(s) ${spec.usage}, got ${args.length}`,
    );
  }
  const observedAt = ctx.now.toISOString();
  const base: BaseFn = (type, backend, key, hashKey) => ({
    eventId: ctx.newId(),
    dedupeKey: dedupeKey(type, ctx.cluster, key, { hash: hashKey }),
    source: spec.source,
    cluster: ctx.cluster,
    backend,
    observedAt,
    argv: [...argv],
  });
  try {
    return spec.build(args, base, ctx);
  } catch (err) {
    if (err instanceof HookArgvError)
      throw new HookArgvError(`${source} ${name}: ${err.message}`, undefined, { cause: err });
    throw err;
  }
}
