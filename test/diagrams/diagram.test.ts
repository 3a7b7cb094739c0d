import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { graphvizLayout } from '../../diagrams/graphviz.ts';
import { clusterFor, formatRowsJson, parseScenario, runScenario } from '../../simulation/index.ts';
import { parseHistory, renderDiagram } from '../../diagrams/index.ts';
import { BACKEND_STATE_NAMES, machineGraph } from '../../machines/index.ts';

/** Text nodes of an SVG, e.g. state and edge labels. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1] ?? '');
}

test('the SVG, rendered in-process from the machine definition, shows every state', async () => {
  const svg = await renderDiagram({ format: 'svg', detail: 'full', layout: await graphvizLayout() });
  assert.match(svg, /^<\?xml|^<svg/);
  const texts = svgTexts(svg);
  for (const name of BACKEND_STATE_NAMES) assert.ok(texts.includes(name), `state ${name} missing from the SVG`);
  for (const leaf of ['serving', 'awaitingReattach', 'awaitingStream', 'reattached', 'awaiting', 'inProgress', 'done']) assert.ok(texts.includes(leaf), leaf);
  // Every transition of the machine is an edge label in the picture.
  const labels = texts.join('\n');
  for (const e of machineGraph().edges) if (e.event) assert.ok(labels.includes(e.event), e.event);
});

test('a history draws one backend path, numbered in order, in a self-contained HTML page', async () => {
  const sc = parseScenario(readFileSync(join(import.meta.dirname, '../scenarios/switchover.scenario'), 'utf8'));
  const jsonl = formatRowsJson(runScenario(sc, clusterFor(sc, {})).rows);
  const history = parseHistory(jsonl, '127.0.0.11');
  assert.equal(history.backend, '127.0.0.11:5432');
  assert.deepEqual(
    history.steps.map((s) => `${s.n} ${s.from}>${s.to}`),
    ['1 promoted>detached', '2 detached>detached', '3 detached>rebuilding.awaiting', '4 rebuilding.awaiting>up.serving', '5 up.serving>up.serving'],
  );
  const dot = await renderDiagram({ format: 'dot', detail: 'full', history: history.steps, backend: history.backend });
  assert.match(dot, /"promoted" -> "detached" \[label="#1 efm.fence" color="#d62728"/);
  assert.match(dot, /"rebuilding.awaiting" -> "up.serving" \[label="#4 efm.attach"/);
  const html = await renderDiagram({ format: 'html', detail: 'full', history: history.steps, backend: history.backend, layout: await graphvizLayout() });
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.ok(!/<script|<link|src=/i.test(html), 'no scripts or external resources');
  assert.match(html, /<td class="n">4<\/td>/);
  assert.ok(svgTexts(html).some((t) => t.startsWith('#1')));
});

test('mermaid output names every state and the path', async () => {
  const mm = await renderDiagram({ format: 'mermaid', detail: 'full', history: [{ n: 1, backend: 'x', from: 'up', to: 'detached', event: 'efm.detach' }] });
  assert.match(mm, /^stateDiagram-v2/);
  for (const name of BACKEND_STATE_NAMES) assert.ok(mm.includes(name), name);
  assert.match(mm, /up_serving --> detached : step 1 efm.detach/);
});

test('each state shows, on hover in the SVG, the events it does nothing on and the reason the audit gives', async () => {
  const svg = await renderDiagram({ format: 'svg', detail: 'full', layout: await graphvizLayout() });
  const titles = [...svg.matchAll(/xlink:title="([^"]*)"/g)].map((m) => (m[1] ?? '').replaceAll('&#45;', '-').replaceAll('&#10;', '\n'));
  const detached = titles.find((t) => t.startsWith('detached does nothing on:'));
  assert.ok(detached, `no tooltip for detached among ${titles.length} titles`);
  assert.match(detached, /DETACH: already detached/);
  // Every leaf state carries its reasons, from the machine's own meta.
  for (const s of machineGraph().states.filter((x) => !x.compound && x.path !== 'boot')) {
    assert.ok(s.ignores.length > 0, `${s.path} has no reasons`);
    assert.ok(titles.some((t) => t.startsWith(`${s.path} does nothing on:`)), `${s.path} has no tooltip`);
  }
});
