#!/usr/bin/env bash
# README quick start: install what is missing, then run everything on one machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prerequisites.sh
exec node --import tsx services/main.ts "$@"
