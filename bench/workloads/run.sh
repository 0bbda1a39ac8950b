#!/usr/bin/env bash
# Whole workloads in a Debian bookworm root (issue 18): tar extract, rm -rf, a fork+exec shell
# loop, grep -r, find+du, dpkg -i of a local .deb, python3 start-up with imports, a C compile
# and git status/checkout, each run natively in a chroot, under our linux and under the real
# linux.uml (hostfs root), in one run. Prints a table of seconds (best of REPS inside each
# system) with ratios and their geometric mean. Every workload's result (file counts, sums,
# package status, compiler output) is compared with the native run's: a differing result is
# shown as WRONG, and a workload whose tool is not in the root as absent.
#
# The root comes from scripts/fresh-machine.sh's cached debootstrap tarball
# (/var/cache/gouml-fresh/bookworm-minbase-*.tar.gz, or $GOUML_FRESH_CACHE), or is made with
# debootstrap when there is none. Needs root (the native chroot, and a root tree with its
# owners); busybox (static) for the guests' poweroff; dpkg-deb.
# Env: REPS (default 3), TMO (seconds per workload, default 300), WORKLOADS (names, default
# all), ROOT (an unpacked bookworm tree to copy instead of the tarball), NOREAL=1 (skip
# linux.uml), TRAPS=1 (afterwards, boot our linux once more per workload, one repetition,
# with the `debug` option, and print the trapped calls it served, the most frequent first),
# BASE=path (another linux binary, e.g. one built from an older commit: afterwards, boot it and
# this tree's alternately ROUNDS times (default 2) and print their best times side by side,
# an A/B on one machine at one time).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
REPS=${REPS:-3}
TMO=${TMO:-300}
WORKLOADS=${WORKLOADS:-tar_extract rm_rf fork_exec grep_r find_du dpkg_i python3 gcc git_status git_checkout}
# not root: skipped, not failed, so that `make bench` runs the others
[ "$(id -u)" = 0 ] || { echo "bench/workloads: skipped: needs root (a native chroot and a tree with its owners)" >&2; exit 0; }
bb=$(command -v busybox || echo /bin/busybox)
[ -x "$bb" ] || { echo "bench/workloads: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "bench/workloads: dpkg-deb not found" >&2; exit 1; }
real=$(command -v linux.uml || echo /usr/bin/linux.uml)

work=$(mktemp -d "${TMPDIR:-/var/tmp}/gouml-bench-wl.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir "$root"

# --- the root
if [ -n "${ROOT:-}" ]; then
	cp -a "$ROOT/." "$root/"
else
	cache=${GOUML_FRESH_CACHE:-/var/cache/gouml-fresh}
	tarball=$(ls -t "$cache"/bookworm-minbase-*.tar.gz 2>/dev/null | head -n1 || true)
	if [ -n "$tarball" ]; then
		echo "root from $tarball" >&2
		tar -C "$root" --numeric-owner --xattrs -xzf "$tarball"
	else
		command -v debootstrap >/dev/null || { echo "bench/workloads: no cached tarball in $cache and no debootstrap" >&2; exit 1; }
		echo "root by debootstrap (a few minutes)" >&2
		debootstrap --variant=minbase --include=git,make,gcc,libc6-dev bookworm "$root" >"$work/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
	fi
fi
chmod 755 "$root"

# --- the data the workloads use, made untimed
mkdir -p "$root/bench/data"
cp "$here/guest.sh" "$root/bench/guest.sh"
cp "$bb" "$root/bench/busybox"
printf '#!/bin/sh\n/bench/guest.sh\n/bench/busybox poweroff -f\n' >"$root/bench/init.sh"
chmod 755 "$root/bench/guest.sh" "$root/bench/init.sh"
echo "$REPS" >"$root/bench/reps"
echo "$TMO" >"$root/bench/timeout"
echo "$WORKLOADS" >"$root/bench/workloads"
# tar extract and rm -rf: ~4000 files, ~37 MB
tar -C "$root" -cf "$root/bench/data/src.tar" usr/include usr/share/perl usr/share/zoneinfo
# dpkg -i: a package of ~1300 small files
pkg=$work/pkg
mkdir -p "$pkg/DEBIAN" "$pkg/usr/share/gouml-bench"
cp -r "$root/usr/share/zoneinfo/." "$pkg/usr/share/gouml-bench/"
find "$pkg/usr/share/gouml-bench" -type l -delete
printf 'Package: gouml-bench\nVersion: 1.0\nArchitecture: all\nMaintainer: bench <bench@example.org>\nDescription: files for bench/workloads\n' >"$pkg/DEBIAN/control"
printf '#!/bin/sh\nset -e\n[ "$1" = configure ] && ls /usr/share/gouml-bench >/dev/null\nexit 0\n' >"$pkg/DEBIAN/postinst"
chmod 755 "$pkg/DEBIAN/postinst"
dpkg-deb --root-owner-group -Zgzip -b "$pkg" "$root/bench/data/bench.deb" >/dev/null
# gcc
cp "$top/bench/emu/sysbench.c" "$root/bench/data/sysbench.c"
printf '#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\nint main(void) { printf("%%zu\\n", strlen("hello, world")); return 0; }\n' >"$root/bench/data/hello.c"
# git: a repository of /usr/include with a second branch that changes, adds and removes files
if [ -x "$root/usr/bin/git" ]; then
	chroot "$root" /bin/bash -ec '
		export PATH=/usr/bin:/bin HOME=/root GIT_CONFIG_NOSYSTEM=1
		export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
		mkdir /bench/data/repo && cd /bench/data/repo && git init -q -b main
		cp -r /usr/include . && git add -A && git commit -qm base
		git checkout -qb other
		n=0; for f in $(git ls-files | sort); do n=$((n + 1))
			case $((n % 5)) in 0) echo changed >>"$f" ;; 1) [ $((n % 25)) = 1 ] && git rm -q "$f" ;; esac
		done
		mkdir added && for i in $(seq 100); do echo "$i" >added/$i.h; done
		git add -A && git commit -qm other && git checkout -q main'
fi

CGO_ENABLED=0 go -C "$top" build -o "$work/linux" ./cmd/linux

# collect NAME: keeps the console as NAME.log and the workload lines as NAME.txt; a run that
# did not reach its end shows the console's last lines
collect() {
	tr -d '\r' >"$work/$1.log"
	sed -n 's/^WL \([a-z0-9_]*\) \(.*\)$/\1 \2/p' "$work/$1.log" >"$work/$1.txt"
	if ! grep -q '^WL-END' "$work/$1.log"; then
		echo "bench/workloads: the $1 run did not finish; its last lines:" >&2
		tail -n 15 "$work/$1.log" >&2
	fi
}

echo "native chroot..." >&2
# a mount and PID namespace of its own, with a /proc, like the guests
unshare --mount --pid --fork --mount-proc="$root/proc" chroot "$root" /bench/guest.sh 2>&1 | collect native

echo "gouml linux..." >&2
timeout 3600 "$work/linux" ubd0="$root" rw mem=1G init=/bench/init.sh uml_dir="$work/" umid=wl-ours </dev/null 2>&1 |
	collect ours || true

: >"$work/real.txt"
if [ "${NOREAL:-0}" != 1 ] && [ -x "$real" ]; then
	echo "real linux.uml..." >&2
	timeout 3600 "$real" mem=1G root=/dev/root rootfstype=hostfs hostfs="$root" rw init=/bench/init.sh \
		con0=fd:0,fd:1 con=null ssl=null uml_dir="$work/" umid=wl-real quiet </dev/null 2>&1 |
		collect real || true
fi

if [ -n "${BASE:-}" ]; then
	cp "$BASE" "$work/linux-base"
	for r in $(seq "${ROUNDS:-2}"); do
		for b in this base; do
			echo "A/B: $b (round $r)..." >&2
			bin=$work/linux
			[ $b = base ] && bin=$work/linux-base
			timeout 3600 "$bin" ubd0="$root" rw mem=1G init=/bench/init.sh uml_dir="$work/" umid=wl-ab </dev/null 2>&1 |
				collect "ab-$b-$r" || true
		done
	done
	# best (lowest) time per workload of each build
	for b in this base; do
		cat "$work"/ab-$b-[0-9]*.txt | awk '$2 ~ /^[0-9.]+$/ { if (!($1 in v) || $2 < v[$1]) v[$1] = $2 } END { for (k in v) print k, v[k] }' >"$work/ab-$b.txt"
	done
fi

if [ "${TRAPS:-0}" = 1 ]; then
	echo 1 >"$root/bench/reps"
	for w in $WORKLOADS; do
		echo "$w" >"$root/bench/workloads"
		timeout 3600 "$work/linux" ubd0="$root" rw mem=1G init=/bench/init.sh uml_dir="$work/" umid=wl-traps debug \
			</dev/null 2>&1 | tr -d '\r' >"$work/traps.log" || true
		echo "== $w: $(sed -n 's/^WL [a-z0-9_]* \([0-9.]*\) .*/\1 s/p' "$work/traps.log")"
		# the calls of the boot and of guest.sh's own loop are in it too (a few hundred)
		grep -A 12 '^linux: trapped calls:' "$work/traps.log" | sed 's/^linux: *//'
	done >"$work/traps.txt"
	echo "$REPS" >"$root/bench/reps"
	echo "$WORKLOADS" >"$root/bench/workloads"
fi

awk -v workloads="$WORKLOADS" '
FNR == 1 { f++ }
{ name = $1; val = $2; $1 = ""; $2 = ""; sub(/^  */, ""); chk = $0 }
f == 1 { nat[name] = val; natc[name] = chk; next }
f == 2 { ours[name] = val; oursc[name] = chk; next }
f == 3 { real[name] = val; realc[name] = chk }
function num(v) { return v ~ /^[0-9.]+$/ }
function cell(v, c, ref) {
	if (v == "") return "-"
	if (v == "ABSENT") return "absent"
	if (v == "FAILED") return "FAILED"
	if (c != ref) return "WRONG"
	return sprintf("%.3f", v)
}
function ratio(a, b) { return (num(a) && num(b) && b > 0) ? sprintf("%.2fx", a / b) : "-" }
END {
	n = split(workloads, w, " ")
	printf "%-14s %9s %9s %10s %10s %9s %10s\n", "workload", "native", "gouml", "linux.uml", "gouml/nat", "uml/nat", "gouml/uml"
	for (i = 1; i <= n; i++) {
		k = w[i]
		if (nat[k] == "ABSENT") { printf "%-14s %s\n", k, "absent from the root (" natc[k] "): not run"; continue }
		o = cell(ours[k], oursc[k], natc[k]); r = cell(real[k], realc[k], natc[k]); a = cell(nat[k], natc[k], natc[k])
		printf "%-14s %9s %9s %10s %10s %9s %10s\n", k, a, o, r, ratio(o, a), ratio(r, a), ratio(o, r)
		if (num(a) && num(o)) { go += log(o / a); gn++ }
		if (num(a) && num(r)) { gr += log(r / a); grn++ }
		if (num(o) && num(r)) { gor += log(o / r); gorn++ }
		if (o !~ /^[0-9.]+$/ && ours[k] != "") bad = bad sprintf("  gouml %s: %s %s (native: %s)\n", k, ours[k], oursc[k], natc[k])
		if (r == "WRONG" || r == "FAILED") bad = bad sprintf("  linux.uml %s: %s %s (native: %s)\n", k, real[k], realc[k], natc[k])
		if (a == "FAILED") bad = bad sprintf("  native %s: %s\n", k, natc[k])
	}
	printf "%-14s %9s %9s %10s %10s %9s %10s\n", "geomean", "", "", "", gn ? sprintf("%.2fx", exp(go / gn)) : "-", \
		grn ? sprintf("%.2fx", exp(gr / grn)) : "-", gorn ? sprintf("%.2fx", exp(gor / gorn)) : "-"
	print "(seconds, best of '"$REPS"' in each system; results compared with the native run)"
	print "results (the same in every system that shows a time):"
	for (i = 1; i <= n; i++) if (nat[w[i]] != "ABSENT") printf "  %-14s %s\n", w[i], natc[w[i]]
	if (bad != "") printf "not counted:\n%s", bad
}' "$work/native.txt" "$work/ours.txt" "$work/real.txt"
[ "${TRAPS:-0}" = 1 ] && { echo "trapped calls per workload (our linux, debug, one repetition):"; cat "$work/traps.txt"; }
if [ -n "${BASE:-}" ]; then
	echo "A/B (best of ${ROUNDS:-2} boots each, alternating): this tree's linux against BASE"
	awk -v workloads="$WORKLOADS" 'FNR == 1 { f++ } f == 1 { a[$1] = $2; next } { b[$1] = $2 }
	END { n = split(workloads, w, " "); printf "%-14s %9s %9s %9s\n", "workload", "base", "this", "this/base"
		for (i = 1; i <= n; i++) { k = w[i]; if (!(k in a) || !(k in b)) continue
			printf "%-14s %9.3f %9.3f %8.2fx\n", k, b[k], a[k], a[k] / b[k]; g += log(a[k] / b[k]); m++ }
		if (m) printf "%-14s %9s %9s %8.2fx\n", "geomean", "", "", exp(g / m) }' "$work/ab-this.txt" "$work/ab-base.txt"
fi
exit 0
