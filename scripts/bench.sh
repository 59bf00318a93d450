#!/usr/bin/env bash
# Benchmarks against real services (Kafka broker, redis-server, embedded
# ClickHouse), all provisioned by the harness on free ports and temp dirs.
#   bash scripts/bench.sh            full size (what the issue names; 35-60 min on 2 cores, most of it the 10M-event rebuild)
#   bash scripts/bench.sh --quick    tiny size, run by scripts/test.sh so the harness never rots
#   bash scripts/bench.sh --help     every flag (phase selection, sizes, --profile)
# Results: bench-results/<timestamp>.json and bench-results/latest.json; the table on stdout.
set -euo pipefail
exec bash "$(dirname "$0")/bench-entry.sh" bench/main.ts "$@"
