import { build, type Plugin } from 'esbuild';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseReply } from '../hooks/resp.ts';

/**
 * Builds the hook EFM and pgpool spawn for every event, which must start in milliseconds:
 * - bin/pcpflow-hook-main.cjs: hooks/entry.ts bundled into one minified file that needs nothing
 *   from node_modules at run time;
 * - bin/pcpflow-hook.cjs, the command: a small loader that compiles the bundle with V8's code
 *   cache (below) and runs it;
 * - bin/pcpflow-hook-yaml.cjs: the YAML parser, loaded only for a YAML config;
 * - bin/pcpflow-hook-main.v8cache: V8's code cache for the bundle.
 * The output is committed (a fresh `npm ci` clone works without a build step);
 * test/hooks/bundle.test.ts fails when it is out of date with its sources.
 * Rebuild: npx tsx scripts/build-hook.ts
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The command (`/usr/bin/pcpflow-hook` links to it): the loader. */
export const HOOK_BUNDLE = join(root, 'bin', 'pcpflow-hook.cjs');
/** The hook itself, what the loader compiles and runs. */
export const HOOK_MAIN_BUNDLE = join(root, 'bin', 'pcpflow-hook-main.cjs');
/**
 * The YAML parser, in its own file so JSON configs never load it. CommonJS, loaded with require:
 * as an ES module its dynamic import() started Node's ESM loader, which cost YAML configs about as
 * much again as js-yaml itself (bench/hooks.ts: 1.52× `node -e ''` against 1.27× for JSON).
 */
export const HOOK_YAML_BUNDLE = join(root, 'bin', 'pcpflow-hook-yaml.cjs');
/**
 * V8's code cache for the main bundle: its bytecode, as compiled during a representative hook run
 * at build time (every function that run called, not only the top level). Node compiles a CommonJS
 * file afresh at every start (and each function again at its first call): that cost the hook ~15 ms
 * of every start (bench/hooks.ts). Node 22's module.enableCompileCache() would do this, but writes
 * its cache at run time; this one is read-only at run time (the hook runs as efm and postgres,
 * which must not write next to it). The file starts with a header line naming the bundle (its
 * hash, from the bundle's first line), the Node version and the architecture; the loader hands
 * V8 the rest only when all three match, and V8 itself refuses data from another V8 version, other
 * flags or a source of another length. Refused or missing, the bundle is compiled as before: the
 * cache changes the time, never the behaviour. Made with the Node the build runs on; the build
 * makes it again only when the bundle or that Node changed (its bytes differ from run to run).
 */
export const HOOK_CODE_CACHE = join(root, 'bin', 'pcpflow-hook-main.v8cache');

const GENERATED = 'GENERATED from hooks/*.ts by scripts/build-hook.ts: do not edit. Rebuild: npx tsx scripts/build-hook.ts';

/**
 * The function the bundle is compiled as: the parameters of Node's CommonJS wrapper. In
 * parentheses, so V8 compiles its body at once; the same text in the loader and in the build
 * (V8 checks the cached source by its length).
 */
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';

/** The cache file's header line, without its newline. */
export function codeCacheHeader(bundleId: string, version = process.version, arch = process.arch): string {
  return `pcpflow-v8cache ${bundleId} ${version} ${arch}`;
}

/** The id the main bundle's first line carries: `// pcpflow-hook-main <id> …`. */
export function bundleIdOf(mainText: string): string | undefined {
  return mainText.slice(0, mainText.indexOf('\n')).split(' ')[2];
}

/**
 * The loader. Plain JavaScript (it is not bundled): fs and vm are loaded by Node's bootstrap
 * anyway, so it costs a read of two files. Any trouble with the cache file means no cache.
 */
const LOADER = `#!/usr/bin/env node
// ${GENERATED}
// Runs pcpflow-hook-main.cjs compiled with V8's code cache (see HOOK_CODE_CACHE in scripts/build-hook.ts).
"use strict";
const { readFileSync } = require("node:fs");
const { Script } = require("node:vm");
const file = __dirname + "/pcpflow-hook-main.cjs";
const src = readFileSync(file, "utf8");
let cachedData;
try {
  const c = readFileSync(__dirname + "/pcpflow-hook-main.v8cache");
  const nl = c.indexOf(10);
  const id = src.slice(0, src.indexOf("\\n")).split(" ")[2];
  if (nl > 0 && c.toString("latin1", 0, nl) === "pcpflow-v8cache " + id + " " + process.version + " " + process.arch) cachedData = c.subarray(nl + 1);
} catch {}
new Script(${JSON.stringify(WRAP_HEAD)} + src + ${JSON.stringify(WRAP_TAIL)}, { filename: file, cachedData })
  .runInThisContext()(exports, require, module, file, __dirname);
`;

/**
 * Runs the main bundle as the loader does, with the arguments after the first two, twice in one
 * process: the first run meets no cached config (it parses and validates), the second the entry
 * the first wrote (EFM's usual case). Each run ends in the hook's process.exit, taken over here
 * to start the next; after the second (status 0 only) V8's code cache, which holds every function
 * either run compiled, is written to the second argument.
 */
const CACHE_MAKER = `"use strict";
const [file, out, ...args] = process.argv.slice(1);
const { readFileSync, writeFileSync } = require("node:fs");
const { Script } = require("node:vm");
const { dirname } = require("node:path");
const src = readFileSync(file, "utf8");
const script = new Script(${JSON.stringify(WRAP_HEAD)} + src + ${JSON.stringify(WRAP_TAIL)}, { filename: file });
process.argv = [process.argv[0], file, ...args];
const exit = process.exit.bind(process);
let runs = 0;
const run = () => {
  const m = { exports: {} };
  script.runInThisContext()(m.exports, require("node:module").createRequire(file), m, file, dirname(file));
};
process.exit = (code) => {
  if (code !== 0) return exit(code);
  if (++runs < 2) return run();
  writeFileSync(out, script.createCachedData());
  return exit(0);
};
run();
`;

const yamlAsSibling: Plugin = {
  name: 'yaml-as-sibling',
  setup(b) {
    b.onResolve({ filter: /yaml-entry\.ts$/ }, () => ({ path: './pcpflow-hook-yaml.cjs', external: true }));
  },
};

/**
 * node:crypto costs ~5 ms of a start to load (bench/hooks.ts) and the hook needs it only to hash
 * a long or prose dedupe key (hooks/dedupe.ts), and for an event id when /dev/urandom is missing
 * (hooks/random-uuid.ts): in the bundle it is required at the first call. An import of any other
 * name from node:crypto fails the build ("No matching export"): add it here.
 */
const lazyCrypto: Plugin = {
  name: 'lazy-node-crypto',
  setup(b) {
    b.onResolve({ filter: /^node:crypto$/ }, (args) =>
      // The shim's own require is the real module.
      args.namespace === 'lazy-crypto' ? { path: 'node:crypto', external: true } : { path: 'node:crypto', namespace: 'lazy-crypto' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-crypto' }, () => ({
      contents: `let c;
const crypto = () => (c ??= require("node:crypto"));
export const createHash = (...a) => crypto().createHash(...a);
export const randomUUID = (...a) => crypto().randomUUID(...a);`,
      loader: 'js',
    }));
  },
};

async function bundle(entry: string, plugins: Plugin[], define: Record<string, string> = {}): Promise<string> {
  const result = await build({
    // import() of the YAML sibling becomes require(): no ESM loader in the hook (see HOOK_YAML_BUNDLE).
    supported: { 'dynamic-import': false },
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs', // CommonJS: Node's ESM loader alone costs ~5 ms of every hook start
    target: 'node20',
    // PCPFLOW_BUILD_READABLE=1 keeps lines and the `// file.ts` markers, for reading a CPU profile.
    minify: process.env.PCPFLOW_BUILD_READABLE !== '1',
    legalComments: 'none',
    absWorkingDir: root,
    logLevel: 'silent',
    plugins,
    define,
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error(`esbuild produced no output for ${entry}`);
  return out.text;
}

/** The generated text files and their content, for writing or for the up-to-date test. */
export async function bundleHook(): Promise<{ path: string; text: string }[]> {
  // Names the config validation the bundle carries: a cached validated config is reused only
  // by the same validation code (hooks/config.ts).
  const validation = await bundle(join(root, 'hooks', 'config-validate.ts'), []);
  const validator = createHash('sha256').update(validation).digest('hex').slice(0, 16);
  const code = await bundle(join(root, 'hooks', 'entry.ts'), [yamlAsSibling, lazyCrypto], {
    PCPFLOW_HOOK_VALIDATOR: JSON.stringify(validator),
  });
  const id = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const yaml = await bundle(join(root, 'hooks', 'yaml-entry.ts'), []);
  return [
    { path: HOOK_BUNDLE, text: LOADER },
    { path: HOOK_MAIN_BUNDLE, text: `// pcpflow-hook-main ${id} ${GENERATED}\n${code}` },
    { path: HOOK_YAML_BUNDLE, text: `// ${GENERATED}\n${yaml}` },
  ];
}

/** Answers what a hook run sends (PING, EVAL of the publish script) as Redis would. */
async function fakeRedis(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (let r = parseReply(buf, 0); r; r = parseReply(buf, 0)) {
        buf = buf.subarray(r.end);
        const cmd = Array.isArray(r.value) ? String(r.value[0]).toUpperCase() : '';
        s.write(cmd === 'PING' ? '+PONG\r\n' : cmd === 'EVAL' ? '$3\r\n1-0\r\n' : '+OK\r\n');
      }
    });
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('fake Redis has no port');
  return {
    url: `redis://127.0.0.1:${addr.port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function runNode(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  // A bare node: the cache is bound to V8's flags, so none of the build's own (tsx) may leak in.
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/**
 * The code cache of `mainPath` as hook runs made it: an EFM attach against a fake Redis with a
 * YAML config, first with the config not yet cached, then cached (CACHE_MAKER). Returns the whole
 * file: header line and V8's data.
 */
export async function makeCodeCache(mainPath: string): Promise<Buffer> {
  const id = bundleIdOf(readFileSync(mainPath, 'utf8'));
  if (!id) throw new Error(`${mainPath} has no bundle id on its first line`);
  const dir = mkdtempSync(join(tmpdir(), 'pcpflow-hook-cache-build-'));
  const redis = await fakeRedis();
  try {
    const config = join(dir, 'pcpflow.yaml');
    writeFileSync(
      config,
      [
        'redis:',
        `  url: ${redis.url}`,
        'outbox:',
        `  dir: ${join(dir, 'outbox')}`,
        'clusters:',
        '  - name: c1',
        '    pcp: { endpoints: [{ host: 127.0.0.1 }], user: pcpadmin }',
        '    backends: [{ address: 10.0.0.1 }, { address: 10.0.0.2 }]',
        '',
      ].join('\n'),
    );
    const out = join(dir, 'v8cache');
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, TMPDIR: dir };
    const r = await runNode(['-e', CACHE_MAKER, mainPath, out, '--config', config, 'efm', 'attach', '10.0.0.1', 's'], env);
    if (r.code !== 0) throw new Error(`making the hook's code cache: the hook exited ${r.code}: ${r.stderr}`);
    return Buffer.concat([Buffer.from(`${codeCacheHeader(id)}\n`, 'latin1'), readFileSync(out)]);
  } finally {
    redis.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the hook's files; the code cache only when it is not already the one for this bundle and this Node. */
export async function writeHookFiles(log: (line: string) => void): Promise<void> {
  for (const f of await bundleHook()) {
    writeFileSync(f.path, f.text);
    if (f.path === HOOK_BUNDLE) chmodSync(f.path, 0o755);
    log(`wrote ${f.path.slice(root.length + 1)} (${(f.text.length / 1024).toFixed(1)} kB)`);
  }
  const id = bundleIdOf(readFileSync(HOOK_MAIN_BUNDLE, 'utf8')) ?? '';
  let current = '';
  try {
    const old = readFileSync(HOOK_CODE_CACHE);
    current = old.toString('latin1', 0, Math.max(0, old.indexOf(10)));
  } catch {
    // none yet
  }
  if (current === codeCacheHeader(id)) return;
  const cache = await makeCodeCache(HOOK_MAIN_BUNDLE);
  writeFileSync(HOOK_CODE_CACHE, cache);
  log(`wrote ${HOOK_CODE_CACHE.slice(root.length + 1)} (${(cache.length / 1024).toFixed(1)} kB, ${process.version})`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await writeHookFiles((line) => process.stdout.write(`${line}\n`));
}
