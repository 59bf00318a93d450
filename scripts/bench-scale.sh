#!/usr/bin/env bash
# Projector scale-out benchmark: events/s of 1, 2 and 3 projector worker
# processes in one consumer group over the same pre-published dataset
# (6 partitions), each run with a fresh group, Redis prefix and ClickHouse tables.
#   bash scripts/bench-scale.sh                 100k events (~3-5 min on 2 cores)
#   bash scripts/bench-scale.sh --quick         20k events
#   bash scripts/bench-scale.sh --events 50000 --workers 1,2,3,6
# Results: bench-results/scale-<timestamp>.json; the table on stdout.
set -euo pipefail
exec bash "$(dirname "$0")/bench-entry.sh" bench/scale.ts "$@"
