#!/usr/bin/env bash
# Sets up a fresh machine for Retrain: pnpm, nats-server, the workspace's dependencies, a build.
# Safe to run again; each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
  echo "bootstrap: installing pnpm $PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1
fi

if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  echo "bootstrap: installing nats-server"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
fi

# Debian's docker-compose (v1) validates docker-compose.yml offline in CI (no Docker engine needed).
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "bootstrap: installing docker-compose"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-compose >/dev/null
fi

# The browser tests (test/e2e/ui.test.ts) drive Debian's headless Chromium through playwright-core.
if [ ! -x /usr/bin/chromium ]; then
  echo "bootstrap: installing chromium"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

pnpm install --frozen-lockfile --reporter=silent
pnpm run -s build
echo "bootstrap: ready (node $(node --version), pnpm $(pnpm --version), $(/usr/sbin/nats-server --version 2>/dev/null || nats-server --version))"
