#!/bin/sh
# Makes sure libvirt (its daemon with the QEMU driver, virsh) and QEMU (qemu-img, the x86 system
# emulator) are installed, for the KVM collector's tests (test/support/libvirt.ts), which run a
# per-user libvirt ("qemu:///session", started by virsh itself) for their SSH login user and
# libvirt's in-process "test:///" driver. Neither needs the system's libvirtd.
#
# Idempotent: does nothing when everything is there. Otherwise installs Debian's packages without
# recommended extras, quietly, with a policy-rc.d that answers 101 ("action forbidden") in place
# during the install (our own only if the machine has none), so no system service is started.
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

command -v apt-get >/dev/null 2>&1 || fail "libvirt or QEMU is missing and apt-get is not available; install $PACKAGES by hand"
[ "$(id -u)" -eq 0 ] || fail "libvirt or QEMU is missing and installing them needs root"

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
  printf '#!/bin/sh\n# temporary, from ensure-libvirt.sh: start no services while installing\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  OWN_POLICY=1
fi

# Wait for a concurrent apt/dpkg run instead of failing on its lock.
APT_OPTS="-q -o DPkg::Lock::Timeout=120"

if ! apt-get $APT_OPTS update >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get update failed; cannot install $PACKAGES"
fi
# shellcheck disable=SC2086 # the package list is meant to split
if ! DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS install -y --no-install-recommends $PACKAGES >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get install $PACKAGES failed"
fi
have_all || fail "$PACKAGES were installed but virsh, qemu-img, libvirtd or the QEMU driver is still missing"
echo "ensure-libvirt: installed $(virsh --version 2>/dev/null | sed 's/^/libvirt /') and $(qemu-img --version | head -n 1)"
