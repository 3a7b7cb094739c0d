import type { Action } from '../contracts/actions.ts';
import { InvalidInputError } from '../contracts/errors.ts';
import type { ActionResult, NodeEvent } from '../contracts/events.ts';
import { parseHookArgv } from '../hooks/argv-to-event.ts';
import { decide, initialSnapshot, resolveBackend, type ClusterSnapshot } from '../machines/index.ts';
import type { ClusterSetup } from './cluster.ts';
import { rowsOf, type DecisionRow } from './rows.ts';
import { SIM_EPOCH, type Scenario } from './scenario.ts';
import { ScenarioError } from './errors.ts';

/**
 * `pcpflow simulate`: a scenario offline through the same `decide` the workers run, with hook
 * lines parsed by the very parser the hooks use. Ids and the clock are simulated (sim-000001,
 * one second per event from a fixed epoch) and every action not given an explicit outcome
 * succeeds, so a scenario always prints the same decisions.
 */

export interface RunResult {
  rows: DecisionRow[];
  actions: Action[];
  snapshot: ClusterSnapshot;
}

/** Bound on follow-ups (an outcome that triggers actions whose outcomes trigger more). */
const MAX_FOLLOW_UPS = 1000;

export function runScenario(sc: Scenario, setup: ClusterSetup): RunResult {
  let snapshot = initialSnapshot({ cluster: setup.cluster, backends: setup.backends, policy: { detachHealthyPrimary: setup.detachHealthyPrimary, ...(setup.fence ? { fenceMode: setup.fence.mode, fenceTimeoutMs: setup.fence.timeoutMs } : {}) } });
  let seq = 0;
  let clock = SIM_EPOCH;
  const newId = (): string => `sim-${String(++seq).padStart(6, '0')}`;
  const rows: DecisionRow[] = [];
  const all: Action[] = [];
  const attempts = new Map<string, number>();
  let outstanding: Action[] = [];

  const feed = (line: number | null, event: NodeEvent): void => {
    clock += 1000;
    const d = decide(snapshot, event, new Date(clock));
    snapshot = d.snapshot;
    rows.push(...rowsOf(line, event, d));
    all.push(...d.actions);
    outstanding.push(...d.actions);
  };
  const outcome = (line: number | null, a: Action, result: ActionResult, reason?: string): void => {
    const attempt = (attempts.get(a.actionId) ?? 0) + 1;
    attempts.set(a.actionId, attempt);
    feed(line, {
      eventId: newId(),
      dedupeKey: `outcome|${a.actionId}|${attempt}|${result}`,
      source: 'executor',
      cluster: setup.cluster,
      backend: a.backend,
      observedAt: new Date(clock).toISOString(),
      argv: [],
      type: 'action.outcome',
      actionId: a.actionId,
      action: a.type,
      result,
      attempt,
      ...(reason ? { reason } : {}),
    });
  };
  // Every action not given an explicit outcome succeeds, in order, before the next event.
  const settle = (): void => {
    for (let n = 0; outstanding.length > 0; n++) {
      if (n > MAX_FOLLOW_UPS) throw new ScenarioError(`more than ${MAX_FOLLOW_UPS} follow-up actions; the scenario does not settle`);
      const [a, ...rest] = outstanding;
      outstanding = rest;
      if (a) outcome(null, a, 'changed');
    }
  };

  for (const item of sc.items) {
    switch (item.kind) {
      case 'wait':
        clock += item.ms;
        break;
      case 'outcome': {
        const target = outstanding.find((a) => a.actionId === item.ref) ?? outstanding.find((a) => resolveBackend(snapshot, item.ref) === a.backend);
        if (!target) throw new ScenarioError(`line ${item.line}: no action in flight matches ${item.ref}`);
        if (item.result !== 'failed') outstanding = outstanding.filter((a) => a !== target);
        outcome(item.line, target, item.result, item.reason);
        break;
      }
      case 'event':
        settle();
        feed(item.line, item.event);
        break;
      case 'hook': {
        settle();
        let ev: NodeEvent;
        try {
          ev = parseHookArgv(item.argv, { cluster: setup.cluster, now: new Date(clock), newId, ...(item.localNode ? { localNode: item.localNode } : {}) });
        } catch (err) {
          if (err instanceof InvalidInputError) throw new ScenarioError(`line ${item.line}: ${err.message}`, undefined, { cause: err });
          throw err;
        }
        feed(item.line, ev);
        break;
      }
    }
  }
  settle();
  return { rows, actions: all, snapshot };
}
