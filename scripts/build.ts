import { build, type BuildOptions, type OutputFile, type Plugin } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeHookFiles } from './build-hook.ts';

/**
 * `npm run build`: the `pcpflow` CLI (and everything it runs: workers, console, lab) as plain
 * JavaScript in build/, for `node` without a TypeScript loader; then the hook's single-file
 * bundle (scripts/build-hook.ts). esbuild rather than tsc: it bundles our modules into a few
 * files with code splitting, so a command loads one entry plus the chunks it uses instead of
 * resolving hundreds of small modules at every start, and each subcommand's dynamic import becomes a
 * chunk loaded only when that subcommand runs. Type checking stays with `tsc --noEmit` (npm test).
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD_DIR = join(root, 'build');

/**
 * npm packages the built code loads from node_modules at run time: the package.json
 * `dependencies`, nothing else (test/build/build.test.ts checks both ways). Each is kept out of
 * the bundle for a reason: BullMQ reads its Lua commands from its own folder and takes ioredis
 * as a peer (one copy, or its instanceof checks fail); pino runs transports in worker threads
 * from files; the Graphviz WebAssembly loads from its package; js-yaml loads only for a YAML
 * config (runtime/config.ts requires it then); pg (the stream check) looks for its optional
 * native binding at run time; xstate and prom-client stay external so a test can see from the
 * module trace that `--help` loads neither. The rest (zod, commander) is bundled: a few chunk
 * files instead of ~300 small modules at every start.
 */
export const RUNTIME_PACKAGES = ['@hpcc-js/wasm-graphviz', 'bullmq', 'ioredis', 'js-yaml', 'pg', 'pino', 'pino-pretty', 'prom-client', 'xstate'] as const;

/**
 * zod's namespace object re-exports every locale (~40 languages, about half of zod's bytes);
 * pcpflow's messages are English, so the bundle keeps `en` alone.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: join(dirname(args.importer), '..', 'locales', 'en.js'), namespace: 'zod-en' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

/**
 * Commands built as one file each, outside the code splitting: `outbox` runs every 30 s from a
 * timer and uses only the hooks' machinery (zod/mini, the RESP client); `check-primary` is what
 * EFM-side scripts and DBAs run in place of pgpool_backend.sh's check, and cli/main.ts runs it
 * for its plain command lines before commander is loaded. Inside the split build each would
 * share zod's core chunk with zod classic and load all of it; on its own, esbuild keeps the few
 * kB it uses. Neither imports anything from main.js at run time (only types), so each has its
 * own copies of the error classes and the action wrapper, which is what it needs.
 * The key is the source module; the value, the module that imports it and where that module's
 * output lies: cli/main.ts in build/main.js, the command list in a chunk under build/chunks/.
 */
export const STANDALONE_COMMANDS = {
  outbox: { importer: join('cli', 'commands', 'index.ts'), from: '../' },
  'check-primary': { importer: join('cli', 'main.ts'), from: './' },
} as const;

const standaloneAsSibling: Plugin = {
  name: 'standalone-as-sibling',
  setup(b) {
    b.onResolve({ filter: /\.ts$/ }, (args) => {
      for (const [name, { importer, from }] of Object.entries(STANDALONE_COMMANDS)) {
        if (args.importer.endsWith(importer) && args.path.endsWith(`/${name}.ts`)) return { path: `${from}${name}.js`, external: true };
      }
      return undefined;
    });
  },
};

const shared: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: RUNTIME_PACKAGES.flatMap((p) => [p, `${p}/*`]),
  minifySyntax: true,
  // PCPFLOW_BUILD_READABLE=1 keeps lines and the `// file.ts` markers, for reading a CPU profile.
  minifyWhitespace: process.env.PCPFLOW_BUILD_READABLE !== '1',
  legalComments: 'none',
  absWorkingDir: root,
  logLevel: 'silent',
  write: false,
  // Bundled CommonJS code that require()s node builtins needs a require in ESM chunks.
  banner: { js: "import { createRequire as __pcpflowRequire } from 'node:module'; const require = __pcpflowRequire(import.meta.url);" },
};

const options: BuildOptions = {
  ...shared,
  entryPoints: { main: join(root, 'cli', 'main.ts') },
  outdir: BUILD_DIR,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [zodEnglishOnly, standaloneAsSibling],
};

/** What the build writes, in memory: for `npm run build` and for the test that finds stale output. */
export async function buildCli(): Promise<OutputFile[]> {
  const results = await Promise.all([
    build(options),
    ...Object.keys(STANDALONE_COMMANDS).map((name) =>
      build({ ...shared, entryPoints: { [name]: join(root, 'cli', 'commands', `${name}.ts`) }, outdir: BUILD_DIR, plugins: [zodEnglishOnly] }),
    ),
  ]);
  return results.flatMap((r) => r.outputFiles ?? []).sort((a, b) => a.path.localeCompare(b.path));
}

/** Files under build/, relative paths. */
export function builtFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(BUILD_DIR, p));
    }
  };
  walk(BUILD_DIR);
  return out.sort();
}

/** Differences between build/ and what the sources build to now; empty when build/ is current. */
export async function staleBuildOutput(): Promise<string[]> {
  const fresh = await buildCli();
  const onDisk = new Set(builtFiles());
  const problems: string[] = [];
  for (const f of fresh) {
    const rel = relative(BUILD_DIR, f.path);
    if (!onDisk.delete(rel)) problems.push(`build/${rel} is missing`);
    else if (!readFileSync(f.path).equals(Buffer.from(f.contents))) problems.push(`build/${rel} differs from its sources`);
  }
  for (const rel of onDisk) problems.push(`build/${rel} is left over from an older build`);
  return problems;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const files = await buildCli();
  rmSync(BUILD_DIR, { recursive: true, force: true });
  let bytes = 0;
  for (const f of files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.contents);
    bytes += f.contents.length;
  }
  process.stdout.write(`wrote build/: ${files.length} files, ${(bytes / 1024).toFixed(0)} kB\n`);
  await writeHookFiles((line) => process.stdout.write(`${line}\n`));
}
