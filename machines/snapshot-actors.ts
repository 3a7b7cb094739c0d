import { formatAddress, parseAddress } from '../contracts/address-syntax.ts';
import { ClusterNameSchema } from '../contracts/config.ts';
import { backendMachine, type BackendSnapshot } from './backend-machine.ts';
import type { Origin } from './backend-types.ts';
import { SnapshotDecodeError } from './errors.ts';
import { isLeafPath, pathToValue, valueToPath } from './state-path.ts';
import { initial } from './step.ts';
import {
  ClusterSnapshotSchema,
  DEFAULT_DEDUPE_WINDOW_MS,
  SNAPSHOT_SCHEMA_VERSION,
  type ClusterSnapshot,
  type InitialBackend,
  type InitialSnapshotInput,
  type PersistedBackend,
} from './snapshot.ts';

/**
 * Between the persisted snapshot (snapshot.ts, plain JSON) and the backend machine's own
 * snapshots: what deciding and bootstrapping need, and the only part of the codec that needs
 * xstate at run time, so that reading a stored snapshot (`pcpflow status`) does not load it.
 */

function canonical(address: string): string {
  const parsed = parseAddress(address);
  if (!parsed) throw new SnapshotDecodeError(`"${address.slice(0, 80)}" is not host or host:port`);
  return formatAddress(parsed);
}

function originOf(b: InitialBackend): Origin {
  if (b.role === 'primary') return b.attached ? 'primary' : 'standby-detached';
  return b.attached ? 'standby-attached' : 'standby-detached';
}

/**
 * The persisted form of a backend: its state value and context. The machine has no children,
 * history states or actor references in its context, so these two fields are all that
 * getPersistedSnapshot would keep; they are taken as they are rather than copied through it and
 * parsed again on every decision (the snapshot is validated where it is read back: decodeSnapshot).
 */
export function persistBackend(s: BackendSnapshot): PersistedBackend {
  return { value: s.value, context: s.context };
}

/** Rebuilds a machine snapshot from its persisted parts; no actor is created or started. */
export function restoreBackend(p: PersistedBackend): BackendSnapshot {
  const path = valueToPath(p.value);
  if (!isLeafPath(path)) throw new SnapshotDecodeError(`unknown backend state ${path}`);
  return backendMachine.resolveState({ value: pathToValue(path), context: p.context });
}

/**
 * The cluster as pcpflow first meets it. A primary that pgpool does not have attached starts
 * `detached`, not `promoted`: pcpflow never claims a primary pgpool cannot route writes to.
 */
export function initialSnapshot(input: InitialSnapshotInput): ClusterSnapshot {
  const cluster = ClusterNameSchema.safeParse(input.cluster);
  if (!cluster.success) throw new SnapshotDecodeError(`cluster name "${input.cluster.slice(0, 64)}" is invalid`);
  const primaries = input.backends.filter((b) => b.role === 'primary' && b.attached);
  if (primaries.length > 1) throw new SnapshotDecodeError(`${primaries.length} attached primaries given; pgpool has at most one`);
  const backends = input.backends.map((b) => persistBackend(initial({ address: canonical(b.address), origin: originOf(b) })));
  return ClusterSnapshotSchema.parse({
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    cluster: cluster.data,
    policy: {
      detachHealthyPrimary: input.policy?.detachHealthyPrimary ?? false,
      dedupeWindowMs: input.policy?.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS,
      fenceMode: input.policy?.fenceMode ?? 'fail-open',
      fenceTimeoutMs: input.policy?.fenceTimeoutMs ?? 10_000,
    },
    backends,
    seen: [],
    deferredPromotion: null,
    deferredEvents: [],
    maintenance: [],
    heldEvents: [],
  });
}
