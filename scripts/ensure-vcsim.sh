#!/bin/sh
# Makes sure govmomi's vSphere simulator (vcsim) is built, for the VMware collector's tests
# (test/support/vcsim.ts). It is built from Debian's packaged sources only: Debian's Go toolchain
# (golang-go) and govmomi's Go sources (golang-github-vmware-govmomi-dev, with its dependencies as
# Debian -dev packages), in GOPATH mode, so nothing is downloaded from a Go module proxy.
# Debian packages govmomi's simulator library but not its vcsim command, so the command built
# here is our small stand-in, scripts/vcsim/main.go.
#
# The binary goes to a cache outside the repo ($VCSIM_CACHE, default /var/cache/census-test/vcsim)
# and is rebuilt only when it is missing; its name carries a hash of main.go, so an edited
# main.go gets a build of its own. Prints the binary's path on its last line.
#
# Idempotent: does nothing but print the path when the binary is there.
set -eu

CACHE=${VCSIM_CACHE:-/var/cache/census-test/vcsim}
PACKAGES="golang-go golang-github-vmware-govmomi-dev"
GOPATH_DEBIAN=/usr/share/gocode
SIMULATOR=$GOPATH_DEBIAN/src/github.com/vmware/govmomi/simulator
MAIN=$(cd "$(dirname "$0")" && pwd)/vcsim/main.go
BIN=$CACHE/vcsim-$(sha256sum "$MAIN" | cut -c1-16)

fail() {
  echo "ensure-vcsim: $*" >&2
  exit 1
}

if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1 || [ ! -d "$SIMULATOR" ]; then
  # shellcheck disable=SC2086 # the package list is meant to split
  "$(dirname "$0")/apt-install.sh" ensure-vcsim $PACKAGES >&2
fi
command -v go >/dev/null 2>&1 || fail "$PACKAGES were installed but the go command is still missing"
[ -d "$SIMULATOR" ] ||
  fail "$PACKAGES were installed but govmomi's simulator sources are not at $SIMULATOR"

mkdir -p "$CACHE"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# GOPATH mode over Debian's read-only source tree; the build cache and the output are ours.
# GOPROXY=off and GOFLAGS=-mod= make sure nothing is fetched even if a module file shows up.
if ! GO111MODULE=off GOPATH=$GOPATH_DEBIAN GOPROXY=off GOFLAGS= GOCACHE=$WORK/cache \
  go build -o "$WORK/vcsim" "$MAIN" >"$WORK/log" 2>&1; then
  tail -n 40 "$WORK/log" >&2
  fail "building vcsim from Debian's govmomi sources failed"
fi
mv "$WORK/vcsim" "$BIN"
echo "ensure-vcsim: built $BIN with $(go version)" >&2
echo "$BIN"
