import type { Command } from 'commander';

/**
 * Every top-level subcommand, as a name, a one-line summary and a loader. `pcpflow` imports
 * only this list and commander at start, then loads the one module the command line names:
 * a DBA's `pcpflow pcp check-primary` never pays for BullMQ, XState or the console.
 *
 * Adding a subcommand: write cli/commands/<name>.ts exporting `register(program)` (its
 * `.description()` must be this summary; test/cli/lazy.test.ts checks it) and add one line
 * here. Inside a command module, import heavy code (Redis, BullMQ, XState, pino, the workers)
 * inside the action with `await import()`, so `pcpflow <name> --help` stays light too; the same
 * test fails when `--help` of any command loads them.
 */
export interface CommandModule {
  register(program: Command): void;
}

export interface CommandDescriptor {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

export const COMMANDS: readonly CommandDescriptor[] = [
  { name: 'worker', summary: 'run one fleet member: decider, executor and reconciler roles, with /healthz, /readyz and /metrics', load: () => import('./worker.ts') },
  { name: 'status', summary: 'per cluster and backend: machine state, pgpool live state, lag, in-flight actions, drift, maintenance, endpoints, last audit entries', load: () => import('./status.ts') },
  { name: 'audit', summary: 'query the audit trail (--cluster --backend --since --json), verify its hash chain, export it', load: () => import('./audit.ts') },
  { name: 'viz', summary: 'draw the backend state machine (mermaid, dot, svg, html), optionally with a backend path from history', load: () => import('./viz.ts') },
  { name: 'simulate', summary: 'run a scenario file of hook calls or events through the decision core offline', load: () => import('./simulate.ts') },
  { name: 'replay', summary: 'feed recorded events (JSON lines of events or audit records) through the decision core offline', load: () => import('./replay.ts') },
  { name: 'lab', summary: 'a real local cluster on loopback: PostgreSQL primary + 2 standbys, pgpool-II, Redis (up|down|status|env|drill)', load: () => import('./lab.ts') },
  { name: 'demo', summary: 'set up a local lab, run the failover drill with two workers, print the audit timeline and the report', load: () => import('./demo.ts') },
  { name: 'outbox', summary: "the hooks' local outbox of events spooled while Redis was unreachable", load: () => import('./outbox.ts') },
  { name: 'config', summary: 'inspect the pcpflow configuration', load: () => import('./config.ts') },
  { name: 'pcp', summary: 'operator commands over PCP: nodes, attach, detach, promote, check-primary, watchdog', load: () => import('./pcp.ts') },
  { name: 'maintenance', summary: 'hold a backend (or the whole cluster) where it is: no automatic action until maintenance ends', load: () => import('./maintenance.ts') },
  { name: 'attention', summary: 'backends whose action gave up', load: () => import('./attention.ts') },
  { name: 'console', summary: 'serve the read-only audit console (no worker roles): clusters, backends, diagrams, audit timeline, live updates', load: () => import('./console.ts') },
];

/**
 * The subcommand a command line names, if any: the first word that is not an option
 * (`pcpflow help X` names X). Top-level options take no value, so no option word is skipped.
 */
export function commandNamed(args: readonly string[]): CommandDescriptor | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMANDS.find((c) => c.name === name);
}
