import { ActionResultSchema, NodeEventSchema, type ActionResult, type NodeEvent } from '../contracts/events.ts';
import { ScenarioError } from './errors.ts';

/**
 * The scenario file of `pcpflow simulate`: hook calls exactly as the hooks take them, JSON events,
 * `outcome` and `wait` lines, and `#` headers that describe the cluster and what to expect.
 */

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

/** The simulated clock's start: a scenario always prints the same times. */
export const SIM_EPOCH = Date.parse('2024-01-01T00:00:00.000Z');

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
