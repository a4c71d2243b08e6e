#!/bin/sh
# Makes sure the OpenSSH server binary (/usr/sbin/sshd) is present, for the file-collector tests,
# which run their own sshd on a loopback port with a private config. Idempotent: does nothing when
# sshd is already installed. Installs the Debian package only; it neither starts the system sshd
# service nor changes anything under /etc/ssh.
set -eu

SSHD=/usr/sbin/sshd

if [ -x "$SSHD" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-sshd: $SSHD is missing and apt-get is not available; install the OpenSSH server by hand" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-sshd: $SSHD is missing and installing openssh-server needs root" >&2
  exit 1
fi

# policy-rc.d exit code 101 tells invoke-rc.d not to start (or restart) services, so the package's
# postinst installs the ssh service without running it. Only add our own file, and remove only it.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  OWN_POLICY=1
fi
cleanup() {
  if [ "$OWN_POLICY" -eq 1 ]; then rm -f "$POLICY"; fi
}
trap cleanup EXIT

if ! apt-get update -qq >/dev/null; then
  echo "ensure-sshd: apt-get update failed; cannot install openssh-server" >&2
  exit 1
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null; then
  echo "ensure-sshd: apt-get install openssh-server failed" >&2
  exit 1
fi
if [ ! -x "$SSHD" ]; then
  echo "ensure-sshd: openssh-server was installed but $SSHD is still missing" >&2
  exit 1
fi
