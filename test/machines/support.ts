import type { NodeEvent } from '../../contracts/events.ts';
import { initialSnapshot, type ClusterSnapshot } from '../../machines/index.ts';

export const A = '127.0.0.11:5432';
export const B = '127.0.0.12:5432';
export const C = '127.0.0.13:5432';
export const CLUSTER = 'c1';

export function threeNodes(policy?: { detachHealthyPrimary: boolean }): ClusterSnapshot {
  return initialSnapshot({
    cluster: CLUSTER,
    backends: [
      { address: A, role: 'primary', attached: true },
      { address: B, role: 'standby', attached: true },
      { address: C, role: 'standby', attached: true },
    ],
    ...(policy ? { policy } : {}),
  });
}

/** Builds events with deterministic ids; `key` defaults to a fresh dedupe key per event. */
export function eventFactory(cluster = CLUSTER) {
  let n = 0;
  return function ev<T extends NodeEvent['type']>(
    type: T,
    rest: Omit<Extract<NodeEvent, { type: T }>, 'eventId' | 'dedupeKey' | 'source' | 'cluster' | 'observedAt' | 'argv' | 'type'> & {
      dedupeKey?: string;
      source?: NodeEvent['source'];
    },
  ): NodeEvent {
    n += 1;
    const eventId = `evt-${String(n).padStart(6, '0')}`;
    return {
      eventId,
      dedupeKey: eventId,
      source: 'efm',
      cluster,
      observedAt: '2024-01-01T00:00:00.000Z',
      argv: [],
      type,
      ...rest,
    } as NodeEvent;
  };
}
