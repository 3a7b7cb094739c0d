import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AuditRecord } from '../../contracts/audit.ts';
import { InvalidInputError } from '../../contracts/errors.ts';
import { formatAddress } from '../../contracts/address.ts';
import { action } from '../run.ts';
import { parseSince } from './audit.ts';

interface ReportOpts {
  config?: string;
  cluster?: string;
  since?: string;
  until?: string;
  input?: string;
  out?: string;
  markdown?: string;
  svg?: string;
}

/** `13:22` or `13:22:30` (UTC, the latest such time not in the future), else as `--since` of `pcpflow audit`. */
export function parseWhen(text: string, now: Date): Date {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!m) return parseSince(text, now);
  const [h, min, sec] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (h > 23 || min > 59 || sec > 59) throw new InvalidInputError(`"${text}" is not a time of day`);
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), h, min, sec));
  return d > now ? new Date(d.getTime() - 86_400_000) : d;
}

/**
 * `pcpflow audit report`: the incident view of one cluster as a self-contained HTML file for a
 * ticket, plus its Markdown summary for the change record. The records come from Redis, or from
 * an exported audit (`--input`, what an auditor is usually handed). Without --since, the latest
 * burst of events found in the trail is the range.
 */
export function registerReport(audit: Command): void {
  audit
    .command('report')
    .description('write the incident report of a cluster: timeline, per-backend summary, diagram, records (HTML + Markdown)')
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG)')
    .option('--cluster <name>', 'the cluster (default: $PCPFLOW_CLUSTER, else the only one)')
    .option('--since <when>', 'start: a time of day in UTC (13:22), a duration ago (15m, 2h) or an ISO time (default: the latest incident found)')
    .option('--until <when>', 'end: a time of day in UTC, a duration ago or an ISO time (default: the incident end, or now)')
    .option('--input <file>', 'read an exported audit (pcpflow audit --export) instead of Redis')
    .option('--out <file>', 'the HTML report', 'incident.html')
    .option('--markdown <file>', 'the Markdown summary (default: the HTML path with .md)')
    .option('--svg <file>', 'also write the timeline alone as an SVG picture')
    .action(
      action(async (_opts: ReportOpts, cmd: Command) => {
        // Options shared with `pcpflow audit` (--config, --cluster, --since) may land on the parent.
        const opts = cmd.optsWithGlobals<ReportOpts>();
        // Redis, XState and Graphviz load only when a report is made (`--help` stays light).
        const [{ exportedClusterRecords, reportRange }, { AuditStore }, { incidentMarkdown, incidentView }, { incidentReportPage }, { timelineSvg }, { loadConfig }, { createRedis }, { graphvizLayout }] =
          await Promise.all([
            import('../../audit/report-input.ts'),
            import('../../audit/store.ts'),
            import('../../console/incident.ts'),
            import('../../console/pages.ts'),
            import('../../console/timeline-svg.ts'),
            import('../../runtime/config.ts'),
            import('../../runtime/redis.ts'),
            import('../../diagrams/graphviz.ts'),
          ]);
        const now = new Date();
        let records: AuditRecord[];
        let cluster: string;
        let backends: string[] | undefined;
        if (opts.input) {
          let text: string;
          try {
            text = readFileSync(opts.input, 'utf8');
          } catch (err) {
            throw new InvalidInputError(`${opts.input}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, undefined, { cause: err });
          }
          ({ cluster, records } = exportedClusterRecords(text, opts.input, opts.cluster ?? process.env.PCPFLOW_CLUSTER));
        } else {
          const { config } = loadConfig(opts.config);
          const name = opts.cluster ?? process.env.PCPFLOW_CLUSTER ?? (config.clusters.length === 1 ? config.clusters[0]?.name : undefined);
          const c = config.clusters.find((x) => x.name === name);
          if (!c) throw new InvalidInputError(`--cluster: ${name ? `unknown cluster "${name.slice(0, 64)}"` : `choose one of ${config.clusters.map((x) => x.name).join(', ')}`}`);
          cluster = c.name;
          backends = c.backends.map((b) => formatAddress({ host: b.address, port: b.port }));
          const redis = createRedis(config.redis, 'producer');
          try {
            records = (await new AuditStore(redis, config.redis.keyPrefix).query(cluster)).map((r) => r.record);
          } finally {
            redis.disconnect();
          }
        }
        const { from, to } = reportRange(
          cluster,
          records,
          { since: opts.since, until: opts.until },
          (text) => parseWhen(text, now).getTime(),
          (line) => process.stdout.write(`${line}\n`),
        );
        const view = await incidentView({ cluster, records, from, to, ...(backends ? { backends } : {}), layout: await graphvizLayout(), zoom: true });
        const out = opts.out ?? 'incident.html';
        const md = opts.markdown ?? `${out.replace(/\.html?$/i, '')}.md`;
        writeFileSync(out, incidentReportPage(view, now));
        writeFileSync(md, incidentMarkdown(view, now));
        process.stdout.write(`wrote ${out} and ${md}: ${view.timeline.records.length} records, ${view.timeline.lanes.length} backends, ${view.timeline.incidents.length} incident(s)\n`);
        if (opts.svg) {
          writeFileSync(opts.svg, `${timelineSvg(view.timeline, { caption: `pcpflow — cluster ${cluster}` })}\n`);
          process.stdout.write(`wrote ${opts.svg}\n`);
        }
        return 0;
      }),
    );
}
