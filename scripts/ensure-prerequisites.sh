#!/usr/bin/env bash
# Installs what a bare machine of ours lacks: npm packages, redis-server, Java
# and Maven (for the Kafka broker jars), the broker jars themselves, and
# docker-compose (it validates docker-compose.yml without a Docker engine).
# Every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# The API tests render Swagger UI in headless Chromium and run the contract's Python sample.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
python3 -c 'import requests' >/dev/null 2>&1 || need_apt+=(python3-requests)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "installing ${need_apt[*]} (apt)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Install when the lockfile changed since the last install (or nothing is installed).
# `npm install`, not `npm ci`: chdb 3.4.0 declares its other-platform binaries
# as optional dependencies without a version, which npm cannot lock, so `npm ci`
# refuses the lockfile; `npm install` still installs exactly the locked tree.
stamp=node_modules/.package-lock.sha
want=$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing npm packages"
  npm install --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# The Kafka broker jars (cached under ~/.cache/notai; a second run fetches nothing).
npx tsx provision/fetch-kafka.ts
