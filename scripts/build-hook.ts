import { build, type Plugin } from 'esbuild';
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Bundles hooks/entry.ts into bin/pcpflow-hook.cjs: one minified file that needs nothing from
 * node_modules at run time, because EFM and pgpool spawn the hook for every event and it must
 * start in milliseconds. The output is committed (a fresh `npm ci` clone works without a build
 * step); test/hooks/bundle.test.ts fails when it is out of date with its sources.
 * Rebuild: npx tsx scripts/build-hook.ts
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HOOK_BUNDLE = join(root, 'bin', 'pcpflow-hook.cjs');
/**
 * The YAML parser, in its own file so JSON configs never load it. CommonJS, loaded with require:
 * as an ES module its dynamic import() started Node's ESM loader, which cost YAML configs about as
 * much again as js-yaml itself (bench/hooks.ts: 1.52× `node -e ''` against 1.27× for JSON).
 */
export const HOOK_YAML_BUNDLE = join(root, 'bin', 'pcpflow-hook-yaml.cjs');

const GENERATED =
  '// GENERATED from hooks/*.ts by scripts/build-hook.ts: do not edit. Rebuild: npx tsx scripts/build-hook.ts';

const yamlAsSibling: Plugin = {
  name: 'yaml-as-sibling',
  setup(b) {
    b.onResolve({ filter: /yaml-entry\.ts$/ }, () => ({ path: './pcpflow-hook-yaml.cjs', external: true }));
  },
};

async function bundle(entry: string, banner: string, plugins: Plugin[], format: 'esm' | 'cjs'): Promise<string> {
  const result = await build({
    // import() of the YAML sibling becomes require(): no ESM loader in the hook (see HOOK_YAML_BUNDLE).
    supported: { 'dynamic-import': false },
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format,
    target: 'node20',
    minify: true,
    legalComments: 'none',
    banner: { js: banner },
    absWorkingDir: root,
    logLevel: 'silent',
    plugins,
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error(`esbuild produced no output for ${entry}`);
  return out.text;
}

/** The generated files and their content, for writing or for the up-to-date test. */
export async function bundleHook(): Promise<{ path: string; text: string }[]> {
  const hook = await bundle(join(root, 'hooks', 'entry.ts'), `#!/usr/bin/env node\n${GENERATED}`, [
    yamlAsSibling,
  ], 'cjs'); // CommonJS: Node's ESM loader alone costs ~5 ms of every hook start
  const yaml = await bundle(join(root, 'hooks', 'yaml-entry.ts'), GENERATED, [], 'cjs');
  return [
    { path: HOOK_BUNDLE, text: hook },
    { path: HOOK_YAML_BUNDLE, text: yaml },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of await bundleHook()) {
    writeFileSync(f.path, f.text);
    if (f.path === HOOK_BUNDLE) chmodSync(f.path, 0o755);
    process.stdout.write(`wrote ${f.path} (${(f.text.length / 1024).toFixed(1)} kB)\n`);
  }
}
