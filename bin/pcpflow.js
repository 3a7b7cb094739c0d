#!/usr/bin/env node
// The operator CLI: the JavaScript `npm run build` emitted into build/, run by plain node.
let cli;
try {
  cli = await import('../build/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('build/main.js')) throw err;
  process.stderr.write('pcpflow: build/main.js is missing: run `npm run build` in the pcpflow directory\n');
  process.exit(1);
}
await cli.main();
