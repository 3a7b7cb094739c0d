import type { LabHandle } from '../lab.ts';
import * as nodes from '../nodes.ts';
import { createPcpOps } from '../../pcp/index.ts';
import { pollUntil } from '../wait.ts';
import type { Expectation } from './pgpool-view.ts';
import { formatReadReport, startReadProbe, type ReadProbe } from './read-probe.ts';
import { isAttached } from '../../contracts/pgpool-node.ts';

/**
 * The seed architecture's failover scenarios, played for real on the lab: PostgreSQL is really
 * stopped, promoted and rebuilt, and the hooks are called in the order EFM calls them
 * (research/efm-hooks.md §1.4). Each step ends with what pgpool must show.
 */
export interface DrillContext {
  lab: LabHandle;
  /** Calls the real hook executable; `node` is the EFM agent's own address for address-less hooks. */
  hook(argv: string[], opts?: { node?: string; expectCode?: number }): Promise<void>;
  /** Current PostgreSQL primary and standbys by lab node name (tracked across scenarios). */
  roles: { primary: string; standbys: string[] };
  say(line: string): void;
  /** Runs the real `pcpflow` command (operator commands); throws unless it exits `expectCode` (0). */
  pcpflow(argv: string[], opts?: { expectCode?: number }): Promise<string>;
  /** How often the lab's reconciler looks at pgpool. */
  reconcileIntervalMs: number;
  /** pgpools (by lab role) a drill has killed, stopped or frozen: their views are not checked. */
  pgpoolsOut: Set<string>;
  /** Named moments (performance.now()) a step can measure its convergence from. */
  marks: Map<string, number>;
}

export interface DrillStep {
  title: string;
  run(ctx: DrillContext): Promise<void>;
  expect(ctx: DrillContext): Expectation;
  /** pgpool cannot open sessions in this step (a dead backend still counted up), so no SHOW pool_nodes. */
  sqlUnavailable?: boolean;
  /** More than pgpool's table: problems found once the table matches (e.g. stale reads). */
  check?(ctx: DrillContext): Promise<string[]>;
  /** More conditions polled with the table until they hold (e.g. the watchdog elected a new leader); problems, or none. */
  converged?(ctx: DrillContext): Promise<string[]>;
  /** Print the time from this mark to the converged view when the step passes. */
  measureFrom?: string;
  /** The step ends with standbys waiting to stream from a new primary (kept out at the fence): those waits may still run. */
  waitsOnStreaming?: boolean;
}

export interface Scenario {
  name: string;
  summary: string;
  steps: DrillStep[];
  /** Pgpools the scenario needs: 1 = the classic single-pgpool drills; 3 = watchdog drills. */
  pgpools?: number;
}

export const addr = (ctx: DrillContext, name: string) => ctx.lab.nodes.find((n) => n.name === name)?.address ?? name;

export function allUp(ctx: DrillContext): Expectation {
  const e: Expectation = { [ctx.roles.primary]: { status: 'up', role: 'primary' } };
  for (const s of ctx.roles.standbys) e[s] = { status: 'up', role: 'standby' };
  return e;
}

/** The standby a DBA would pick: EFM promotes the most advanced one; on an idle lab, the first. */
function bestStandby(ctx: DrillContext): string {
  const s = ctx.roles.standbys[0];
  if (!s) throw new Error('no standby left to promote');
  return s;
}

const standbyDown: Scenario = {
  name: 'standby-down',
  summary: 'a standby fails: EFM calls the detach hook; pgpool stops balancing reads to it',
  steps: [
    {
      title: 'stop the last standby (immediate) and call `efm detach <standby> s` from its neighbours',
      async run(ctx) {
        const victim = ctx.roles.standbys[ctx.roles.standbys.length - 1] ?? '';
        await nodes.stopNode(ctx.lab, victim, { immediate: true });
        // Two agents report the same failure: pcpflow must act once.
        await ctx.hook(['efm', 'detach', addr(ctx, victim), 's'], { node: addr(ctx, ctx.roles.primary) });
        await ctx.hook(['efm', 'detach', addr(ctx, victim), 's'], { node: addr(ctx, ctx.roles.standbys[0] ?? '') });
      },
      expect(ctx) {
        const e = allUp(ctx);
        const victim = ctx.roles.standbys[ctx.roles.standbys.length - 1] ?? '';
        e[victim] = { status: 'down' };
        return e;
      },
    },
  ],
};

const standbyBack: Scenario = {
  name: 'standby-back',
  summary: 'the standby is repaired and `efm resume` runs: resumed and attach hooks; pgpool balances to it again',
  steps: [
    {
      title: 'start the standby, wait until it streams, then `efm resume` (resumed + attach <standby> s)',
      async run(ctx) {
        const victim = ctx.roles.standbys[ctx.roles.standbys.length - 1] ?? '';
        if (!nodes.isRunning(ctx.lab, victim)) await nodes.startNode(ctx.lab, victim);
        await nodes.waitStreaming(ctx.lab, victim, ctx.roles.primary);
        await ctx.hook(['efm', 'resumed'], { node: addr(ctx, victim) });
        await ctx.hook(['efm', 'attach', addr(ctx, victim), 's'], { node: addr(ctx, victim) });
      },
      expect: allUp,
    },
  ],
};

const agentCrash: Scenario = {
  name: 'agent-crash',
  summary: "the primary's EFM agent dies but its database is alive: no promotion, and the healthy primary stays in pgpool",
  steps: [
    {
      title: "call `efm detach <primary> p` as EFM does on agent failure (database still running)",
      async run(ctx) {
        await ctx.hook(['efm', 'detach', addr(ctx, ctx.roles.primary), 'p'], { node: addr(ctx, ctx.roles.standbys[0] ?? '') });
      },
      expect: allUp,
    },
  ],
};

export function promotionSteps(kind: 'failover' | 'switchover', opts: { repointDelayMs?: number } = {}): DrillStep[] {
  let oldPrimary = '';
  let newPrimary = '';
  return [
    {
      title:
        kind === 'failover'
          ? 'primary database down (immediate stop); another agent calls `efm detach <primary> p`'
          : 'switchover: EFM calls `efm detach <primary> p` and stops the primary database (fast)',
      async run(ctx) {
        oldPrimary = ctx.roles.primary;
        newPrimary = bestStandby(ctx);
        if (kind === 'switchover') await ctx.hook(['efm', 'detach', addr(ctx, oldPrimary), 'p'], { node: addr(ctx, oldPrimary) });
        await nodes.stopNode(ctx.lab, oldPrimary, { immediate: kind === 'failover' });
        if (kind === 'failover') await ctx.hook(['efm', 'detach', addr(ctx, oldPrimary), 'p'], { node: addr(ctx, newPrimary) });
      },
      // pgpool keeps the dead primary until the fence: health checks are off, as the architecture
      // prescribes. Until then it cannot open client sessions (one backend is unreachable).
      expect: (ctx) => allUp(ctx),
      sqlUnavailable: true,
    },
    {
      title: 'remote-pre-promotion on the other agents, then `efm fence <new> <old>` on the standby being promoted (synchronous)',
      async run(ctx) {
        for (const s of ctx.roles.standbys.filter((x) => x !== newPrimary))
          await ctx.hook(['efm', 'remote-pre-promotion', addr(ctx, newPrimary)], { node: addr(ctx, s) });
        await ctx.hook(['efm', 'fence', addr(ctx, newPrimary), addr(ctx, oldPrimary)], { node: addr(ctx, newPrimary), expectCode: 0 });
      },
      // The fence takes the standbys that must follow the new primary out of load balancing before
      // EFM promotes (pgpool may adopt the new primary by itself, marking nobody down); they wait
      // to stream from it, which only the re-point after the promotion brings.
      expect(ctx) {
        const e: Expectation = { [oldPrimary]: { status: 'down' } };
        for (const s of ctx.roles.standbys) e[s] = { status: s === newPrimary ? 'up' : 'down' };
        return e;
      },
      waitsOnStreaming: true,
    },
    {
      title: 'EFM promotes the standby (pg_ctl promote), calls `efm post-promotion <new> <old>`, re-points the other standbys, remote-post-promotion',
      async run(ctx) {
        await nodes.promoteNode(ctx.lab, newPrimary);
        const promotedAt = performance.now();
        await ctx.hook(['efm', 'post-promotion', addr(ctx, newPrimary), addr(ctx, oldPrimary)], { node: addr(ctx, newPrimary) });
        const others = ctx.roles.standbys.filter((x) => x !== newPrimary);
        if (opts.repointDelayMs) {
          // EFM re-points the other standbys late (standby.restart.delay, a slow agent): until
          // then they replay nothing new, and pgpool must not balance reads to them.
          ctx.say(`    the other standbys (${others.join(', ')}) are re-pointed ${opts.repointDelayMs / 1000} s late`);
          await new Promise((r) => setTimeout(r, opts.repointDelayMs));
        }
        for (const s of others) {
          await nodes.repointStandby(ctx.lab, s, newPrimary);
          await ctx.hook(['efm', 'remote-post-promotion', addr(ctx, newPrimary)], { node: addr(ctx, s) });
        }
        ctx.roles = { primary: newPrimary, standbys: others };
        ctx.say(`PostgreSQL primary is now ${newPrimary}; ${oldPrimary} is out until rebuilt`);
        if (opts.repointDelayMs) {
          const cluster = ctx.lab.config.clusters[0];
          if (!cluster) throw new Error('lab config has no cluster');
          const pcp = createPcpOps(cluster);
          const want = others.map((o) => ctx.lab.nodes.find((n) => n.name === o)).filter((n) => n !== undefined);
          await pollUntil(
            'every standby back in pgpool',
            async () => {
              const { nodes: seen } = await pcp.nodes();
              const back = want.every((w) => seen.some((n) => n.host === w.address && n.port === w.port && isAttached(n.status)));
              return back ? true : undefined;
            },
            { timeoutMs: 60_000, intervalMs: 20 },
          );
          ctx.say(`    promotion → every standby back in pgpool: ${((performance.now() - promotedAt) / 1000).toFixed(2)} s (re-point ${opts.repointDelayMs / 1000} s late)`);
        }
      },
      expect(ctx) {
        const e = allUp(ctx);
        e[oldPrimary] = { status: 'down' };
        return e;
      },
    },
    ...(kind === 'switchover' ? [rejoinStep(() => oldPrimary, 'EFM restarts the old primary as a standby (pg_rewind) and resumes its agent')] : []),
  ];
}

function rejoinStep(who: () => string, title: string): DrillStep {
  return {
    title: `${title}: rebuild-started, rebuild, rebuild-done, \`efm resumed\`, \`efm attach <node> s\``,
    async run(ctx) {
      const node = who();
      await ctx.hook(['event', 'rebuild-started', addr(ctx, node)]);
      const method = await nodes.rebuildAsStandby(ctx.lab, node, ctx.roles.primary);
      ctx.say(`${node} rebuilt as a standby of ${ctx.roles.primary} with ${method}`);
      await ctx.hook(['event', 'rebuild-done', addr(ctx, node)]);
      await ctx.hook(['efm', 'resumed'], { node: addr(ctx, node) });
      await ctx.hook(['efm', 'attach', addr(ctx, node), 's'], { node: addr(ctx, node) });
      ctx.roles = { primary: ctx.roles.primary, standbys: [...ctx.roles.standbys, node].sort() };
    },
    expect: allUp,
  };
}

const maintenance: Scenario = {
  name: 'maintenance',
  summary: 'a DBA holds a standby in maintenance, takes it out of pgpool by hand; EFM reports it; nothing undoes the DBA; maintenance ends and EFM attaches it',
  steps: [
    {
      title: '`pcpflow maintenance on <standby>`, `pcpflow pcp detach <standby> --direct`, `efm detach <standby> s`; two reconciler passes change nothing',
      async run(ctx) {
        const node = ctx.roles.standbys[0] ?? '';
        await ctx.pcpflow(['maintenance', 'on', addr(ctx, node), '--reason', 'lab drill: OS patching']);
        await ctx.pcpflow(['pcp', 'detach', addr(ctx, node), '--direct']);
        await ctx.hook(['efm', 'detach', addr(ctx, node), 's'], { node: addr(ctx, ctx.roles.primary) });
        // Deliberately watch two reconciler passes: in maintenance, drift is reported, not repaired.
        await new Promise((r) => setTimeout(r, 2 * ctx.reconcileIntervalMs + 500));
      },
      expect(ctx) {
        const e = allUp(ctx);
        e[ctx.roles.standbys[0] ?? ''] = { status: 'down' };
        return e;
      },
    },
    {
      title: '`pcpflow maintenance off <standby>` (the kept EFM detach is decided), then `efm resumed` + `efm attach <standby> s`',
      async run(ctx) {
        const node = ctx.roles.standbys[0] ?? '';
        const off = await ctx.pcpflow(['maintenance', 'off', addr(ctx, node)]);
        ctx.say(`    ${off}`);
        await ctx.hook(['efm', 'resumed'], { node: addr(ctx, node) });
        await ctx.hook(['efm', 'attach', addr(ctx, node), 's'], { node: addr(ctx, node) });
      },
      expect: allUp,
    },
  ],
};

let failedPrimary = '';
const failover: Scenario = {
  name: 'failover',
  summary: 'the primary database fails: fence, promotion, post-promotion; pgpool follows, the other standby is back in load balancing, the old primary stays out',
  steps: promotionSteps('failover').map((s, i) =>
    i === 0
      ? {
          ...s,
          async run(ctx) {
            failedPrimary = ctx.roles.primary;
            await s.run(ctx);
          },
        }
      : s,
  ),
};

const rebuild: Scenario = {
  name: 'rebuild',
  summary: 'the failed old primary is rebuilt as a standby (pg_rewind, else pg_basebackup) and resumed: attached again',
  steps: [
    rejoinStep(() => {
      if (!failedPrimary) throw new Error('the rebuild scenario follows the failover scenario: run `lab drill failover` first or `lab drill all`');
      return failedPrimary;
    }, 'rebuild the failed primary'),
  ],
};

const switchover: Scenario = {
  name: 'switchover',
  summary: 'planned switchover: the primary is stopped, a standby promoted, the old primary rejoins as a standby',
  steps: promotionSteps('switchover'),
};

let probe: ReadProbe | null = null;
let readsFrom = '';
const failoverReads: Scenario = {
  name: 'failover-reads',
  summary:
    'a writer and a read-after-write reader through pgpool during a failover whose re-point of the other standby comes 8 s late: no read may miss a committed row',
  steps: [
    {
      title: 'start a writer and a read-after-write reader through pgpool',
      async run(ctx) {
        probe = await startReadProbe(ctx.lab.pgpool);
      },
      expect: allUp,
    },
    ...promotionSteps('failover', { repointDelayMs: 8_000 }).map((s, i) =>
      i === 0
        ? {
            ...s,
            async run(ctx: DrillContext) {
              readsFrom = ctx.roles.primary;
              await s.run(ctx);
            },
          }
        : s,
    ),
    rejoinStep(() => readsFrom, 'rebuild the failed primary'),
    {
      title: 'stop the writer and the reader; count stale reads',
      async run() {},
      expect: allUp,
      async check(ctx) {
        const p = probe;
        probe = null;
        if (!p) return ['the reader was not running'];
        const report = await p.stop();
        ctx.say(`    ${formatReadReport(report)}`);
        const problems: string[] = [];
        if (report.stale > 0) problems.push(`${report.stale} stale read(s) through pgpool: ${report.firstStale ?? ''}`);
        if (report.reads === 0 || report.writes === 0) problems.push('the probe made no reads or no writes');
        return problems;
      },
    },
  ],
};

const switchback: Scenario = {
  name: 'switchback',
  summary: 'a second planned switchover back the other way',
  steps: promotionSteps('switchover'),
};

/** The seed architecture's scenarios, on a lab with one pgpool (what `lab drill all` runs there). */
export const SCENARIOS: readonly Scenario[] = [standbyDown, standbyBack, agentCrash, maintenance, failover, rebuild, switchover, switchback, failoverReads];
