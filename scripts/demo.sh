#!/usr/bin/env bash
# `npm run demo`: make sure the machine has what the lab needs, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --check-only >/dev/null 2>&1 || bash scripts/setup.sh
# bin/pcpflow.js runs build/: build it from the sources of this clone first (a few seconds).
npx tsx scripts/build.ts >/dev/null
exec node bin/pcpflow.js demo "$@"
