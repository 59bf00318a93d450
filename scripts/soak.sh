#!/usr/bin/env bash
# Soak: the API at a fraction of its measured capacity for N minutes with ingest running.
#   bash scripts/soak.sh --minutes 10 --fraction 0.5 --ingest 500
#   bash scripts/soak.sh --quick      (30 s; run by scripts/test.sh)
set -euo pipefail
exec bash "$(dirname "$0")/bench-entry.sh" bench/soak.ts "$@"
