import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { linkRecords, GENESIS } from '../../audit/chain.ts';
import type { AuditBody } from '../../contracts/audit.ts';
import type { NodeEvent } from '../../contracts/events.ts';
import {
  decide,
  decisionBodies,
  withPolicy,
  type ClusterSnapshot,
  type DecisionPolicy,
} from '../../machines/index.ts';
import { formatVerify, parseAuditLines, verifyDecisions } from '../../audit/verify.ts';
import { A, B, C, CLUSTER, threeNodes } from '../machines/support.ts';

/**
 * A fuzzed production run with faults, recorded the way the decider records it, then verified
 * with `replay --verify`'s core: every decision must come out identical. Faults: failed attempts
 * and retries, actions that give up, late and repeated outcomes, duplicate reports from several
 * agents, fences decided after their fail-closed timeout, drift, and policy changes mid-run.
 */

/** A small deterministic generator: a failing seed reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const ADDRS = [A, B, C];

function fuzzedAudit(seed: number, steps: number): string {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  let s: ClusterSnapshot = threeNodes();
  let policy: DecisionPolicy = { ...s.policy, fenceMode: 'fail-closed', fenceTimeoutMs: 10_000 };
  let clock = Date.parse('2026-11-29T13:20:00.000Z');
  let n = 0;
  const bodies: AuditBody[] = [];
  const inFlight: Array<{ actionId: string; type: string; backend: string; attempt: number }> = [];
  const done: string[] = [];
  const recent: NodeEvent[] = [];
  const mk = (type: NodeEvent['type'], backend: string | null, rest: Record<string, unknown>, source: NodeEvent['source'] = 'efm', lateMs = 0): NodeEvent => {
    n += 1;
    const id = `fz${seed}-${String(n).padStart(5, '0')}`;
    return {
      eventId: id,
      dedupeKey: `${type}|${backend ?? '-'}|${n}`,
      source,
      cluster: CLUSTER,
      backend,
      observedAt: new Date(clock - lateMs).toISOString(),
      argv: [],
      type,
      ...rest,
    } as NodeEvent;
  };
  let decided = 0;
  const decideOne = (e: NodeEvent): void => {
    const before = withPolicy(s, policy);
    const at = new Date(clock);
    const d = decide(before, e, at);
    // Checkpoints as the decider writes them: the first, every 20th, and on a policy change.
    const checkpoint = decided++ % 20 === 0 || before !== s;
    bodies.push(...decisionBodies(CLUSTER, e, checkpoint ? before : null, d, at));
    for (const a of d.actions) inFlight.push({ actionId: a.actionId, type: a.type, backend: a.backend, attempt: 0 });
    s = d.snapshot;
    recent.push(e);
  };
  for (let i = 0; i < steps; i++) {
    clock += Math.floor(r() * 4000);
    const roll = r();
    if (roll < 0.4 && inFlight.length) {
      const idx = Math.floor(r() * inFlight.length);
      const a = inFlight[idx];
      if (!a) continue;
      a.attempt += 1;
      const res = r();
      const result = res < 0.55 ? 'changed' : res < 0.65 ? 'already' : res < 0.9 ? 'failed' : 'gave-up';
      bodies.push({ kind: 'action-attempt', cluster: CLUSTER, at: new Date(clock).toISOString(), backend: a.backend, actionId: a.actionId, attempt: a.attempt, outcome: result, note: `attempt ${a.attempt}: ${result}` });
      if (result === 'failed' && a.attempt < 4) continue;
      const final = result === 'failed' ? 'gave-up' : result;
      inFlight.splice(idx, 1);
      done.push(a.actionId);
      decideOne(mk('action.outcome', a.backend, { actionId: a.actionId, action: a.type, result: final, attempt: a.attempt, ...(final === 'gave-up' ? { reason: 'pgpool unreachable' } : {}) }, 'executor'));
    } else if (roll < 0.45 && done.length) {
      // A late or repeated outcome (a worker that crashed after reporting).
      const id = pick(done);
      decideOne(mk('action.outcome', null, { actionId: id, action: 'attach', result: 'changed', attempt: 1 }, 'executor'));
    } else if (roll < 0.52 && recent.length) {
      // Another EFM agent reports the same change.
      const prev = pick(recent);
      if (prev.source === 'efm') decideOne({ ...prev, eventId: `${prev.eventId}-dup${i}`, observedAt: new Date(clock).toISOString() });
    } else if (roll < 0.55) {
      policy = { ...policy, fenceMode: policy.fenceMode === 'fail-closed' ? 'fail-open' : 'fail-closed', detachHealthyPrimary: r() < 0.3 };
    } else {
      const b = pick(ADDRS);
      const other = pick(ADDRS);
      const k = Math.floor(r() * 9);
      const t = pick(['primary', 'standby'] as const);
      switch (k) {
        case 0:
          decideOne(mk('efm.detach', b, { nodeType: t }));
          break;
        case 1:
          decideOne(mk('efm.attach', b, { nodeType: t }));
          break;
        case 2:
          // Some fences arrive long after EFM called them (Redis or the workers were down).
          decideOne(mk('efm.fence', other, { newPrimary: other, failedPrimary: b }, 'efm', r() < 0.5 ? 60_000 : 0));
          break;
        case 3:
          decideOne(mk('efm.post-promotion', other, { newPrimary: other, failedPrimary: other === b ? null : b }));
          break;
        case 4: {
          const host = b.split(':')[0] ?? b;
          decideOne(
            mk('pgpool.follow-primary', b, { nodeId: ADDRS.indexOf(b), host, port: 5432, dataDir: '/d', newPrimaryId: null, newPrimaryHost: null, oldMainId: null, oldPrimaryId: null, newPrimaryPort: null, newPrimaryDataDir: null, oldPrimaryHost: null, oldPrimaryPort: null }, 'pgpool'),
          );
          break;
        }
        case 5:
          decideOne(mk(r() < 0.5 ? 'operator.rebuild-started' : 'operator.rebuild-done', b, {}, 'operator'));
          break;
        case 6:
          decideOne(mk('reconciler.drift', b, { nodeId: ADDRS.indexOf(b), observed: { status: pick(['up', 'down', 'waiting'] as const), role: t }, expected: 'x' }, 'reconciler'));
          break;
        case 7:
          decideOne(mk('efm.notification', null, { subject: 'EFM says hello', body: '' }));
          break;
        default:
          decideOne(mk('efm.resumed', null, {}));
      }
    }
  }
  const { records } = linkRecords(GENESIS, bodies);
  return records.map((x) => JSON.stringify(x)).join('\n');
}

test('replay --verify: a fuzzed run with faults re-decides identically (12 seeds × 300 steps)', () => {
  let total = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const text = fuzzedAudit(seed, 300);
    const result = verifyDecisions(parseAuditLines(text));
    assert.equal(result.difference, null, `seed ${seed}: ${formatVerify(result)}`);
    assert.equal(result.withoutSnapshot, 0);
    assert.ok(result.identical > 150, `seed ${seed}: only ${result.identical} decisions`);
    total += result.identical;
  }
  assert.ok(total > 1800);
});

test('replay --verify names the first decision that differs', () => {
  const lines = fuzzedAudit(7, 200).split('\n');
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  // An edited sentence.
  const target = records.findIndex((x, i) => i > 50 && x.kind === 'decision' && x.payload !== undefined);
  const edited = records.map((x, i) => (i === target ? { ...x, note: 'something else' } : x));
  const r1 = verifyDecisions(parseAuditLines(edited.map((x) => JSON.stringify(x)).join('\n')));
  assert.equal(r1.difference?.eventId, records[target]?.eventId);
  assert.match(r1.difference?.what ?? '', /note differs/);
  assert.match(formatVerify(r1), /^DIFFERS: decision of event fz7-/);

  // A decision removed: the next one starts from a state no recorded decision left.
  const drop = records.findIndex((x, i) => i > 60 && x.kind === 'decision' && (x.actions as unknown[] | undefined)?.length);
  const dropped = records.filter((x, i) => !(x.eventId === records[drop]?.eventId && i >= drop && i < drop + 6));
  const r2 = verifyDecisions(parseAuditLines(dropped.map((x) => JSON.stringify(x)).join('\n')));
  assert.ok(r2.difference, 'a missing decision is found');
});

test('the policy travels with the snapshot: a late fail-closed fence replays as ignored, and differs if the policy is edited', () => {
  const at = new Date('2026-11-29T13:22:00.000Z');
  const before = withPolicy(threeNodes(), { ...threeNodes().policy, fenceMode: 'fail-closed', fenceTimeoutMs: 10_000 });
  const fence: NodeEvent = {
    eventId: 'fence-late-0001',
    dedupeKey: 'fence|late',
    source: 'efm',
    cluster: CLUSTER,
    backend: B,
    observedAt: new Date(at.getTime() - 60_000).toISOString(),
    argv: [],
    type: 'efm.fence',
    newPrimary: B,
    failedPrimary: A,
  };
  const d = decide(before, fence, at);
  assert.deepEqual(d.actions, []);
  const { records } = linkRecords(GENESIS, decisionBodies(CLUSTER, fence, before, d, at));
  const ok = verifyDecisions(parseAuditLines(records.map((x) => JSON.stringify(x)).join('\n')));
  assert.equal(ok.difference, null);
  assert.equal(ok.identical, 1);
  const edited = records.map((x) => (x.snapshot ? { ...x, snapshot: { ...(x.snapshot as ClusterSnapshot), policy: { ...before.policy, fenceMode: 'fail-open' } } } : x));
  const bad = verifyDecisions(parseAuditLines(edited.map((x) => JSON.stringify(x)).join('\n')));
  assert.match(bad.difference?.what ?? '', /differs|not produced/);
});

test('pcpflow replay --verify FILE: exit 0 when identical, exit 1 naming the first decision that differs', () => {
  const cli = fileURLToPath(new URL('../../bin/pcpflow.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'pcpflow-verify-'));
  try {
    const good = join(dir, 'good.jsonl');
    const text = fuzzedAudit(3, 120);
    writeFileSync(good, text);
    const ok = spawnSync(process.execPath, [cli, 'replay', '--verify', good], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /decision\(s\) of c1 decided again from their recorded snapshots: all identical/);
    const records = text.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const i = records.findIndex((x, n) => n > 20 && x.kind === 'decision' && (x.actions as unknown[] | undefined)?.length);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, records.map((x, n) => JSON.stringify(n === i ? { ...x, actions: [] } : x)).join('\n'));
    const differs = spawnSync(process.execPath, [cli, 'replay', '--verify', bad], { encoding: 'utf8' });
    assert.equal(differs.status, 1);
    assert.match(differs.stdout, new RegExp(`^DIFFERS: decision of event ${String(records[i]?.eventId).replace(/\./g, '\\.')} .*: record \\d+ of the decision: actions differs`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
