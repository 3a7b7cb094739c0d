// What a drill is made of (its context, steps and scenarios), shared by both scenario lists and the runner.
import type { LabHandle } from '../lab.ts';
import type { Expectation } from './pgpool-view.ts';

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
