import { runHook, EXIT_INTERNAL } from './main.ts';

// The bundle's entry (scripts/build-hook.ts → bin/pcpflow-hook.cjs). process.exit rather than
// waiting for the event loop to drain: nothing is left to flush (stderr to a pipe or file is
// synchronous on Linux) and EFM is waiting.
const io = {
  stderr: (line: string) => process.stderr.write(`${line}\n`),
  stdout: (line: string) => process.stdout.write(`${line}\n`),
};
runHook(process.argv.slice(2), process.env, io).then(
  (code) => process.exit(code),
  (err: unknown) => {
    io.stderr(`pcpflow-hook: unexpected error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(EXIT_INTERNAL);
  },
);
