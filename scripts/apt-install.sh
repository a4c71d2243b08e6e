#!/bin/sh
# Installs Debian packages for the tests' own servers and tools, the one way every ensure-*
# script and test harness does it: as root, quietly, without recommended extras, waiting for a
# concurrent apt/dpkg run instead of failing on its lock, and with a policy-rc.d that answers 101
# ("action forbidden") in place during the install (our own only if the machine has none), so
# no package starts a system service.
#
# Usage: apt-install.sh NAME PACKAGE...   (NAME prefixes the messages, e.g. "ensure-sshd")
set -eu

NAME=$1
shift

fail() {
  echo "$NAME: $*" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available; install $* by hand"
[ "$(id -u)" -eq 0 ] || fail "installing $* needs root"

LOG=$(mktemp)
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
cleanup() {
  rm -f "$LOG"
  if [ "$OWN_POLICY" -eq 1 ]; then rm -f "$POLICY"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, from %s: start no services while installing\nexit 101\n' "$NAME" >"$POLICY"
  chmod 0755 "$POLICY"
  OWN_POLICY=1
fi

APT_OPTS="-q -o DPkg::Lock::Timeout=120"

# shellcheck disable=SC2086 # the options are meant to split
if ! apt-get $APT_OPTS update >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get update failed (is the Debian mirror reachable?); cannot install $*"
fi
# shellcheck disable=SC2086
if ! DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS install -y --no-install-recommends "$@" >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get install $* failed"
fi
