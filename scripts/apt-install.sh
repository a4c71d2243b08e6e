#!/bin/sh
# Installs Debian packages for the tests' own servers and tools, the one way every ensure-*
# script and test harness does it: as root, quietly, without recommended extras, waiting for a
# concurrent apt/dpkg run instead of failing on its lock (and for another apt-install.sh, which
# test files running in parallel start together), and with a policy-rc.d that answers 101
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

# One apt-install.sh at a time: apt-get update does not wait for another's lock on the lists.
exec 9>/run/census-apt-install.lock
flock 9

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
# Tried three times: a mirror that fails a moment is not a failed test run.
tries=0
until apt-get $APT_OPTS update >"$LOG" 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 3 ]; then
    tail -n 20 "$LOG" >&2
    fail "apt-get update failed three times (is the Debian mirror reachable?); cannot install $*"
  fi
  sleep 5
done
# shellcheck disable=SC2086
if ! DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS install -y --no-install-recommends "$@" >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get install $* failed"
fi
