#!/bin/sh
# Makes sure the OpenSSH server binary (/usr/sbin/sshd) is present, for the file-collector tests,
# which run their own sshd on a loopback port with a private config (test/support/sshd.ts).
#
# Idempotent: does nothing when sshd is already installed. Otherwise installs Debian's
# openssh-server package (without recommended extras), quietly. It does not start the system's
# ssh service: a policy-rc.d that answers 101 ("action forbidden") is in place during the install,
# our own only if the machine has none. It writes nothing under /etc/ssh itself (the package
# creates its default config and host keys there, as any install does). Note: on a machine booted
# with systemd the package enables ssh.service for later boots, like any openssh-server install.
set -eu

SSHD=/usr/sbin/sshd

if [ -x "$SSHD" ]; then
  exit 0
fi

fail() {
  echo "ensure-sshd: $*" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "$SSHD is missing and apt-get is not available; install an OpenSSH server by hand"
[ "$(id -u)" -eq 0 ] || fail "$SSHD is missing and installing openssh-server needs root"

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
  printf '#!/bin/sh\n# temporary, from ensure-sshd.sh: start no services while installing\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  OWN_POLICY=1
fi

# Wait for a concurrent apt/dpkg run instead of failing on its lock.
APT_OPTS="-q -o DPkg::Lock::Timeout=120"

if ! apt-get $APT_OPTS update >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get update failed; cannot install openssh-server"
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS install -y --no-install-recommends openssh-server >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get install openssh-server failed"
fi
[ -x "$SSHD" ] || fail "openssh-server was installed but $SSHD is still missing"
echo "ensure-sshd: installed openssh-server ($("$SSHD" -V 2>&1 | head -n 1))"
