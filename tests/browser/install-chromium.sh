#!/usr/bin/env bash
# `make browser` (part of `make test`): Debian's chromium for tests/browser/.
# Installs it only as root with apt-get on the machine, and says so; elsewhere it says how.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests: apt-get update && apt-get install -y chromium"
  start=$(date +%s)
  if DEBIAN_FRONTEND=noninteractive apt-get update -qq \
     && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    echo "Installed chromium in $(( $(date +%s) - start )) s"
  else
    echo "Could not install chromium (apt-get's error above): the browser tests will be skipped"
  fi
else
  echo "No chromium: the browser tests (tests/browser/) will be skipped. To run them: sudo apt-get install chromium"
fi
