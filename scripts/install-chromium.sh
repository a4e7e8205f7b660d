#!/usr/bin/env bash
# Installs Debian's chromium for the browser runtimes (Playwright drives it; no browser download).
# Idempotent; needs root and apt (as on CI machines). Elsewhere it says what to run and exits 0,
# and the browser runtimes report themselves unavailable.
set -u
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the browser runtimes..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit $?
fi
echo "note: chromium is not installed; run 'sudo apt-get install -y chromium' for the browser runtimes" >&2
exit 0
