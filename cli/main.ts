import { fastCommand } from './fast-argv.ts';

/**
 * Output into a closed pipe (`pcpflow audit | head -1`) ends the command quietly, as a Unix tool
 * does, instead of an unhandled EPIPE stack trace.
 */
export function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
}

export async function main(argv: string[] = process.argv): Promise<void> {
  quietOnClosedPipe();
  try {
    const fast = fastCommand(argv.slice(2));
    switch (fast?.name) {
      case 'check-primary': {
        // build/check-primary.js, built on its own (scripts/build.ts): no commander, no zod classic.
        const { runCheckPrimary } = await import('./commands/check-primary.ts');
        return await runCheckPrimary(fast.address, fast.opts);
      }
      case 'status': {
        const { runStatus } = await import('./commands/status.ts');
        return await runStatus(fast.opts);
      }
      case undefined:
        break;
    }
    const { buildProgram } = await import('./program.ts');
    await (await buildProgram(argv.slice(2))).parseAsync(argv);
  } catch (err) {
    // Loaded here, not at start: build/main.js then imports nothing before the command's module.
    (await import('./run.ts')).reportAndExit(err);
  }
}
