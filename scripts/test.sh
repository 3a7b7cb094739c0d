#!/usr/bin/env bash
# The project's test command (README Quick start, .ci/run): type check, then every test file
# through node's test runner. Files are listed explicitly: on Node 20 `node --test` with a glob
# finds nothing, and a run that finds no test must fail rather than pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --check-only >/dev/null 2>&1 || bash scripts/setup.sh
echo "== build (npm run build)"
npx tsx scripts/build.ts
echo "== type check (tsc $(npx tsc --version | awk '{print $2}'))"
npx tsc -p tsconfig.json --noEmit
echo "== lint (eslint)"
npx eslint .
mapfile -t files < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
echo "== ${#files[@]} test files"
exec node --import tsx --test --test-reporter=spec --test-concurrency=1 "${files[@]}"
