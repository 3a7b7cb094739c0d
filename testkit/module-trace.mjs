// `node --import ./testkit/module-trace.mjs …`: appends every module URL the process loads
// (ESM and CommonJS) to the file named by $PCPFLOW_MODULE_TRACE, one per line. Used by the test
// that proves `pcpflow --help` loads no Redis, BullMQ or XState code.
import { appendFileSync } from 'node:fs';
import Module from 'node:module';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const out = process.env.PCPFLOW_MODULE_TRACE;
if (out) {
  Module.register(
    `data:text/javascript,${encodeURIComponent(`
      import { appendFileSync } from 'node:fs';
      export async function load(url, context, next) {
        appendFileSync(${JSON.stringify(out)}, url + '\\n');
        return next(url, context);
      }`)}`,
  );
  const original = Module._load;
  Module._load = function (request, parent, isMain) {
    try {
      const file = Module._resolveFilename(request, parent, isMain);
      if (!file.startsWith('node:') && !Module.builtinModules.includes(file)) appendFileSync(out, `${pathToFileURL(file).href}\n`);
    } catch {
      // unresolvable requests fail in the real _load below
    }
    return original.apply(this, arguments);
  };
}
