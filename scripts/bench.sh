#!/usr/bin/env bash
# Benchmarks against real services (Kafka broker, redis-server, embedded
# ClickHouse), all provisioned by the harness on free ports and temp dirs.
#   bash scripts/bench.sh            full size (what the issue names; ~10-15 min on 2 cores)
#   bash scripts/bench.sh --quick    tiny size, run by scripts/test.sh so the harness never rots
#   bash scripts/bench.sh --help     every flag (phase selection, sizes, --profile)
# Results: bench-results/<timestamp>.json and bench-results/latest.json; the table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-prerequisites.sh

# The bench code is outside the root tsconfig's include; check its types here so it cannot rot silently.
npx tsc -p bench/tsconfig.json

# Node options of the caller (e.g. a debugger) must not leak into the measured child processes.
unset NODE_OPTIONS
# The measured children run from their bundles in dist/, as the image runs the services.
node scripts/build.mjs
exec node --import tsx bench/main.ts "$@"
