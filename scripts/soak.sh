#!/usr/bin/env bash
# Soak: the API at a fraction of its measured capacity for N minutes with ingest running.
#   bash scripts/soak.sh --minutes 10 --fraction 0.5 --ingest 500
#   bash scripts/soak.sh --quick      (30 s; run by scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prerequisites.sh
npx tsc -p bench/tsconfig.json
unset NODE_OPTIONS
# The soak's API and projector run from their bundles in dist/, as the image runs them.
node scripts/build.mjs
exec node --import tsx bench/soak.ts "$@"
