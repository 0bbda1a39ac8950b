#!/usr/bin/env bash
# Run `make test` and `make run` the way a new user would: on a fresh Debian bookworm that has
# only debootstrap's minbase plus Go, gcc, make, git and ca-certificates, with a clean clone of
# this checkout. A machine we have worked on for a while has tools and files that make test
# may silently rely on; this finds them. See --help.
#
# How: debootstrap builds the tree once and it is cached as a tarball; every run unpacks it
# afresh, copies the host's Go into it, clones the project into /root/gouml and enters it as
# the root of a new mount and PID namespace (pivot_root, not chroot: the tests create user
# namespaces, which the kernel refuses inside a chroot). The network is the host's, so that
# make test can install its Debian packages with apt as it does on a real machine.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/fresh-machine.sh [OPTION]... [-- GO-TEST-ARG...]

Runs `make test` and then `make run` (booted on a pseudo-terminal, "poweroff" typed at its
prompt) in a fresh Debian bookworm minbase tree holding only Go, gcc, libc6-dev, make, git and
ca-certificates, as root, in a clean clone of this checkout's HEAD (uncommitted changes are not
part of it). Needs root, debootstrap (installed with apt if missing), unshare and pivot_root.
Exits 0 when both passed.

Options:
  --cache DIR     where the debootstrap tarball is kept (default: $GOUML_FRESH_CACHE, else
                  $XDG_CACHE_HOME/gouml-fresh, else /var/cache/gouml-fresh)
  --refresh       rebuild the cached tarball with debootstrap
  --dir DIR       unpack the tree in DIR, which must not exist (default: a new /var/tmp/gouml-fresh.*)
  --keep          keep the tree afterwards (default: delete it); its path is printed
  --go DIR        the Go installation to copy in as /usr/local/go (default: the host's GOROOT)
  --mirror URL    Debian mirror (default: http://deb.debian.org/debian)
  --dev host      bind the host's /dev instead of a minimal one (null zero full random urandom
                  tty ptmx pts shm fd, net/tun and fuse when the host has them)
  --no-test       skip make test
  --no-run        skip make run
  --timeout DUR   bound the whole run in the tree (timeout(1) syntax; default 150m)
  -h, --help      this text

Arguments after -- go to `go test` through scripts/test.sh (make test's script); arguments
starting with ./ name the packages instead of ./... For example:
  scripts/fresh-machine.sh --keep --no-run -- -run 'TestOurUmlNet' ./lib/tap
EOF
}

die() { echo "fresh-machine: $*" >&2; exit 2; }
log() { echo "fresh-machine: $*" >&2; }

# The packages of the tree besides minbase: what the issue's "fresh machine" has, nothing else.
# Anything else a test needs must come from make test itself.
suite=bookworm
include=ca-certificates,git,make,gcc,libc6-dev

inside() {
  # Stage 3, in the tree, with a clean environment: the run itself. $FRESH_TEST and
  # $FRESH_RUN say what to do.
  umount -l /.oldroot && rmdir /.oldroot
  cd /root/gouml
  local rc=0 t0
  echo "fresh-machine: in the tree: $(. /etc/os-release; echo "$PRETTY_NAME"), $(go version), commit $(git rev-parse --short HEAD)"
  if [ "$FRESH_TEST" = 1 ]; then
    t0=$SECONDS
    echo "fresh-machine: === make test $*"
    if [ $# -gt 0 ]; then ./scripts/test.sh "$@" || rc=1; else make test || rc=1; fi
    echo "fresh-machine: === make test: $([ $rc = 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s"
  fi
  if [ "$FRESH_RUN" = 1 ]; then
    t0=$SECONDS
    echo "fresh-machine: === make run"
    if run_guest; then
      echo "fresh-machine: === make run: booted to a prompt and powered off in $((SECONDS - t0)) s"
    else
      echo "fresh-machine: === make run: FAILED after $((SECONDS - t0)) s"
      rc=1
    fi
  fi
  return $rc
}

run_guest() {
  # The build (u-root: minutes on a fresh machine) first, unbounded but for --timeout: only
  # the boot gets the short limit below.
  make build rootfs || return 1
  # make run wants a terminal: script(1) gives it a pseudo-terminal whose input is a fifo we
  # type into, as a person would at the console. The shell takes a few seconds to show its
  # prompt (it asks the terminal for its colours and gives up waiting for an answer).
  local fifo=/tmp/make-run.in out=/tmp/make-run.out pid rc=0 i
  mkfifo "$fifo"
  TERM=xterm timeout -k 10 300 script -qfec "make run" /dev/null <"$fifo" >"$out" 2>&1 &
  pid=$!
  exec 3>"$fifo"
  # The console as text: without the terminal's escape sequences and carriage returns.
  console() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b\][^\x1b]*\x1b\\//g' -e 's/\r//g' "$out"; }
  for ((i = 0; i < 240; i++)); do
    # The prompt: a line that starts with "> " (the init's log lines start with a date).
    console | grep -q '^> ' && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if console | grep -q '^> '; then
    sleep 1
    printf 'poweroff\r' >&3 # Enter is a carriage return on a terminal in raw mode
  else
    echo "fresh-machine: no shell prompt (make run ended, or 120 s passed)"
    rc=1
  fi
  wait "$pid" || { echo "fresh-machine: make run exited with status $?"; rc=1; }
  exec 3>&-
  echo "fresh-machine: --- console (escape sequences removed) ---"
  console | tail -n 40
  echo "fresh-machine: --- end of console ---"
  return $rc
}

enter() {
  # Stage 2, in the new mount and PID namespaces (still on the host's root): mount what a
  # running Debian machine has, then make the tree the root.
  local tree=$1
  shift
  mount --bind "$tree" "$tree" # pivot_root needs the new root to be a mount point
  mount -t proc -o nosuid,nodev,noexec proc "$tree/proc"
  mount -t sysfs -o nosuid,nodev,noexec sysfs "$tree/sys"
  mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$tree/sys/fs/cgroup" 2>/dev/null || true
  # Not nosuid: bookworm's /tmp is on the root file system, and a test installs a setuid
  # helper under /tmp (it skips on a nosuid /tmp).
  mount -t tmpfs -o mode=1777 tmpfs "$tree/tmp"
  mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$tree/run"
  if [ "$FRESH_DEV" = host ]; then
    mount --rbind /dev "$tree/dev"
  else
    mount -t tmpfs -o mode=755,nosuid tmpfs "$tree/dev"
    (
      cd "$tree/dev"
      mknod -m 666 null c 1 3
      mknod -m 666 zero c 1 5
      mknod -m 666 full c 1 7
      mknod -m 666 random c 1 8
      mknod -m 666 urandom c 1 9
      mknod -m 666 tty c 5 0
      mkdir pts shm
      mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts pts
      ln -s pts/ptmx ptmx
      mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs shm
      ln -s /proc/self/fd fd
      ln -s /proc/self/fd/0 stdin
      ln -s /proc/self/fd/1 stdout
      ln -s /proc/self/fd/2 stderr
      if [ -c /dev/net/tun ]; then mkdir net && mknod -m 666 net/tun c 10 200; fi
      if [ -c /dev/fuse ]; then mknod -m 666 fuse c 10 229; fi
    )
  fi
  mount --bind "$(readlink -f /etc/resolv.conf)" "$tree/etc/resolv.conf"
  cd "$tree"
  mkdir -p .oldroot
  pivot_root . .oldroot
  # Only what a root login on the new machine would have (and Go in PATH, as its installation
  # instructions say), plus proxy settings the host may need to reach the network.
  local env=(HOME=/root USER=root LOGNAME=root SHELL=/bin/bash
    PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    "FRESH_TEST=$FRESH_TEST" "FRESH_RUN=$FRESH_RUN") v
  for v in GOPROXY GOSUMDB GONOSUMDB GOPRIVATE http_proxy https_proxy no_proxy; do
    [ -z "${!v:-}" ] || env+=("$v=${!v}")
  done
  exec chroot . /usr/bin/env -i "${env[@]}" /bin/bash /root/.fresh-machine.sh --stage=inside "$@"
}

main() {
  # Stage 1, on the host.
  if [ -n "${GOUML_FRESH_CACHE:-}" ]; then
    cache=$GOUML_FRESH_CACHE
  elif [ -n "${XDG_CACHE_HOME:-}" ]; then
    cache=$XDG_CACHE_HOME/gouml-fresh
  else
    cache=/var/cache/gouml-fresh
  fi
  refresh=0 keep=0 dir='' goroot='' mirror=http://deb.debian.org/debian timeout=150m
  export FRESH_TEST=1 FRESH_RUN=1 FRESH_DEV=minimal
  while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --cache) cache=${2:?--cache needs a directory}; shift ;;
    --refresh) refresh=1 ;;
    --dir) dir=${2:?--dir needs a directory}; shift ;;
    --keep) keep=1 ;;
    --go) goroot=${2:?--go needs a directory}; shift ;;
    --mirror) mirror=${2:?--mirror needs a URL}; shift ;;
    --dev) [ "${2:-}" = host ] || die "--dev takes only 'host'"; FRESH_DEV=host; shift ;;
    --no-test) FRESH_TEST=0 ;;
    --no-run) FRESH_RUN=0 ;;
    --timeout) timeout=${2:?--timeout needs a duration}; shift ;;
    --) shift; break ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
  done

  [ "$(id -u)" = 0 ] || die "needs root (debootstrap, mounts, pivot_root)"
  src=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
  # This script as it is now, for stages 2 and 3 (see the end of the file).
  self=$(cat "$0")
  if [ -z "$goroot" ]; then goroot=$(go env GOROOT 2>/dev/null) || die "no go in PATH: give --go DIR"; fi
  [ -x "$goroot/bin/go" ] || die "$goroot/bin/go not found"
  for t in unshare pivot_root; do command -v "$t" >/dev/null || die "$t not found (util-linux)"; done

  # The cached tarball's name says what is in it, so a change of the package list makes a new one.
  tarball=$cache/$suite-minbase-$(echo "$include" | tr , +).tar.gz
  if [ "$refresh" = 1 ] || [ ! -s "$tarball" ]; then
    if ! command -v debootstrap >/dev/null; then
      command -v apt-get >/dev/null || die "debootstrap not found"
      log "installing debootstrap"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    mkdir -p "$cache"
    base=$(mktemp -d /var/tmp/gouml-fresh-base.XXXXXX)
    trap 'rm -rf "$base"' EXIT
    log "debootstrap --variant=minbase --include=$include $suite (a few minutes)"
    debootstrap --variant=minbase --include="$include" "$suite" "$base" "$mirror" >"$base.log" 2>&1 ||
      { tail -n 30 "$base.log" >&2; die "debootstrap failed (log: $base.log)"; }
    rm -f "$base.log"
    # What the installer gives every Debian machine and debootstrap does not: the updates and
    # security suites, and /etc/hosts. The host's resolv.conf and hostname, which debootstrap
    # copies, stay out of the cache; resolv.conf is bound in at run time.
    cat >"$base/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' >"$base/etc/hosts"
    echo fresh >"$base/etc/hostname"
    : >"$base/etc/resolv.conf"
    rm -f "$base"/var/cache/apt/archives/*.deb
    chmod 755 "$base"
    tar -C "$base" --numeric-owner --xattrs -czf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$base"
    trap - EXIT
    log "cached $tarball"
  fi

  if [ -n "$dir" ]; then
    [ ! -e "$dir" ] || die "$dir exists"
    mkdir -p "$dir"
    tree=$(readlink -f "$dir")
  else
    tree=$(mktemp -d /var/tmp/gouml-fresh.XXXXXX)
  fi
  cleanup() {
    if [ "$keep" = 1 ]; then log "the tree is kept: $tree"; else rm -rf "$tree"; fi
  }
  trap cleanup EXIT
  t0=$SECONDS
  tar -C "$tree" --numeric-owner --xattrs -xzf "$tarball"
  chmod 755 "$tree" # it becomes /: a 0700 from mktemp (or an old tarball) locks out all but root
  mkdir -p "$tree/usr/local"
  cp -a "$goroot" "$tree/usr/local/go"
  # The host's CA bundle: where the network intercepts TLS (as here, for the Go module proxy),
  # a machine on it is given that CA, and nothing else in the bundle matters to the tests.
  if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$tree/etc/ssl/certs/ca-certificates.crt"
  fi
  printf '%s\n' "$self" >"$tree/root/.fresh-machine.sh"
  git clone -q "$src" "$tree/root/gouml"
  git -C "$tree/root/gouml" checkout -q --detach "$(git -C "$src" rev-parse HEAD)"
  if [ -n "$(git -C "$src" status --porcelain)" ]; then
    log "note: $src has uncommitted changes; the run uses its HEAD only"
  fi
  log "tree $tree ready in $((SECONDS - t0)) s; entering it"

  rc=0
  # --kill-child: if we are stopped, the namespace's first process dies and every process in it
  # with it, so nothing the tests started outlives the run.
  timeout -k 30 "$timeout" unshare --mount --pid --fork --kill-child --propagation private \
    bash "$tree/root/.fresh-machine.sh" --stage=enter "$tree" "$@" || rc=$?
  log "finished in $((SECONDS - t0)) s with status $rc"
  exit $rc
}

# The whole file is read before anything runs (everything is in functions), so editing or
# checking out another version of it during a run cannot change the run; stages 2 and 3 run
# the copy stage 1 put into the tree.
case "${1:-}" in
--stage=enter) shift; enter "$@" ;;
--stage=inside) shift; inside "$@"; exit ;;
*) main "$@"; exit ;;
esac
