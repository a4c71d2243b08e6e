#!/bin/sh
# Makes sure the OpenSSH server binary (/usr/sbin/sshd) is present, for the file-collector tests,
# which run their own sshd on a loopback port with a private config (test/support/sshd.ts).
#
# Idempotent: does nothing when sshd is already installed. Otherwise installs Debian's
# openssh-server package through apt-install.sh, which starts no service. It writes nothing under
# /etc/ssh itself (the package creates its default config and host keys there, as any install
# does). Note: on a machine booted with systemd the package enables ssh.service for later boots,
# like any openssh-server install.
set -eu

SSHD=/usr/sbin/sshd

if [ -x "$SSHD" ]; then
  exit 0
fi

"$(dirname "$0")/apt-install.sh" ensure-sshd openssh-server
[ -x "$SSHD" ] || { echo "ensure-sshd: openssh-server was installed but $SSHD is still missing" >&2; exit 1; }
echo "ensure-sshd: installed openssh-server ($("$SSHD" -V 2>&1 | head -n 1))"
