import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as nodes from '../nodes.ts';
import * as pgpools from '../pgpools.ts';
import { pgpoolsOf } from '../options.ts';
import { readState } from '../state.ts';
import { watchdogViews } from '../watchdog.ts';
import type { Expectation } from './pgpool-view.ts';
import { addr, allUp, type DrillContext, type DrillStep, type Scenario } from './drill.ts';
import { promotionSteps } from './promotion-steps.ts';

/**
 * Drills for a lab whose pgpools form a watchdog cluster (`lab up --pgpools 3`): a pgpool is
 * killed, frozen or restarted stale in the middle of EFM's scenarios, and every pgpool still
 * running must end with the same, correct view.
 */

const FREEZE_MS = 15_000;

function planOf(ctx: DrillContext) {
  return readState(join(ctx.lab.dir, 'lab.json')).plan;
}

/** The pgpool the watchdog made leader (by lab role), as the running pgpools agree on it. */
async function leaderRole(ctx: DrillContext): Promise<string> {
  const plan = planOf(ctx);
  const views = (await watchdogViews(plan)).filter((v) => !ctx.pgpoolsOut.has(v.pgpool) && v.info !== null);
  const hosts = new Set(views.map((v) => v.info?.leaderHostName));
  const [host] = [...hosts];
  const p = hosts.size === 1 ? pgpoolsOf(plan).find((x) => x.host === host) : undefined;
  if (!p) throw new Error(`the running pgpools do not agree on a watchdog leader (${views.map((v) => `${v.pgpool}: ${v.info?.leaderHostName ?? v.error}`).join(', ')})`);
  return p.role;
}

/** Problems unless the running pgpools agree on a leader that is one of them, with every running member alive. */
async function watchdogSettled(ctx: DrillContext): Promise<string[]> {
  const plan = planOf(ctx);
  const views = (await watchdogViews(plan)).filter((v) => !ctx.pgpoolsOut.has(v.pgpool));
  const answered = views.filter((v) => v.info !== null);
  if (answered.length !== views.length) return [`watchdog: ${views.filter((v) => !v.info).map((v) => v.pgpool).join(', ')} did not answer`];
  const leaders = new Set(answered.map((v) => v.info?.leaderHostName));
  const [leader] = [...leaders];
  const running = pgpoolsOf(plan).filter((p) => !ctx.pgpoolsOut.has(p.role));
  if (leaders.size !== 1 || !running.some((p) => p.host === leader)) return [`watchdog: no agreed leader among the running pgpools (${[...leaders].join(', ')})`];
  const alive = answered.every((v) => (v.info?.AliveNodeCount ?? 0) >= running.length - 1);
  return alive ? [] : ['watchdog: not every running pgpool sees the others alive yet'];
}

function victimOf(ctx: DrillContext): string {
  return ctx.roles.standbys[ctx.roles.standbys.length - 1] ?? '';
}

const frozen: Scenario = {
  name: 'pgpool-frozen',
  pgpools: 3,
  summary: `the first configured pgpool is frozen (SIGSTOP) for ${FREEZE_MS / 1000} s while a standby fails and comes back: pcpflow goes through the others; all three agree once it thaws`,
  steps: [
    {
      title: 'freeze pgpool (SIGSTOP, the first PCP endpoint); stop the last standby (immediate) and call `efm detach <standby> s`',
      async run(ctx) {
        pgpools.freezePgpool(ctx.lab, 'pgpool');
        ctx.pgpoolsOut.add('pgpool');
        ctx.marks.set('freeze', performance.now());
        const victim = victimOf(ctx);
        await nodes.stopNode(ctx.lab, victim, { immediate: true });
        await ctx.hook(['efm', 'detach', addr(ctx, victim), 's'], { node: addr(ctx, ctx.roles.primary) });
      },
      expect(ctx) {
        const e = allUp(ctx);
        e[victimOf(ctx)] = { status: 'down' };
        return e;
      },
      measureFrom: 'freeze',
    },
    {
      title: 'still frozen: start the standby, wait until it streams, `efm resumed` and `efm attach <standby> s`',
      async run(ctx) {
        const victim = victimOf(ctx);
        if (!nodes.isRunning(ctx.lab, victim)) await nodes.startNode(ctx.lab, victim);
        await nodes.waitStreaming(ctx.lab, victim, ctx.roles.primary);
        await ctx.hook(['efm', 'resumed'], { node: addr(ctx, victim) });
        await ctx.hook(['efm', 'attach', addr(ctx, victim), 's'], { node: addr(ctx, victim) });
      },
      expect: allUp,
    },
    {
      title: `thaw pgpool once it has been frozen ${FREEZE_MS / 1000} s: all three pgpools show the same table and rejoin one watchdog`,
      async run(ctx) {
        const since = performance.now() - (ctx.marks.get('freeze') ?? 0);
        // The drill's defined freeze length, not a wait for something to happen.
        if (since < FREEZE_MS) await new Promise((r) => setTimeout(r, FREEZE_MS - since));
        pgpools.thawPgpool(ctx.lab, 'pgpool');
        ctx.pgpoolsOut.delete('pgpool');
        ctx.say(`pgpool thawed after ${((performance.now() - (ctx.marks.get('freeze') ?? 0)) / 1000).toFixed(1)} s frozen`);
      },
      expect: allUp,
      converged: watchdogSettled,
    },
  ],
};

let lostPgpool = '';
const [primaryDown, fence, promotion] = promotionSteps('failover');
if (!primaryDown || !fence || !promotion) throw new Error('promotionSteps changed shape');

const leaderLoss: Scenario = {
  name: 'pgpool-leader-loss',
  pgpools: 3,
  summary: 'the watchdog leader pgpool is lost (its host: every process killed) between the fence and post-promotion of a failover; a standby pgpool becomes leader and pcpflow completes the failover through it',
  steps: [
    primaryDown,
    fence,
    {
      ...promotion,
      title: `kill the watchdog leader pgpool (process group, SIGKILL), then: ${promotion.title}`,
      async run(ctx) {
        lostPgpool = await leaderRole(ctx);
        await pgpools.killPgpool(ctx.lab, lostPgpool);
        ctx.marks.set('leader-loss', performance.now());
        ctx.pgpoolsOut.add(lostPgpool);
        ctx.say(`killed ${lostPgpool}, the watchdog leader`);
        await promotion.run(ctx);
      },
      async converged(ctx) {
        const problems = await watchdogSettled(ctx);
        if (problems.length) return problems;
        const leader = await leaderRole(ctx);
        return leader === lostPgpool ? [`watchdog still names the lost ${lostPgpool} leader`] : [];
      },
      measureFrom: 'leader-loss',
    },
  ],
};

function staleStatus(ctx: DrillContext, role: string): string {
  const p = pgpoolsOf(planOf(ctx)).find((x) => x.role === role);
  try {
    return p ? readFileSync(join(p.logDir, 'pgpool_status'), 'utf8').trim().split('\n').join(',') : '?';
  } catch {
    return 'none';
  }
}

let rejoining = '';
let detachedMeanwhile = '';
const rejoin: Scenario = {
  name: 'pgpool-rejoin',
  pgpools: 3,
  summary: "a pgpool restarted after a failover starts from its stale pgpool_status; it takes the leader's view when it joins, and pcpflow sees every pgpool agree",
  steps: [
    {
      title:
        'while the pgpool lost in pgpool-leader-loss is down (run alone: a standby pgpool stopped cleanly), a standby fails and is detached: its pgpool_status goes stale',
      async run(ctx) {
        rejoining = lostPgpool && ctx.pgpoolsOut.has(lostPgpool) ? lostPgpool : '';
        if (!rejoining) {
          rejoining = (await leaderRole(ctx)) === 'pgpool2' ? 'pgpool1' : 'pgpool2';
          await pgpools.stopPgpool(ctx.lab, rejoining);
          ctx.pgpoolsOut.add(rejoining);
          ctx.say(`stopped ${rejoining} (SIGINT): it saved its view in pgpool_status`);
        }
        detachedMeanwhile = victimOf(ctx);
        await nodes.stopNode(ctx.lab, detachedMeanwhile, { immediate: true });
        await ctx.hook(['efm', 'detach', addr(ctx, detachedMeanwhile), 's'], { node: addr(ctx, ctx.roles.primary) });
      },
      expect(ctx): Expectation {
        const e = expectNow(ctx);
        if (detachedMeanwhile) e[detachedMeanwhile] = { status: 'down' };
        return e;
      },
    },
    {
      title: 'restart it with its own pgpool_status (no -D): every pgpool, the rejoined one included, shows the current table',
      async run(ctx) {
        ctx.say(`${rejoining}'s pgpool_status before the restart: ${staleStatus(ctx, rejoining)} (backends ${ctx.lab.nodes.map((n) => n.name).join(',')})`);
        ctx.marks.set('rejoin', performance.now());
        await pgpools.startPgpoolAgain(ctx.lab, rejoining, { keepStatus: true });
        ctx.pgpoolsOut.delete(rejoining);
      },
      expect(ctx): Expectation {
        const e = expectNow(ctx);
        if (detachedMeanwhile) e[detachedMeanwhile] = { status: 'down' };
        return e;
      },
      converged: watchdogSettled,
      measureFrom: 'rejoin',
    },
    {
      title: 'a standby detached meanwhile comes back (`efm resumed`, `efm attach`), seen by all three pgpools',
      async run(ctx) {
        if (!detachedMeanwhile) return;
        if (!nodes.isRunning(ctx.lab, detachedMeanwhile)) await nodes.startNode(ctx.lab, detachedMeanwhile);
        await nodes.waitStreaming(ctx.lab, detachedMeanwhile, ctx.roles.primary);
        await ctx.hook(['efm', 'resumed'], { node: addr(ctx, detachedMeanwhile) });
        await ctx.hook(['efm', 'attach', addr(ctx, detachedMeanwhile), 's'], { node: addr(ctx, detachedMeanwhile) });
        detachedMeanwhile = '';
      },
      expect: expectNow,
    },
  ],
};

/** The current roles, plus every lab node that is neither primary nor a standby (a failed old primary) down. */
function expectNow(ctx: DrillContext): Expectation {
  const e = allUp(ctx);
  for (const n of ctx.lab.nodes) if (!e[n.name]) e[n.name] = { status: 'down' };
  return e;
}

export const WATCHDOG_SCENARIOS: readonly Scenario[] = [frozen, leaderLoss, rejoin];

export type { DrillStep };
