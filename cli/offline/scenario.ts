import type { Action } from '../../contracts/actions.ts';
import { formatAddress, parseAddress } from '../../contracts/address.ts';
import type { ClusterConfig } from '../../contracts/config.ts';
import { InvalidInputError } from '../../contracts/errors.ts';
import { ActionResultSchema, NodeEventSchema, type ActionResult, type NodeEvent } from '../../contracts/events.ts';
import { parseHookArgv } from '../../hooks/argv.ts';
import {
  backendViews,
  decide,
  decisionEntries,
  initialSnapshot,
  resolveBackend,
  type ClusterSnapshot,
  type Decision,
  type InitialBackend,
} from '../../machines/index.ts';

/**
 * `pcpflow simulate`: a scenario offline through the same `decide` the workers run, with hook
 * lines parsed by the very parser the hooks use. Ids and the clock are simulated (sim-000001,
 * one second per event from a fixed epoch) so a scenario always prints the same decisions.
 */

export class ScenarioError extends InvalidInputError {
  override readonly code = 'SCENARIO_INVALID';
}

export type ScenarioItem =
  | { kind: 'hook'; line: number; argv: string[]; localNode?: string }
  | { kind: 'event'; line: number; event: NodeEvent }
  | { kind: 'outcome'; line: number; ref: string; result: ActionResult; reason?: string }
  | { kind: 'wait'; line: number; ms: number };

export interface Scenario {
  items: ScenarioItem[];
  /** `# primary: ADDR` and `# backends: A B C` headers, used when no flag or config says otherwise. */
  primary?: string;
  backends?: string[];
  /** `# expect-actions:` and `# expect-state:` lines, checked by the scenario tests. */
  expectActions?: string[];
  expectStates?: Record<string, string>;
}

const SIM_EPOCH = Date.parse('2024-01-01T00:00:00.000Z');

function parseWait(text: string, line: number): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text);
  if (!m) throw new ScenarioError(`line ${line}: wait takes a duration such as 90s, 500ms or 2m`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

/** Whitespace-separated words; "double quotes" keep spaces, as a shell would for a hook's argv. */
function tokens(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

/**
 * One item per line: a JSON NodeEvent, a hook call exactly as `pcpflow-hook` takes it (an optional
 * leading `@ADDR` stands for --node), `outcome <actionId|backend> <result> [reason]`, `wait 90s`,
 * or a `#` comment. Header comments `# primary:`, `# backends:`, `# expect-actions:`,
 * `# expect-state:` describe the scenario.
 */
export function parseScenario(text: string): Scenario {
  const sc: Scenario = { items: [] };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === '') return;
    if (t.startsWith('#')) {
      const header = /^#\s*(primary|backends|expect-actions|expect-state)\s*:\s*(.*)$/.exec(t);
      if (!header) return;
      const [, key, value = ''] = header;
      if (key === 'primary') sc.primary = value.trim();
      else if (key === 'backends') sc.backends = value.split(/[\s,]+/).filter(Boolean);
      else if (key === 'expect-actions')
        sc.expectActions = value.trim() === 'none' ? [] : value.split(/\s*;\s*/).map((s) => s.trim()).filter(Boolean);
      else {
        sc.expectStates = sc.expectStates ?? {};
        for (const pair of value.split(/[\s,]+/).filter(Boolean)) {
          const [addr, state] = pair.split('=');
          if (addr && state) sc.expectStates[addr] = state;
        }
      }
      return;
    }
    if (t.startsWith('{')) {
      let json: unknown;
      try {
        json = JSON.parse(t);
      } catch {
        throw new ScenarioError(`line ${line}: not valid JSON`);
      }
      const parsed = NodeEventSchema.safeParse(json);
      if (!parsed.success) throw new ScenarioError(`line ${line}: not a NodeEvent: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      sc.items.push({ kind: 'event', line, event: parsed.data });
      return;
    }
    const words = tokens(t);
    if (words[0] === 'outcome') {
      const [, ref, resultText, ...reason] = words;
      const result = ActionResultSchema.safeParse(resultText);
      if (!ref || !result.success)
        throw new ScenarioError(`line ${line}: expected outcome <actionId|backend> changed|already|failed|gave-up [reason]`);
      sc.items.push({ kind: 'outcome', line, ref, result: result.data, ...(reason.length ? { reason: reason.join(' ') } : {}) });
      return;
    }
    if (words[0] === 'wait') {
      sc.items.push({ kind: 'wait', line, ms: parseWait(words[1] ?? '', line) });
      return;
    }
    const first = words[0] ?? '';
    if (first.startsWith('@')) sc.items.push({ kind: 'hook', line, argv: words.slice(1), localNode: first.slice(1) });
    else sc.items.push({ kind: 'hook', line, argv: words });
  });
  return sc;
}

/** Addresses a scenario names, so a cluster can be built without a config file. */
function addressesIn(sc: Scenario, cluster: string): string[] {
  const found: string[] = [];
  const add = (a: string | null | undefined): void => {
    if (a) found.push(a);
  };
  let n = 0;
  for (const item of sc.items) {
    if (item.kind === 'outcome' || item.kind === 'wait') continue;
    let ev: NodeEvent;
    try {
      ev = item.kind === 'event' ? item.event : parseHookArgv(item.argv, { cluster, now: new Date(SIM_EPOCH), newId: () => `scan-${++n}`.padEnd(8, '0'), ...(item.localNode ? { localNode: item.localNode } : {}) });
    } catch {
      continue; // reported with its line number when the scenario runs
    }
    add(ev.backend);
    if (ev.type === 'efm.fence' || ev.type === 'efm.post-promotion') {
      add(ev.newPrimary);
      add(ev.failedPrimary);
    }
    if (ev.type === 'pgpool.follow-primary') add(formatAddress({ host: parseAddress(ev.host)?.host ?? ev.host, port: ev.port }));
  }
  return found;
}

/**
 * One backend per host: EFM names hosts without ports, pgpool with them, so `h` and `h:p` are the
 * same backend when only one port is ever seen for `h`; a host never seen with a port gets 5432.
 */
export function canonicalBackends(addresses: readonly string[]): string[] {
  const ports = new Map<string, Set<number>>();
  for (const a of addresses) {
    const p = parseAddress(a);
    if (!p) continue;
    const set = ports.get(p.host) ?? new Set<number>();
    if (p.port !== undefined) set.add(p.port);
    ports.set(p.host, set);
  }
  const out: string[] = [];
  for (const [host, set] of ports) {
    if (set.size === 0) out.push(formatAddress({ host, port: 5432 }));
    else for (const port of [...set].sort((x, y) => x - y)) out.push(formatAddress({ host, port }));
  }
  return out;
}

export interface ClusterSetup {
  cluster: string;
  backends: InitialBackend[];
  detachHealthyPrimary: boolean;
  /** The config's fence policy, so a late fail-closed fence is simulated as production decides it. */
  fence?: { mode: 'fail-open' | 'fail-closed'; timeoutMs: number };
}

export function clusterFor(sc: Scenario, opts: { primary?: string; config?: ClusterConfig; detachHealthyPrimary?: boolean }): ClusterSetup {
  const cluster = opts.config?.name ?? 'sim';
  const addresses = opts.config
    ? opts.config.backends.map((b) => formatAddress({ host: b.address, port: b.port }))
    : sc.backends
      ? canonicalBackends(sc.backends)
      : canonicalBackends([...(opts.primary ?? sc.primary ? [opts.primary ?? sc.primary ?? ''] : []), ...addressesIn(sc, cluster)]);
  const primaryText = opts.primary ?? sc.primary;
  if (!primaryText) throw new ScenarioError('name the primary with --primary ADDR (or a `# primary:` line in the scenario)');
  const probe = initialSnapshot({ cluster, backends: addresses.map((address) => ({ address, role: 'standby', attached: true })) });
  const primary = resolveBackend(probe, primaryText);
  if (primary === null) throw new ScenarioError(`--primary ${primaryText} matches none of the backends: ${addresses.join(', ')}`);
  return {
    cluster,
    backends: addresses.map((address) => ({ address, role: address === primary ? 'primary' : 'standby', attached: true })),
    detachHealthyPrimary: opts.detachHealthyPrimary ?? opts.config?.fence.detachHealthyPrimary ?? false,
    ...(opts.config ? { fence: { mode: opts.config.fence.mode, timeoutMs: opts.config.fence.timeoutMs } } : {}),
  };
}

/** One printed line: one audit entry of one decision (a decision may touch several backends). */
export interface DecisionRow {
  line: number | null;
  eventId: string;
  event: string;
  kind: string;
  backend: string | null;
  from: string | null;
  to: string | null;
  actions: Array<Pick<Action, 'actionId' | 'type' | 'backend'>>;
  note: string;
}

export interface RunResult {
  rows: DecisionRow[];
  actions: Action[];
  snapshot: ClusterSnapshot;
}

/** The rows of one decision: the audit's own projection (machines/audit-bodies.ts), with the scenario line. */
export function rowsOf(line: number | null, event: NodeEvent, d: Decision): DecisionRow[] {
  return decisionEntries(event, d).map((e) => ({
    line,
    eventId: e.eventId,
    event: e.eventType,
    kind: e.kind,
    backend: e.backend,
    from: e.from ?? null,
    to: e.to ?? null,
    actions: e.actions,
    note: e.note,
  }));
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

export function formatRowsJson(rows: readonly DecisionRow[]): string {
  return rows
    .map((r) =>
      JSON.stringify({
        line: r.line,
        eventId: r.eventId,
        event: r.event,
        kind: r.kind,
        backend: r.backend,
        from: r.from,
        to: r.to,
        actions: r.actions.map((a) => ({ type: a.type, backend: a.backend, actionId: a.actionId })),
        note: r.note,
      }),
    )
    .map((l) => `${l}\n`)
    .join('');
}

export function formatRowsTable(rows: readonly DecisionRow[], snapshot?: ClusterSnapshot): string {
  const out: string[] = [];
  const head = ['#', 'event', 'backend', 'transition', 'actions', 'note'];
  const cells = rows.map((r) => [
    r.line === null ? '' : String(r.line),
    r.event,
    r.backend ?? '-',
    r.kind === 'decision' ? `${r.from ?? '?'} → ${r.to ?? '?'}` : r.kind,
    r.actions.map((a) => `${a.type} ${a.backend}`).join(', ') || '-',
    r.note,
  ]);
  const widths = head.map((h, i) => Math.min(i === 5 ? 0 : 40, Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length))));
  const fmt = (c: string[]): string => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i] ?? 0))).join('  ');
  out.push(fmt(head));
  for (const c of cells) out.push(fmt(c));
  if (snapshot) {
    out.push('', 'final state:');
    for (const v of backendViews(snapshot)) out.push(`  ${v.address.padEnd(24)} ${v.path}${v.pending ? ` (in flight: ${v.pending.type} ${v.pending.actionId})` : ''}`);
  }
  return `${out.join('\n')}\n`;
}
