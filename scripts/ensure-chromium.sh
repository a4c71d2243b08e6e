#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (test/ui). Idempotent:
# does nothing when it is already there. Never downloads a browser of its own: it uses the
# distribution's package, through apt, as the machine is set up to reach it.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: $CHROMIUM is missing and installing it needs root." >&2
  echo "ensure-chromium: run as root, or: sudo apt-get install chromium" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and there is no apt-get here to install it; install Chromium so that $CHROMIUM exists." >&2
  exit 1
fi

echo "ensure-chromium: installing Debian's chromium package (first run only)…" >&2
started=$(date +%s)
if ! apt-get update -qq; then
  echo "ensure-chromium: 'apt-get update' failed; cannot install chromium (is the Debian mirror reachable?)." >&2
  exit 1
fi
log=$(mktemp -t ensure-chromium.XXXXXX)
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >"$log" 2>&1; then
  tail -n 20 "$log" >&2 || true
  echo "ensure-chromium: 'apt-get install chromium' failed (full output in $log)." >&2
  exit 1
fi
rm -f "$log"
if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: the chromium package installed, but $CHROMIUM is not there." >&2
  exit 1
fi
echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed in $(( $(date +%s) - started )) s." >&2
