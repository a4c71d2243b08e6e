#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (test/ui). Idempotent:
# does nothing when it is already there. Never downloads a browser of its own: it uses the
# distribution's package, through apt, as the machine is set up to reach it.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

echo "ensure-chromium: installing Debian's chromium package (first run only)…" >&2
started=$(date +%s)
"$(dirname "$0")/apt-install.sh" ensure-chromium chromium
if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: the chromium package installed, but $CHROMIUM is not there." >&2
  exit 1
fi
echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed in $(( $(date +%s) - started )) s." >&2
