// A promotion as EFM plays it (detach, fence, promote, re-point, rejoin): reused by the failover,
// switchover and watchdog scenarios, so it lives apart from any one of them.
import * as nodes from '../nodes.ts';
import { createPcpOps } from '../../pcp/index.ts';
import { pollUntil } from '../wait.ts';
import { isAttached } from '../../contracts/pgpool-node.ts';
import { addr, allUp, type DrillContext, type DrillStep } from './drill.ts';
import type { Expectation } from './pgpool-view.ts';

/** The standby a DBA would pick: EFM promotes the most advanced one; on an idle lab, the first. */
function bestStandby(ctx: DrillContext): string {
  const s = ctx.roles.standbys[0];
  if (!s) throw new Error('no standby left to promote');
  return s;
}

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

export function rejoinStep(who: () => string, title: string): DrillStep {
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
