import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ConfigSchema, type Config } from '../../contracts/config.ts';
import type { AuditRecord } from '../../contracts/audit.ts';
import type { NodeEvent } from '../../contracts/events.ts';
import { parseHookArgv } from '../../hooks/argv-to-event.ts';
import { AuditStore } from '../../audit/store.ts';
import { pollUntil } from '../../lab/wait.ts';
import { createPcpOps, type PcpNode } from '../../pcp/index.ts';
import { publishEvent, newEventId } from '../../workers/intake.ts';
import { atRest } from '../../workers/at-rest.ts';
import type { LabHandle } from '../../lab/index.ts';

/** The lab's config with test tuning: short locks so a killed worker's job returns quickly. */
export function testConfig(lab: LabHandle, patch: (c: Config) => void = () => undefined): { config: Config; path: string } {
  const config = ConfigSchema.parse(structuredClone(lab.config));
  config.workers = { concurrency: 8, lockDurationMs: 2_000, stalledIntervalMs: 1_000 };
  config.log.level = 'warn';
  const cluster = config.clusters[0];
  if (cluster) {
    cluster.timeouts = { connectMs: 1_000, readMs: 1_000, verifyMs: 8_000, pollIntervalMs: 25 };
    // pgpool 4.3's PCP process is restarted after every failover/failback and, now and then, takes
    // tens of seconds to accept connections again: the retry budget (~55 s) rides that out.
    cluster.retry = { attempts: 20, backoffMs: 200, maxBackoffMs: 3_000, jitter: 0.2 };
    cluster.reconcileIntervalMs = 60_000;
  }
  patch(config);
  const path = join(lab.dir, `test-config-${process.pid}-${Math.random().toString(36).slice(2, 8)}.json`);
  writeFileSync(path, JSON.stringify(config));
  return { config, path };
}

let seq = 0;
/** An event exactly as the hook would build it from this argv. */
export function hookEvent(argv: string[], cluster = 'lab', localNode?: string): NodeEvent {
  return parseHookArgv(argv, { cluster, now: new Date(), newId: () => `${newEventId()}-${seq++}`, localNode });
}

export async function publish(redis: Redis, prefix: string, event: NodeEvent): Promise<NodeEvent> {
  await publishEvent(redis, prefix, event);
  return event;
}

export async function records(redis: Redis, prefix: string, cluster = 'lab'): Promise<AuditRecord[]> {
  return (await new AuditStore(redis, prefix).query(cluster)).map((r) => r.record);
}

export async function nodeOf(config: Config, address: string): Promise<PcpNode | undefined> {
  const cluster = config.clusters[0];
  if (!cluster) return undefined;
  const { nodes } = await createPcpOps(cluster).nodes();
  return nodes.find((n) => n.host === address);
}

/** Waits for pgpool to show `status` for the backend at `address` (polled with a deadline). */
export function waitNode(config: Config, address: string, want: (n: PcpNode) => boolean, what: string, timeoutMs = 60_000): Promise<PcpNode> {
  return pollUntil(what, async () => {
    const n = await nodeOf(config, address);
    return n && want(n) ? n : undefined;
  }, { timeoutMs, intervalMs: 50 });
}

/** Waits until an audit record satisfies `pred`. */
export function waitRecord(redis: Redis, prefix: string, pred: (r: AuditRecord) => boolean, what: string, timeoutMs = 60_000): Promise<AuditRecord> {
  return pollUntil(what, async () => (await records(redis, prefix)).find(pred), { timeoutMs, intervalMs: 50 });
}

/** Every intake entry decided and no action in flight: the cluster is at rest. */
export function waitSettled(redis: Redis, prefix: string, cluster = 'lab', timeoutMs = 60_000): Promise<true> {
  return pollUntil('the cluster at rest (nothing undecided, nothing in flight)', async () => ((await atRest(redis, prefix, cluster)) ? true : undefined), {
    timeoutMs,
    intervalMs: 50,
  });
}

export const attached = (n: PcpNode) => n.status === 'up' || n.status === 'waiting';
