#!/usr/bin/env bash
# Before and after a change, measured in turns on this machine: the benchmark
# of another revision (a git worktree of it) and of this working tree, run
# alternately, the order swapped every pair so that a machine growing slower
# or faster during the runs weighs on both sides alike; then bench:compare.
#   bash scripts/bench-ab.sh --against HEAD~1 -- --only ingest
#   bash scripts/bench-ab.sh --against main --pairs 5 --out /tmp/ab -- --only point,lists
# Four pairs by default: the fewest for which bench:compare can call a change
# (see bench/comparison.ts). Arguments after -- go to every benchmark run.
# Both sides share this tree's node_modules, so the two revisions must have
# the same package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
against="" pairs=4 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --against) against="${2:?--against wants a revision}"; shift 2 ;;
    --pairs) pairs="${2:?--pairs wants a number}"; shift 2 ;;
    --out) out="${2:?--out wants a directory}"; shift 2 ;;
    --help) usage; exit 0 ;;
    --) shift; break ;;
    *) echo "bench-ab: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
for arg in "$@"; do
  [ "$arg" != --out ] || { echo "bench-ab: give --out before --, not to the runs: it names the directory that holds both sides" >&2; exit 2; }
done
[ -n "$against" ] || { echo "bench-ab: --against REVISION is required" >&2; usage >&2; exit 2; }
[[ "$pairs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-ab: --pairs wants a positive number, got $pairs" >&2; exit 2; }
rev=$(git rev-parse --verify --quiet "$against^{commit}") || { echo "bench-ab: $against is not a revision here" >&2; exit 2; }
if ! git diff --quiet "$rev" -- package-lock.json; then
  echo "bench-ab: package-lock.json differs between $against and this tree; both sides share node_modules, so they must not" >&2
  exit 2
fi
out=${out:-bench-results/ab-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out/before" "$out/after"
out=$(cd "$out" && pwd)

bash scripts/ensure-prerequisites.sh
worktree=$(mktemp -d -t notai-bench-ab-XXXXXX)
cleanup() { git -C "$root" worktree remove --force "$worktree" >/dev/null 2>&1 || rm -rf "$worktree"; }
trap cleanup EXIT
git worktree add --detach --quiet "$worktree" "$rev"
ln -s "$root/node_modules" "$worktree/node_modules"

# What scripts/bench-entry.sh does after provisioning, for one tree: the
# prerequisites are this tree's, installed above, and the lockfiles agree.
run_side() {
  local side="$1" dir="$2"; shift 2
  echo "[bench-ab] pair $pair/$pairs: $side ($([ "$side" = before ] && echo "$against, ${rev:0:7}" || echo "this tree"))"
  (
    cd "$dir"
    npx tsc -p bench/tsconfig.json
    unset NODE_OPTIONS
    node scripts/build.mjs
    node --import tsx bench/main.ts --out "$out/$side" "$@"
  )
}

for pair in $(seq 1 "$pairs"); do
  if [ $((pair % 2)) -eq 1 ]; then
    run_side before "$worktree" "$@"
    run_side after "$root" "$@"
  else
    run_side after "$root" "$@"
    run_side before "$worktree" "$@"
  fi
done

echo
node --import tsx bench/compare.ts "$out/before" "$out/after"
echo "results: $out"
