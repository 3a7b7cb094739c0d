#!/usr/bin/env node
// GENERATED from hooks/*.ts by scripts/build-hook.ts: do not edit. Rebuild: npx tsx scripts/build-hook.ts
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
  const id = src.slice(0, src.indexOf("\n")).split(" ")[2];
  if (nl > 0 && c.toString("latin1", 0, nl) === "pcpflow-v8cache " + id + " " + process.version + " " + process.arch) cachedData = c.subarray(nl + 1);
} catch {}
new Script("(function (exports, require, module, __filename, __dirname) {" + src + "\n})", { filename: file, cachedData })
  .runInThisContext()(exports, require, module, file, __dirname);
