import * as nodes from '../nodes.ts';
import { addr, allUp, type DrillContext, type Scenario } from './drill.ts';
import { promotionSteps, rejoinStep } from './promotion-steps.ts';
import { formatReadReport, startReadProbe, type ReadProbe } from './read-probe.ts';

/**
 * The seed architecture's failover scenarios, played for real on the lab: PostgreSQL is really
 * stopped, promoted and rebuilt, and the hooks are called in the order EFM calls them
 * (research/efm-hooks.md §1.4). Each step ends with what pgpool must show. What a drill is made
 * of is drill.ts; the promotion the failover and switchover share is promotion-steps.ts.
 */

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
