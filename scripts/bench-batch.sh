#!/usr/bin/env bash
# Where a projector batch's time goes, without Kafka: the CPU-only steps per
# event (decode, fold, timeline rows) against JSON.parse of the same bytes, then
# the batch projector in one process on a redis-server and the embedded engine,
# first on the embedded driver, then on the HTTP driver against the test
# endpoint (same engine), over the same deterministic batches. Prints events/s,
# CPU per event and the mean of each statement kind for both, and their ratio.
#   bash scripts/bench-batch.sh                       30 batches of 4,000 events (~1 min)
#   bash scripts/bench-batch.sh --batches 10 --size 2000
#   bash scripts/bench-batch.sh --big-sessions 1000000 --big-events 10000000 --drivers http
#                                                     new sessions against the bench's big integration (~4 min)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-prerequisites.sh
npx tsc -p bench/tsconfig.json
exec node --import tsx bench/batch-cost.ts "$@"
