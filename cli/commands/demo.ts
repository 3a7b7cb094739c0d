import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { action } from '../run.ts';

const print = (line: string) => process.stdout.write(`${line}\n`);

/**
 * The newcomer's tour: a real lab, two worker processes, every failover scenario of the EDB
 * architecture played for real, then the audit timeline and an HTML report of the old primary's
 * path through the state diagram. Torn down at the end unless --keep.
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description('set up a local lab, run the failover drill with two workers, print the audit timeline and the report')
    .option('--keep', 'leave the lab running afterwards (pcpflow lab down removes it)')
    .option('--id <n>', 'lab id (addresses 127.0.<id>.x)', '0')
    .option('--report <file>', 'where to write the HTML audit report', 'artifacts/demo-report.html')
    .action(
      action(async (opts: { keep?: boolean; id: string; report: string }) => {
        const started = performance.now();
        const [{ formatTimeline }, { AuditStore }, { labDown, labUp }, { runDrill, SCENARIOS }, { parseHistory, renderDiagram }, { createRedis }, { graphvizLayout }] =
          await Promise.all([
            import('../../audit/format.ts'),
            import('../../audit/store.ts'),
            import('../../lab/index.ts'),
            import('../../lab/drills/index.ts'),
            import('../../diagrams/index.ts'),
            import('../../runtime/redis.ts'),
            import('../../diagrams/graphviz.ts'),
          ]);
        print('== 1/4 lab: PostgreSQL 15 primary + 2 streaming standbys, pgpool-II, Redis, on loopback');
        const lab = await labUp({ id: Number(opts.id) }, print);
        let ok = false;
        try {
          print(`\n== 2/4 drill with two \`pcpflow worker\` processes: ${SCENARIOS.map((s) => s.name).join(', ')}`);
          const results = await runDrill(lab, SCENARIOS, { workers: 2, say: print });
          ok = results.length > 0 && results.every((r) => r.ok);
          print(`drill: ${results.filter((r) => r.ok).length}/${results.length} steps matched pgpool's expected table`);

          print('\n== 3/4 audit timeline (pcpflow audit)');
          const redis = createRedis(lab.config.redis, 'producer');
          try {
            const store = new AuditStore(redis, lab.config.redis.keyPrefix);
            const records = (await store.query('lab')).map((r) => r.record);
            print(formatTimeline(records));
            const verify = await store.verify('lab');
            print(`hash chain: ${verify.ok ? 'intact' : 'BROKEN'} (${verify.checked} records)`);

            print('\n== 4/4 HTML audit report');
            const failedPrimary = `${lab.nodes[0]?.address}:${lab.nodes[0]?.port}`;
            const history = parseHistory(records.map((r) => JSON.stringify(r)).join('\n'), failedPrimary);
            const html = await renderDiagram({ format: 'html', history: history.steps, backend: history.backend, layout: await graphvizLayout() });
            const out = resolve(opts.report);
            mkdirSync(resolve(out, '..'), { recursive: true });
            writeFileSync(out, html);
            print(`report: ${out} (the path of ${failedPrimary}, the primary that failed, through the state diagram)`);
            // The auditors' view of the whole drill: what `pcpflow audit report` writes for a ticket.
            const [{ incidentView, incidentMarkdown }, { incidentReportPage }] = await Promise.all([import('../../console/incident.ts'), import('../../console/pages.ts')]);
            const times = records.map((r) => Date.parse(r.at));
            const view = await incidentView({ cluster: 'lab', records, from: Math.min(...times) - 2000, to: Math.max(...times) + 2000, layout: await graphvizLayout(), zoom: true });
            const incident = out.replace(/\.html?$/i, '') + '-incident.html';
            writeFileSync(incident, incidentReportPage(view));
            writeFileSync(incident.replace(/\.html$/, '.md'), incidentMarkdown(view));
            print(`incident report: ${incident} (timeline of every backend, per-backend summary, diagram with the transitions taken) and its Markdown summary`);
          } finally {
            redis.disconnect();
          }
        } finally {
          if (opts.keep) print(`\nlab kept running: eval "$(pcpflow lab env${opts.id !== '0' ? ` --id ${opts.id}` : ''})"; stop it with pcpflow lab down`);
          else await labDown(lab.dir, print);
        }
        print(`\ndemo ${ok ? 'passed' : 'FAILED'} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        return ok ? 0 : 1;
      }),
    );
}
