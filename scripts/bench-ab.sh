#!/usr/bin/env bash
# Before and after a change, measured in turns on this machine: the benchmark
# of another revision and of this working tree as it is when the script
# starts (both as git worktrees, so editing the tree meanwhile changes
# neither side), run alternately, the order swapped every pair so that a
# machine growing slower or faster during the runs weighs on both sides
# alike; then bench:compare.
#   bash scripts/bench-ab.sh --against HEAD~1 -- --only ingest
#   bash scripts/bench-ab.sh --against main --pairs 5 --out /tmp/ab -- --only point,lists
# Four pairs by default: the fewest for which bench:compare can call a change
# (see bench/comparison.ts). Arguments after -- go to every benchmark run.
# Both sides share this tree's node_modules, so the revision must have the
# same package-lock.json as the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
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
out=${out:-bench-results/ab-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out/before" "$out/after"
out=$(cd "$out" && pwd)

# This tree as a commit: tracked and untracked files alike (what .gitignore
# leaves out stays out), staged through an index of its own so the real one
# is left alone.
index=$(mktemp)
cp "$(git rev-parse --git-path index)" "$index" 2>/dev/null || true
GIT_INDEX_FILE="$index" git add -A
# A fixed identity: a fresh clone may have none, and the commit is only ever a worktree's.
snapshot=$(GIT_AUTHOR_NAME=bench-ab GIT_AUTHOR_EMAIL=bench-ab@localhost GIT_COMMITTER_NAME=bench-ab GIT_COMMITTER_EMAIL=bench-ab@localhost git commit-tree "$(GIT_INDEX_FILE="$index" git write-tree)" -p HEAD -m "bench-ab: the working tree at $(date -u +%FT%TZ)")
rm -f "$index"
if ! git diff --quiet "$rev" "$snapshot" -- package-lock.json; then
  echo "bench-ab: package-lock.json differs between $against and this tree; both sides share node_modules, so they must not" >&2
  exit 2
fi

bash scripts/ensure-prerequisites.sh
worktrees=$(mktemp -d -t notai-bench-ab-XXXXXX)
cleanup() {
  for side in before after; do git -C "$root" worktree remove --force "$worktrees/$side" >/dev/null 2>&1 || true; done
  rm -rf "$worktrees"
}
trap cleanup EXIT
for side in before after; do
  commit=$([ "$side" = before ] && echo "$rev" || echo "$snapshot")
  git worktree add --detach --quiet "$worktrees/$side" "$commit"
  ln -s "$root/node_modules" "$worktrees/$side/node_modules"
done

# What scripts/bench-entry.sh does after provisioning, for one side: the
# prerequisites are this tree's, installed above, and the lockfiles agree.
run_side() {
  local side="$1"; shift
  echo "[bench-ab] pair $pair/$pairs: $side ($([ "$side" = before ] && echo "$against, ${rev:0:7}" || echo "this tree"))"
  (
    cd "$worktrees/$side"
    npx tsc -p bench/tsconfig.json
    unset NODE_OPTIONS
    node scripts/build.mjs
    node --import tsx bench/main.ts --out "$out/$side" "$@"
  )
}

for pair in $(seq 1 "$pairs"); do
  if [ $((pair % 2)) -eq 1 ]; then
    run_side before "$@"
    run_side after "$@"
  else
    run_side after "$@"
    run_side before "$@"
  fi
done

echo
node --import tsx bench/compare.ts "$out/before" "$out/after"
echo "results: $out"
