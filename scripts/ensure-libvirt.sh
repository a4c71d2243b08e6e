#!/bin/sh
# Makes sure libvirt (its daemon with the QEMU driver, virsh) and QEMU (qemu-img, the x86 system
# emulator) are installed, for the KVM collector's tests (test/support/libvirt.ts), which run a
# per-user libvirt ("qemu:///session", started by virsh itself) for their SSH login user and
# libvirt's in-process "test:///" driver. Neither needs the system's libvirtd.
#
# Idempotent: does nothing when everything is there. Otherwise installs Debian's packages through
# apt-install.sh, which starts no system service.
set -eu

PACKAGES="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-utils qemu-system-x86"

fail() {
  echo "ensure-libvirt: $*" >&2
  exit 1
}

have_all() {
  command -v virsh >/dev/null 2>&1 &&
    command -v qemu-img >/dev/null 2>&1 &&
    command -v qemu-system-x86_64 >/dev/null 2>&1 &&
    [ -x /usr/sbin/libvirtd ] &&
    ls /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so >/dev/null 2>&1
}

if have_all; then
  exit 0
fi

# shellcheck disable=SC2086 # the package list is meant to split
"$(dirname "$0")/apt-install.sh" ensure-libvirt $PACKAGES
have_all || fail "$PACKAGES were installed but virsh, qemu-img, libvirtd or the QEMU driver is still missing"
echo "ensure-libvirt: installed $(virsh --version 2>/dev/null | sed 's/^/libvirt /') and $(qemu-img --version | head -n 1)"
