import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { AuditStore } from '../../audit/store.ts';
import type { AuditRecord } from '../../contracts/audit.ts';
import { startWorker } from '../../lab/drills/fleet-processes.ts';
import { SCENARIOS } from '../../lab/drills/index.ts';
import { runScenarios } from '../../lab/drills/runner.ts';
import { labId, startLab } from '../../testkit/lab.ts';
import { freePort } from '../../testkit/redis.ts';
import { openConsoleBrowser } from '../../testkit/browser.ts';

/**
 * The auditor's view, in Debian's Chromium, during the real failover drills: the cluster page is
 * open while the drills run, follows them live, and at the end its timeline (lanes, state spans,
 * action bars and their attempts) is checked against the audit trail read from Redis. Screenshots
 * of the timeline and the diagram are written to artifacts/; `pcpflow audit report` and
 * `pcpflow replay --verify` run on the same trail.
 */
const LAB_ID = labId(23);
const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/pcpflow.js', import.meta.url));

interface Box {
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Text boxes of an SVG on the page, as the browser laid them out. */
function textBoxes(page: Page, selector: string): Promise<Box[]> {
  return page.locator(selector).first().evaluate((svg) =>
    [...svg.querySelectorAll('text')].flatMap((t) => {
      const r = t.getBoundingClientRect();
      return t.textContent?.trim() && r.width > 0 ? [{ text: t.textContent.trim(), x: r.left, y: r.top, w: r.width, h: r.height }] : [];
    }),
  );
}

function overlaps(boxes: Box[], slack = 1): string[] {
  const out: string[] = [];
  boxes.forEach((a, i) =>
    boxes.slice(i + 1).forEach((b) => {
      if (a.x + slack < b.x + b.w && b.x + slack < a.x + a.w && a.y + slack < b.y + b.h && b.y + slack < a.y + a.h) out.push(`"${a.text}" / "${b.text}"`);
    }),
  );
  return out;
}

/** What the audit says each lane must show: the state sequence and every action with its attempts. */
function expected(records: AuditRecord[]) {
  const states = new Map<string, string[]>();
  const push = (b: string, s: string): void => {
    const l = states.get(b) ?? [];
    if (l[l.length - 1] !== s) l.push(s);
    states.set(b, l);
  };
  const actions = new Map<string, { backend: string; type: string; attempts: number; result: string }>();
  for (const r of records) {
    const boot = (r.payload as { bootstrap?: Array<{ address: string; role: string; attached: boolean }> } | undefined)?.bootstrap;
    for (const b of boot ?? []) push(b.address, b.role === 'primary' && b.attached ? 'promoted' : b.attached ? 'up.serving' : 'detached');
    if (r.kind === 'decision' && r.backend && r.to) push(r.backend, r.to);
    for (const a of r.actions ?? []) actions.set(a.actionId, { backend: a.backend, type: a.type, attempts: 0, result: 'in-flight' });
    if (r.kind === 'action-attempt' && r.actionId && r.outcome !== 'started') {
      const a = actions.get(r.actionId);
      if (a) {
        a.attempts += 1;
        if (r.outcome === 'changed' || r.outcome === 'already') a.result = r.outcome;
      }
    }
  }
  return { states, actions };
}

test('the cluster timeline follows the failover drills live in Chromium and matches the audit', { timeout: 600_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'pcpflow-timeline-'));
  const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(work, { recursive: true, force: true })];
  try {
    const lab = await startLab({ id: LAB_ID });
    cleanups.push(() => lab.stop());
    const httpPort = await freePort();
    const worker = await startWorker({ configPath: lab.configPath, httpPort, logFile: join(work, 'worker.log') });
    cleanups.push(() => worker.stop());
    const base = `http://127.0.0.1:${httpPort}`;
    const cluster = lab.config.clusters[0]?.name ?? 'lab';

    const { context, page, external } = await openConsoleBrowser(join(work, 'chromium'), base, { width: 1280, height: 900 });
    cleanups.push(() => context.close());

    // The page is open before the drills start: everything after arrives live.
    await page.goto(`${base}/cluster/${cluster}?range=all`);
    await page.locator('svg.timeline g.lane[data-lane] g.span').first().waitFor({ timeout: 60_000 });
    await page.locator('body[data-live="on"]').waitFor({ timeout: 30_000 });
    const updatesBefore = Number((await page.locator('body').getAttribute('data-updates')) ?? '0');

    const lines: string[] = [];
    // Every scenario but failover-reads: its read-after-write count through async standbys is
    // test/drills' business, and timing-sensitive with a browser on the same two cores.
    const scenarios = SCENARIOS.filter((s) => s.name !== 'failover-reads');
    const results = await runScenarios(lab, scenarios, { say: (l) => lines.push(l) });
    assert.deepEqual(results.filter((r) => !r.ok).map((r) => `${r.scenario}: ${r.step}`), [], lines.join('\n'));

    const redis = new Redis(lab.redisUrl);
    cleanups.push(() => redis.disconnect());
    const records = (await new AuditStore(redis, lab.config.redis.keyPrefix).query(cluster)).map((r) => r.record);
    const want = expected(records);
    const lastSeq = records[records.length - 1]?.seq ?? 0;
    // Live: the page caught up with the last record without a reload.
    await page.locator(`table.records tr#rec-${lastSeq}`).waitFor({ timeout: 60_000 });
    assert.ok(Number((await page.locator('body').getAttribute('data-updates')) ?? '0') > updatesBefore, 'refreshed by server-sent events');

    // Lanes: one per backend, each with the audit's state sequence as spans.
    const lanes = await page.locator('svg.timeline g.lane[data-lane]:not([data-lane="cluster"])').evaluateAll((gs) =>
      gs.map((g) => ({
        backend: g.getAttribute('data-lane') ?? '',
        states: [...g.querySelectorAll('g.span')].map((s) => s.getAttribute('data-state') ?? ''),
        actions: [...g.querySelectorAll('g.action')].map((a) => ({
          id: a.getAttribute('data-action') ?? '',
          type: a.getAttribute('data-type') ?? '',
          result: a.getAttribute('data-result') ?? '',
          attempts: Number(a.getAttribute('data-attempts')),
          circles: a.querySelectorAll('circle.attempt').length,
          tip: a.querySelector(':scope > title')?.textContent ?? '',
        })),
        markers: g.querySelectorAll('g.marker').length,
      })),
    );
    assert.deepEqual(lanes.map((l) => l.backend).sort(), [...want.states.keys()].sort());
    for (const l of lanes) {
      assert.deepEqual(l.states, want.states.get(l.backend), `states of ${l.backend}`);
      const mine = [...want.actions].filter(([, a]) => a.backend === l.backend);
      assert.deepEqual(l.actions.map((a) => a.id).sort(), mine.map(([id]) => id).sort(), `actions of ${l.backend}`);
      for (const a of l.actions) {
        const w = want.actions.get(a.id);
        assert.equal(a.result, w?.result, `result of ${a.id}`);
        assert.equal(a.attempts, w?.attempts, `attempts of ${a.id}`);
        assert.equal(a.circles, a.attempts, 'every attempt is drawn');
        assert.match(a.tip, new RegExp(`^${a.type} `));
      }
      assert.ok(l.markers > 0, `${l.backend} has hook events`);
    }
    assert.ok(lanes.some((l) => l.actions.some((a) => a.type === 'promote')), 'the failover promote is drawn');
    assert.ok((await page.locator('ol.incidents li.incident').count()) >= 1, 'the drills are found as an incident');

    // Hover shows the sentence, a click shows the record.
    const marker = page.locator('svg.timeline g.marker[data-source="efm"]').first();
    const seq = await marker.getAttribute('data-seq');
    assert.match((await marker.locator('title').textContent()) ?? '', /from efm/);
    await marker.click();
    assert.equal(new URL(page.url()).hash, `#rec-${seq}`);
    assert.equal(await page.locator(`tr#rec-${seq}`).evaluate((tr) => tr.matches(':target')), true);

    // Labels of the timeline and of the diagram never overlap.
    assert.deepEqual(overlaps(await textBoxes(page, 'svg.timeline')), []);
    assert.deepEqual(overlaps(await textBoxes(page, '.incident-view .diagram svg')), []);
    const diagramText = (await page.locator('.incident-view .diagram svg').textContent()) ?? '';
    assert.match(diagramText, /entered ×\d/);
    assert.ok(!/\[idle\]|pendingSucceeded/.test(diagramText), 'guards are folded away');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator('svg.timeline').first().screenshot({ path: join(ARTIFACTS, 'timeline.png') });
    await page.locator('.incident-view .diagram svg').screenshot({ path: join(ARTIFACTS, 'diagram.png') });

    // Zoom: drag across the middle of the timeline; the page shows that range.
    const svg = page.locator('svg.timeline').first();
    await svg.scrollIntoViewIfNeeded();
    const box = await svg.boundingBox();
    if (!box) throw new Error('timeline not visible');
    const [t0, t1] = [Number(await svg.getAttribute('data-t0')), Number(await svg.getAttribute('data-t1'))];
    await page.mouse.move(box.x + box.width * 0.4, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + 20, { steps: 5 });
    await page.mouse.up();
    await page.waitForURL((u) => u.searchParams.has('until'));
    const zoomed = page.locator('svg.timeline').first();
    const [z0, z1] = [Number(await zoomed.getAttribute('data-t0')), Number(await zoomed.getAttribute('data-t1'))];
    assert.ok(z0 > t0 && z1 < t1 && z1 - z0 < (t1 - t0) / 2, 'the range shown narrowed to the drag');
    assert.deepEqual(external, [], 'the page loaded nothing from outside');

    // The same trail through the commands: the report for a ticket, and replay proving the decisions.
    const exported = join(work, 'audit.jsonl');
    writeFileSync(exported, records.map((r) => JSON.stringify(r)).join('\n'));
    const out = join(ARTIFACTS, 'incident.html');
    const report = spawnSync(process.execPath, [CLI, 'audit', 'report', '--config', lab.configPath, '--since', '1h', '--out', out, '--svg', join(ARTIFACTS, 'timeline.svg')], { encoding: 'utf8' });
    assert.equal(report.status, 0, report.stderr);
    const doc = readFileSync(out, 'utf8');
    assert.ok(!/<script\b/i.test(doc) && !/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i.test(doc), 'self-contained, no script');
    assert.match(doc, /class="timeline"/);
    assert.match(readFileSync(join(ARTIFACTS, 'incident.md'), 'utf8'), /\| backend \| states \|/);
    const verify = spawnSync(process.execPath, [CLI, 'replay', '--verify', exported], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /all identical/);
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err: unknown) => t.diagnostic(`cleanup failed: ${String(err)}`));
  }
});
