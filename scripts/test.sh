#!/usr/bin/env bash
# The whole test suite: types, import direction, the compose file, unit and integration tests
# (real Kafka broker, redis-server and embedded ClickHouse started by the test
# support), then the quick benchmark so the harness never rots.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-prerequisites.sh

step() { printf '\n== %s\n' "$1"; }
started=$SECONDS

step "typecheck"
npm run --silent typecheck

step "import direction (dependency-cruiser)"
npm run --silent lint

step "docker-compose.yml (docker-compose config)"
docker-compose config -q

step "unit and integration tests"
results=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$results"

step "benchmarks (--quick)"
bash scripts/bench.sh --quick

step "before/after in turns (bench:ab, one pair of quick ingest runs against HEAD)"
bash scripts/bench-ab.sh --against HEAD --pairs 1 --out "$(mktemp -d)" -- --quick --only ingest

step "batch cost (2 small batches)"
bash scripts/bench-batch.sh --batches 2 --size 300

step "soak (--quick)"
bash scripts/soak.sh --quick

printf '\n== all checks passed in %ss\n' "$((SECONDS - started))"
# The plain closing line CI reads: the test counts of the vitest run above.
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' "$results"
