#!/usr/bin/env bash
# The project's test command (make test). It makes sure the real Debian tools the interop
# tests compare against are present: installed with apt when we are root on a Debian machine,
# otherwise the interop tests skip, and this prints one line naming the packages to install.
# Arguments go to go test; those starting with ./ name the packages to test instead of ./...
set -euo pipefail
cd "$(dirname "$0")/.."

# program -> Debian package that ships it
declare -A need=(
  [linux.uml]=user-mode-linux
  [uml_moo]=uml-utilities
  [uml_mkcow]=uml-utilities
  [uml_switch]=uml-utilities
  [uml_mconsole]=uml-utilities
  [uml_net]=uml-utilities
  [tunctl]=uml-utilities
  [uml_watchdog]=uml-utilities
  [mkfs.ext4]=e2fsprogs
  [busybox]=busybox-static
  [sfdisk]=fdisk
  [sgdisk]=gdisk
  [gcc]=gcc
  # run by the real uml_net (lib/tap compares ours with it); a fresh minbase has neither
  [ifconfig]=net-tools
  [route]=net-tools
  [arp]=net-tools
  [modprobe]=kmod
  [ip]=iproute2 # lib/vswitch's tap uplink test
  # cross-checks of our output with third-party tools (lib/rootfs, lib/vswitch)
  [bzip2]=bzip2
  [tcpdump]=tcpdump
  # read and write mkrootfs's streams (lib/rootfs)
  [cpio]=cpio
  [xz]=xz-utils
  # the vde and slirp network transports meet the real programs (lib/kernel)
  [vde_switch]=vde2
  [slirp]=slirp
)
missing_pkgs() {
  local p pkgs=()
  for p in "${!need[@]}"; do
    PATH=$PATH:/usr/sbin:/sbin command -v "$p" >/dev/null 2>&1 || pkgs+=("${need[$p]}")
  done
  printf '%s\n' "${pkgs[@]}" | sort -u | grep -v '^$' || true
}

pkgs=$(missing_pkgs)
if [ -n "$pkgs" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing interop test packages: $(echo $pkgs)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  apt-get install -y -qq $pkgs >/dev/null
  pkgs=$(missing_pkgs)
fi
if [ -n "$pkgs" ]; then
  echo "interop tests will skip: apt-get install $(echo $pkgs)"
else
  # Every real tool is here: an interop test that cannot find one is a failure, not a skip.
  echo "interop tests: the real UML tools are installed; a missing one fails the tests"
  export GOUML_INTEROP=require
fi

echo "gofmt/vet"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go') 2>/dev/null || true)
if [ -n "$bad" ]; then echo "gofmt needed on: $bad" >&2; exit 1; fi
go vet ./...
# staticcheck (pinned, as in make check); the real tools' messages we copy word for word
# carry //lint:ignore. Without the module proxy it cannot be fetched: said, not failed.
sc=$(mktemp -d)
if GOBIN=$sc GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.8.2 2>/dev/null; then
  echo "staticcheck"
  rc=0
  "$sc/staticcheck" ./... || rc=$?
  rm -rf "$sc"
  [ "$rc" = 0 ] || exit "$rc"
else
  echo "staticcheck skipped: honnef.co/go/tools could not be fetched from the module proxy"
fi
rm -rf "$sc"

flags=() targets=()
for a in "$@"; do
  case $a in
  ./*) targets+=("$a") ;;
  *) flags+=("$a") ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(./...)
exec go test -count=1 -timeout 40m "${flags[@]}" "${targets[@]}"
