import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import type { DiagramFormat } from '../../diagrams/index.ts';
import { action } from '../run.ts';

const FORMATS: readonly DiagramFormat[] = ['mermaid', 'dot', 'svg', 'html'];

export function register(program: Command): void {
  program
    .command('viz')
    .description('draw the backend state machine (mermaid, dot, svg, html), optionally with a backend path from history')
    .option('--format <format>', `one of ${FORMATS.join(', ')}`, 'mermaid')
    .option('--history <file>', 'audit JSON lines or `pcpflow simulate --json` output: draw one backend path')
    .option('--backend <addr>', 'which backend of the history (default: the first that changed state)')
    .option('--detail <level>', 'people: states and the transitions a DBA reasons about, taken ones counted; full: every substate, guard and edge', 'people')
    .option('--out <file>', 'write here instead of stdout')
    .action(
      action(async (opts: { format: string; history?: string; backend?: string; out?: string; detail: string }) => {
        if (opts.detail !== 'people' && opts.detail !== 'full') throw new InvalidInputError(`--detail ${opts.detail.slice(0, 20)}: expected people or full`);
        const [{ parseHistory, renderDiagram }, { graphvizLayout }] = await Promise.all([import('../../diagrams/index.ts'), import('../../diagrams/graphviz.ts')]);
        const format = FORMATS.find((f) => f === opts.format);
        if (!format) throw new InvalidInputError(`--format ${opts.format.slice(0, 20)}: expected one of ${FORMATS.join(', ')}`);
        let history: ReturnType<typeof parseHistory> = { backend: null, steps: [] };
        if (opts.history) {
          let text: string;
          try {
            text = readFileSync(opts.history, 'utf8');
          } catch (err) {
            throw new InvalidInputError(`${opts.history}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, undefined, { cause: err });
          }
          history = parseHistory(text, opts.backend);
          if (history.backend === null)
            throw new InvalidInputError(`${opts.history}: no entry with from/to${opts.backend ? ` for backend ${opts.backend}` : ''}`);
        }
        const out = await renderDiagram({
          format,
          detail: opts.detail,
          history: history.steps,
          backend: history.backend,
          ...(format === 'svg' || format === 'html' ? { layout: await graphvizLayout() } : {}),
        });
        if (opts.out) writeFileSync(opts.out, out);
        else process.stdout.write(out);
        return 0;
      }),
    );
}
