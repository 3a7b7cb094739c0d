import { join } from 'node:path';
import type { ClusterConfig } from '../../contracts/config.ts';
import { createRedis } from '../../runtime/redis.ts';
import { atRest } from '../../workers/at-rest.ts';
import type { LabHandle } from '../lab.ts';
import { callHook } from './hook-call.ts';
import { formatView, mismatches, readView, type ViewRow } from './pgpool-view.ts';
import { stopOpenProbes } from './read-probe.ts';
import type { DrillContext, Scenario } from './scenarios.ts';

export interface StepResult {
  scenario: string;
  step: string;
  ok: boolean;
  ms: number;
  view: ViewRow[];
  problems: string[];
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
          const calm = await atRest(redis, prefix, cluster.name);
          view = await readView(lab, cluster).catch(() => view);
          problems = view.length ? mismatches(view, expected, { sqlUnavailable: step.sqlUnavailable }) : ['pgpool PCP unreadable'];
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
        opts.say(`${formatView(view)}\n  ${ok ? 'OK' : 'MISMATCH'} in ${(ms / 1000).toFixed(2)} s${ok ? '' : `:\n    ${problems.join('\n    ')}`}`);
        results.push({ scenario: scenario.name, step: step.title, ok, ms, view, problems });
        if (!ok) return results;
      }
    }
    return results;
  } finally {
    await stopOpenProbes();
    redis.disconnect();
  }
}

export function drillLogDir(lab: LabHandle): string {
  return join(lab.dir, 'log');
}
