import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { clusterFor, formatRowsJson, parseScenario, runScenario } from '../../simulation/index.ts';
import { backendViews } from '../../machines/index.ts';

const dir = join(import.meta.dirname, '../scenarios');
const files = readdirSync(dir).filter((f) => f.endsWith('.scenario')).sort();

test('the Appendix A scenarios are all present', () => {
  for (const name of ['master-down', 'master-agent-crash', 'standby-down', 'standby-resume', 'switchover'])
    assert.ok(files.includes(`${name}.scenario`), name);
});

for (const f of files) {
  test(`scenario ${f} yields the PCP actions a DBA expects`, () => {
    const sc = parseScenario(readFileSync(join(dir, f), 'utf8'));
    assert.ok(sc.expectActions, `${f} has no # expect-actions line`);
    const result = runScenario(sc, clusterFor(sc, {}));
    assert.deepEqual(result.actions.map((a) => `${a.type} ${a.backend}`), sc.expectActions);
    const states = Object.fromEntries(backendViews(result.snapshot).map((v) => [v.address, v.state]));
    for (const [addr, state] of Object.entries(sc.expectStates ?? {})) assert.equal(states[addr], state, `${f}: ${addr}`);
    assert.ok(backendViews(result.snapshot).every((v) => v.pending === null), 'every action settled');
    // Running twice prints the same thing: ids and clock are simulated.
    assert.equal(formatRowsJson(runScenario(sc, clusterFor(sc, {})).rows), formatRowsJson(result.rows));
  });
}

test('with detachHealthyPrimary on, a master agent crash detaches the primary', () => {
  const sc = parseScenario(readFileSync(join(dir, 'master-agent-crash.scenario'), 'utf8'));
  const result = runScenario(sc, clusterFor(sc, { detachHealthyPrimary: true }));
  assert.deepEqual(result.actions.map((a) => `${a.type} ${a.backend}`), ['detach 127.0.0.11:5432']);
});

test('an explicit gave-up outcome puts the backend in attention and nothing else acts on it', () => {
  const sc = parseScenario(['# primary: 127.0.0.11', '# backends: 127.0.0.11:5432 127.0.0.12:5432', 'efm detach 127.0.0.12 s', 'outcome 127.0.0.12 gave-up pgpool unreachable', 'efm attach 127.0.0.12 s'].join('\n'));
  const result = runScenario(sc, clusterFor(sc, {}));
  assert.deepEqual(result.actions.map((a) => a.type), ['detach']);
  assert.equal(backendViews(result.snapshot).find((v) => v.address === '127.0.0.12:5432')?.state, 'attention');
  assert.match(result.rows.at(-1)?.note ?? '', /needs attention/);
});

test('an unknown address is rejected with the reason, not guessed', () => {
  const sc = parseScenario(['# primary: 127.0.0.11', '# backends: 127.0.0.11:5432 127.0.0.12:5432', '{"eventId":"evt-000001","dedupeKey":"x","source":"efm","cluster":"sim","backend":"10.9.9.9","observedAt":"2024-01-01T00:00:00.000Z","argv":[],"type":"efm.detach","nodeType":"standby"}'].join('\n'));
  const result = runScenario(sc, clusterFor(sc, {}));
  assert.equal(result.rows[0]?.kind, 'event-rejected');
  assert.match(result.rows[0]?.note ?? '', /10\.9\.9\.9 is not a backend/);
});
