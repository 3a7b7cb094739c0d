import type { Logger } from '../runtime/logger.ts';
import type { Metrics } from './metrics.ts';

/**
 * How one pass of a loop over a cluster ended, with its reason: every pass ends in exactly one
 * of these (as Patroni's HA loop says what each cycle did), logged at debug and counted by
 * outcome in pcpflow_loop_passes_total, so "why did nothing happen" has an answer.
 */
export type DeciderPass =
  | { loop: 'decider'; outcome: 'decided'; entries: number }
  | { loop: 'decider'; outcome: 'nothing-new' }
  | { loop: 'decider'; outcome: 'no-snapshot-yet'; reason: string }
  | { loop: 'decider'; outcome: 'lost-race'; entries: number }
  | { loop: 'decider'; outcome: 'redis-refused'; pauseMs: number; error: unknown }
  | { loop: 'decider'; outcome: 'failed'; error: unknown };

export type ReconcilerPass =
  | { loop: 'reconciler'; outcome: 'lease-held-elsewhere' }
  | { loop: 'reconciler'; outcome: 'no-snapshot-yet' }
  | { loop: 'reconciler'; outcome: 'intake-not-drained' }
  | { loop: 'reconciler'; outcome: 'pgpool-unreachable'; error: unknown }
  | { loop: 'reconciler'; outcome: 'no-trusted-view' }
  | { loop: 'reconciler'; outcome: 'in-step' }
  | { loop: 'reconciler'; outcome: 'drift-sent-for-repair'; drift: number; held: number; retried: number }
  | { loop: 'reconciler'; outcome: 'drift-held-in-maintenance'; held: number; retried: number }
  | { loop: 'reconciler'; outcome: 'attention-retried'; retried: number }
  | { loop: 'reconciler'; outcome: 'failed'; error: unknown };

export type LoopPass = DeciderPass | ReconcilerPass;

export function describePass(p: LoopPass): string {
  switch (p.outcome) {
    case 'decided':
      return `decided ${p.entries} intake entr${p.entries === 1 ? 'y' : 'ies'}`;
    case 'nothing-new':
      return 'nothing new in the intake (another fleet member decided it, or the wake-up was for another cluster)';
    case 'no-snapshot-yet':
      return p.loop === 'decider'
        ? `no snapshot yet and none could be made (${p.reason}); entries wait in the intake`
        : 'no snapshot yet: the decider has not bootstrapped this cluster; nothing to compare';
    case 'lost-race':
      return `another fleet member committed first after ${p.entries} entr${p.entries === 1 ? 'y' : 'ies'}; positions reloaded`;
    case 'redis-refused':
      return `Redis refused a command; this cluster pauses ${p.pauseMs} ms`;
    case 'failed':
      return 'the pass failed; retried on the next one';
    case 'lease-held-elsewhere':
      return "another fleet member holds this interval's reconciler lease";
    case 'intake-not-drained':
      return 'undecided intake entries: their decisions would make the comparison stale';
    case 'pgpool-unreachable':
      return 'pgpool did not answer node info; retried next interval';
    case 'no-trusted-view':
      return 'no pgpool view to trust (none answered, or they disagree and the watchdog leader did not answer)';
    case 'in-step':
      return "pgpool's node table matches the machines";
    case 'drift-sent-for-repair':
      return `${p.drift} drift event(s) published for the decider to repair${p.held ? `, ${p.held} on backends in maintenance reported only` : ''}${p.retried ? `, ${p.retried} attention retr${p.retried === 1 ? 'y' : 'ies'}` : ''}`;
    case 'drift-held-in-maintenance':
      return `${p.held} drift(s) on backends in maintenance: reported, not repaired${p.retried ? `; ${p.retried} attention retr${p.retried === 1 ? 'y' : 'ies'}` : ''}`;
    case 'attention-retried':
      return `pgpool in step; ${p.retried} action(s) that gave up retried`;
  }
}

/** Logs the pass at debug (the warnings and errors of its cause are logged where they happen) and counts it. */
export function recordPass(deps: { logger: Logger; metrics?: Metrics }, cluster: string, p: LoopPass): void {
  deps.metrics?.loopPasses.inc({ loop: p.loop, outcome: p.outcome });
  deps.logger.debug({ cluster, loop: p.loop, outcome: p.outcome }, describePass(p));
}
