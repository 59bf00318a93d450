#!/usr/bin/env bash
# What the benchmarks whose children run as services do before their entry:
# provision the prerequisites, type-check the bench code (it is outside the
# root tsconfig, so it would rot silently), keep the caller's Node options
# (a debugger, say) away from the measured children, and bundle what the
# children run into dist/, as the image runs it.
#   bash scripts/bench-entry.sh bench/main.ts [args...]
set -euo pipefail
cd "$(dirname "$0")/.."

entry="$1"
shift
bash scripts/ensure-prerequisites.sh
npx tsc -p bench/tsconfig.json
unset NODE_OPTIONS
node scripts/build.mjs
exec node --import tsx "$entry" "$@"
