import type { AuditBody, AuditRecord } from '../contracts/audit.ts';
import { keys } from '../contracts/keys.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { formatHead, linkRecords, parseHead, verifyChain, type ChainHead, type VerifyResult } from './chain.ts';
import { AuditWriteError } from './errors.ts';
import { appendJsonl } from './jsonl-sink.ts';
import { jsonlHead, resetBody } from './anchor.ts';
import { appendAudit } from './scripts.ts';
import { queryAudit, readAuditStream, type AuditQuery, type RawAuditEntry, type StoredRecord } from './read.ts';

export type { AuditQuery, RawAuditEntry, StoredRecord } from './read.ts';

/** What a writer links onto: Redis's head, or the anchor when Redis lost the chain (then `reset` comes first). */
export interface LinkPlan {
  base: ChainHead;
  reset: AuditBody | null;
}

/**
 * Writes linked records together with whatever must land with them (one script); false when the
 * head is no longer `expectedHead`. `streamMaxLen` is the cluster's trim length.
 */
export type RecordsWriter = (w: { expectedHead: string | null; nextHead: string; records: AuditRecord[]; streamMaxLen: number }) => Promise<boolean>;

export interface ChainResetInfo {
  cluster: string;
  redisSeq: number;
  anchorSeq: number;
  source: string;
}

/**
 * The audit trail of each cluster: a Redis stream of hash-chained records. Appends are a
 * compare-and-set on the chain head (Lua), so concurrent writers (decider, executors on several
 * hosts) interleave without ever forking the chain.
 */
export class AuditStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly opts: {
      streamMaxLen?: (cluster: string) => number;
      jsonlFile?: (cluster: string) => string | undefined;
      /** Called once per detected loss, before the reset record is written: log it loudly. */
      onReset?: (info: ChainResetInfo) => void;
    } = {},
  ) {}

  /** The newest head this process saw per cluster, and whether its JSONL tail was read yet. */
  private readonly anchors = new Map<string, { head: ChainHead; source: string }>();
  /** This process's appends per cluster still waiting for their answer (settled()). */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly jsonlRead = new Set<string>();

  /** Remembers a head this process wrote or read, if newer than the one it knew. */
  noteHead(cluster: string, head: ChainHead, source = 'seen by this worker'): void {
    const cur = this.anchors.get(cluster);
    if (!cur || head.seq > cur.head.seq) this.anchors.set(cluster, { head, source });
  }

  /** The newest head this process wrote or saw ("seq hash"), if any: a guess a compare-and-set checks. */
  lastSeenHead(cluster: string): string | undefined {
    const a = this.anchors.get(cluster);
    return a ? formatHead(a.head) : undefined;
  }

  private async anchor(cluster: string): Promise<{ head: ChainHead; source: string } | null> {
    const file = this.opts.jsonlFile?.(cluster);
    if (file && !this.jsonlRead.has(cluster)) {
      this.jsonlRead.add(cluster);
      const h = await jsonlHead(file, cluster);
      if (h) this.noteHead(cluster, h, `the last record of ${file}`);
    }
    return this.anchors.get(cluster) ?? null;
  }

  /**
   * Where the next records link on. Normally Redis's head. When Redis's head is behind the anchor,
   * Redis lost records: link onto the anchor instead and put a reset record first, so the gap is
   * named in Redis and the JSONL copy stays one chain.
   */
  async linkPlan(cluster: string, headText: string | null): Promise<LinkPlan> {
    const redisHead = parseHead(headText);
    const a = await this.anchor(cluster);
    if (!a || redisHead.seq >= a.head.seq) return { base: redisHead, reset: null };
    this.opts.onReset?.({ cluster, redisSeq: redisHead.seq, anchorSeq: a.head.seq, source: a.source });
    return { base: a.head, reset: resetBody(cluster, redisHead, a.head, a.source, new Date()) };
  }

  async head(cluster: string): Promise<ChainHead> {
    return parseHead(await this.redis.get(keys.auditHead(this.prefix, cluster)));
  }

  /** Appends records; with `write`, through a caller's script that writes more keys atomically with them. */
  async append(cluster: string, bodies: readonly AuditBody[], write?: RecordsWriter): Promise<AuditRecord[]> {
    if (bodies.length === 0) return [];
    const appending = this.appendNow(cluster, bodies, write);
    const settle = (): undefined => undefined;
    // Settles with every append in flight for the cluster, the earlier ones included.
    const done = Promise.all([this.inFlight.get(cluster), appending.then(settle, settle)]).then(settle);
    this.inFlight.set(cluster, done);
    void done.then(() => {
      if (this.inFlight.get(cluster) === done) this.inFlight.delete(cluster);
    });
    return appending;
  }

  /**
   * Resolves once this process's appends to the cluster's chain in flight now have their answer.
   * A script that writes records and an intake entry together wakes the decider before its own
   * reply is read; a commit that waits for it links onto the head it wrote instead of finding the
   * head moved and relinking (a read and a second commit).
   */
  settled(cluster: string): Promise<void> | undefined {
    return this.inFlight.get(cluster);
  }

  private async appendNow(cluster: string, bodies: readonly AuditBody[], write?: RecordsWriter): Promise<AuditRecord[]> {
    // First on the head this process wrote or saw last (usually still the head: the decider and
    // the executor of a worker share this store), saving the read; the script refuses it if not.
    const known = await this.anchor(cluster);
    if (known) {
      const { records, head } = linkRecords(known.head, bodies);
      if (await this.tryAppend(cluster, formatHead(known.head), records, head, write)) return records;
    }
    for (let tries = 0; tries < 50; tries++) {
      const headText = await this.redis.get(keys.auditHead(this.prefix, cluster));
      const plan = await this.linkPlan(cluster, headText);
      const { records, head } = linkRecords(plan.base, plan.reset ? [plan.reset, ...bodies] : bodies);
      if (await this.tryAppend(cluster, headText, records, head, write)) return records;
    }
    throw new AuditWriteError(`the audit chain of cluster ${cluster} kept changing under 50 append attempts; is a writer looping?`);
  }

  private async tryAppend(cluster: string, expectedHead: string | null, records: AuditRecord[], head: ChainHead, write?: RecordsWriter): Promise<boolean> {
    const w = { expectedHead, nextHead: formatHead(head), records, streamMaxLen: this.opts.streamMaxLen?.(cluster) ?? 0 };
    const ok = write ? await write(w) : await appendAudit(this.redis, { prefix: this.prefix, cluster, ...w });
    if (!ok) return false;
    this.noteHead(cluster, head);
    await this.mirror(cluster, records);
    return true;
  }

  /** Copies committed records to the cluster's JSONL file, when one is configured. */
  async mirror(cluster: string, records: readonly AuditRecord[]): Promise<void> {
    const file = this.opts.jsonlFile?.(cluster);
    if (file) await appendJsonl(file, records);
  }

  readRaw(cluster: string, start = '-', end = '+'): Promise<RawAuditEntry[]> {
    return readAuditStream(this.redis, this.prefix, cluster, start, end);
  }

  query(cluster: string, q: AuditQuery = {}): Promise<StoredRecord[]> {
    return queryAudit(this.redis, this.prefix, cluster, q);
  }

  async verify(cluster: string): Promise<VerifyResult> {
    return verifyChain(await this.readRaw(cluster), { trimmed: (this.opts.streamMaxLen?.(cluster) ?? 0) > 0 });
  }
}
