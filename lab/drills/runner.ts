import type { ClusterConfig } from '../../contracts/config.ts';
import { createRedis } from '../../runtime/redis.ts';
import { atRest } from '../../workers/at-rest.ts';
import type { LabHandle } from '../lab.ts';
import { callCli, callHook } from './hook-call.ts';

import { thawPgpool } from '../pgpools.ts';
import { formatView, mismatches, readView, type ViewRow } from './pgpool-view.ts';
import { stopOpenProbes } from './read-probe.ts';
import type { DrillContext, Scenario } from './drill.ts';

export interface StepResult {
  scenario: string;
  step: string;
  ok: boolean;
  ms: number;
  view: ViewRow[];
  problems: string[];
  /** A step with measureFrom: time from that mark (e.g. leader-loss) to the converged view. */
  measured?: { from: string; ms: number };
}

export async function runScenarios(
  lab: LabHandle,
  scenarios: readonly Scenario[],
  opts: { say: (line: string) => void; stepTimeoutMs?: number },
): Promise<StepResult[]> {
  const cluster: ClusterConfig | undefined = lab.config.clusters[0];
  if (!cluster) throw new Error('lab config has no cluster');
  const redis = createRedis(lab.config.redis, 'worker');
  const prefix = lab.config.redis.keyPrefix;
  const results: StepResult[] = [];
  const [first, ...rest] = lab.nodes.map((n) => n.name);
  const ctx: DrillContext = {
    lab,
    roles: { primary: first ?? 'pg0', standbys: rest },
    say: opts.say,
    reconcileIntervalMs: cluster.reconcileIntervalMs,
    async pcpflow(argv, o = {}) {
      const r = await callCli(lab.configPath, cluster.name, argv);
      opts.say(`    pcpflow ${argv.join(' ')} → exit ${r.code} in ${r.ms.toFixed(0)} ms`);
      if (r.code !== (o.expectCode ?? 0)) throw new Error(`pcpflow ${argv.join(' ')} exited ${r.code}, expected ${o.expectCode ?? 0}: ${r.stderr || r.stdout}`);
      return r.stdout;
    },
    pgpoolsOut: new Set(),
    marks: new Map(),
    async hook(argv, o = {}) {
      const r = await callHook(lab.configPath, cluster.name, argv, { node: o.node });
      opts.say(`    hook ${argv.join(' ')}${o.node ? ` (agent ${o.node})` : ''} → exit ${r.code} in ${r.ms.toFixed(0)} ms${r.stderr ? `: ${r.stderr.split('\n')[0]}` : ''}`);
      if (r.code !== (o.expectCode ?? 0)) throw new Error(`hook ${argv.join(' ')} exited ${r.code}, expected ${o.expectCode ?? 0}: ${r.stderr}`);
    },
  };
  try {
    for (const scenario of scenarios) {
      opts.say(`== ${scenario.name}: ${scenario.summary}`);
      for (const step of scenario.steps) {
        const started = performance.now();
        opts.say(`  -- ${step.title}`);
        await step.run(ctx);
        const expected = step.expect(ctx);
        const deadline = Date.now() + (opts.stepTimeoutMs ?? 60_000);
        let view: ViewRow[] = [];
        let problems: string[] = ['not read yet'];
        for (;;) {
          const calm = await atRest(redis, prefix, cluster.name, { exceptWaits: step.waitsOnStreaming === true });
          view = await readView(lab, cluster, { out: ctx.pgpoolsOut }).catch(() => view);
          problems = view.length ? mismatches(view, expected, { sqlUnavailable: step.sqlUnavailable }) : ['pgpool PCP unreadable'];
          if (problems.length === 0 && step.converged) problems = await step.converged(ctx).catch((err: unknown) => [`not converged: ${err instanceof Error ? err.message : String(err)}`]);
          if (calm && problems.length === 0) break;
          if (Date.now() > deadline) {
            if (!calm) problems.push('pcpflow still had undecided events or actions in flight at the deadline');
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        if (problems.length === 0 && step.check) problems.push(...(await step.check(ctx)));
        const ms = performance.now() - started;
        const ok = problems.length === 0;
        const from = step.measureFrom ? ctx.marks.get(step.measureFrom) : undefined;
        const measured = ok && from !== undefined ? { from: step.measureFrom ?? '', ms: performance.now() - from } : undefined;
        if (measured) opts.say(`  ${measured.from} → converged view on every running pgpool: ${(measured.ms / 1000).toFixed(2)} s`);
        opts.say(`${formatView(view)}\n  ${ok ? 'OK' : 'MISMATCH'} in ${(ms / 1000).toFixed(2)} s${ok ? '' : `:\n    ${problems.join('\n    ')}`}`);
        results.push({ scenario: scenario.name, step: step.title, ok, ms, view, problems, ...(measured ? { measured } : {}) });
        if (!ok) return results;
      }
    }
    return results;
  } finally {
    await stopOpenProbes();
    redis.disconnect();
    // A drill that stopped half-way must not leave a pgpool frozen (SIGSTOP) behind it.
    for (const role of ctx.pgpoolsOut) {
      try {
        thawPgpool(lab, role);
      } catch {
        // not running (killed or stopped by the drill): nothing to thaw
      }
    }
  }
}
