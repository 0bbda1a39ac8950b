#!/usr/bin/env bash
# Path-call benchmark (issue 18): bench/paths/paths.c (stat, lstat, fstatat relative to a
# directory fd, stat through a symlinked directory, open, openat, access, readlinkat, mkdirat+rmdir,
# renameat, O_CREAT|O_TRUNC of an existing file, O_CREAT of new names, create and unlinkat on
# a tree of 2000 small files at depth 5) natively, under our linux and under the real linux.uml
# (hostfs root), in one run. Prints a table of microseconds per call with ratios to native.
# ROUNDS=n (default 2) alternating native/gouml runs, the best figure of each kept.
# LINUX=path: measure that linux binary instead of building this tree's; BASE=path: also
# measure that one (e.g. built from an older commit), alternating with this tree's, for an A/B.
# NOREAL=1 skips linux.uml. PROFILE=METRIC (e.g. fstatat): afterwards, boot our linux once
# running only that metric, over and over, record the kernel process with perf for 8 s and
# print where the handlers' time goes (perf report, callers folded in; needs perf and root).
# Needs gcc with a static libc and busybox-static.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/gouml-bench-paths.XXXXXX")
trap 'rm -rf "$work"' EXIT
real=$(command -v linux.uml || echo /usr/bin/linux.uml)
bb=$(command -v busybox || echo /bin/busybox)
[ -x "$bb" ] || { echo "bench/paths: busybox not found (apt-get install busybox-static)" >&2; exit 1; }

root=$work/root
mkdir -p "$root"/{bin,tmp,proc,dev,etc,sys,scratch}
cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
gcc -O2 -static -o "$root/paths" "$here/paths.c"
# the tree: /bench/tree/dNN/eNN/fN, 20 x 10 x 10 files, and /bench/tree/link -> d00
for d in $(seq 0 19); do
	for e in $(seq 0 9); do
		x=$(printf '%s/bench/tree/d%02d/e%02d' "$root" "$d" "$e")
		mkdir -p "$x"
		for f in 0 1 2 3 4 5 6 7 8 9; do echo "$d $e $f" >"$x/f$f"; done
	done
done
ln -s d00 "$root/bench/tree/link"
printf '#!/bin/sh\n/paths /bench/tree /scratch\n/bin/busybox poweroff -f\n' >"$root/bench.sh"
chmod +x "$root/bench.sh"

if [ -n "${LINUX:-}" ]; then
	cp "$LINUX" "$work/linux"
else
	(cd "$top" && CGO_ENABLED=0 go build -o "$work/linux" ./cmd/linux)
fi
[ -z "${BASE:-}" ] || cp "$BASE" "$work/linux-base"

extract() { tr -d '\r' | grep -E '^[A-Za-z_0-9]+ [0-9.]+$' || true; }
best() { # lowest figure per metric over several "name value" files, in first-seen order
	awk '{ if (!($1 in v) || $2 < v[$1]) v[$1] = $2; if (!($1 in o)) o[$1] = ++n }
	END { for (k in o) print o[k], k, v[k] }' "$@" | sort -n | cut -d' ' -f2-
}
ours() { timeout 600 "$1" ubd0="$root" rw mem=256M init=/bench.sh uml_dir="$work/" umid=paths-ours 2>&1 | extract; }
ROUNDS=${ROUNDS:-2}
for r in $(seq "$ROUNDS"); do
	echo "native (round $r)..." >&2
	"$root/paths" "$root/bench/tree" "$root/scratch" | extract >"$work/native.$r"
	echo "gouml linux (round $r)..." >&2
	ours "$work/linux" >"$work/ours.$r" || true
	if [ -n "${BASE:-}" ]; then
		echo "gouml linux, BASE (round $r)..." >&2
		ours "$work/linux-base" >"$work/base.$r" || true
	fi
done
best "$work"/native.[0-9]* >"$work/native.txt"
best "$work"/ours.[0-9]* >"$work/ours.txt"
: >"$work/base.txt"
[ -z "${BASE:-}" ] || best "$work"/base.[0-9]* >"$work/base.txt"
: >"$work/real.txt"
if [ "${NOREAL:-0}" != 1 ] && [ -x "$real" ]; then
	echo "real linux.uml..." >&2
	timeout 600 "$real" mem=256M root=/dev/root rootfstype=hostfs hostfs="$root" rw init=/bench.sh \
		con0=fd:0,fd:1 con=null ssl=null uml_dir="$work/" umid=paths-real quiet </dev/null 2>&1 | tee "$work/real.log" | extract >"$work/real.txt" || true
	[ -s "$work/real.txt" ] || { echo "bench/paths: the linux.uml run gave no figures; its last lines:" >&2; tr -d "\r" <"$work/real.log" | tail -n 8 >&2; }
fi

if [ -n "${PROFILE:-}" ]; then
	printf '#!/bin/sh\nwhile /paths /bench/tree /scratch %s >/dev/null; do :; done\n' "$PROFILE" >"$root/profile.sh"
	chmod +x "$root/profile.sh"
	timeout 60 "$work/linux" ubd0="$root" rw mem=256M init=/profile.sh uml_dir="$work/" umid=paths-prof \
		</dev/null >/dev/null 2>&1 &
	tmo=$!
	sleep 2
	# timeout's child is linux's outer process, whose one child is the kernel (jail.go)
	outer=$(pgrep -P "$tmo" | head -n1 || true)
	kpid=
	[ -z "$outer" ] || kpid=$(pgrep -P "$outer" | head -n1 || true)
	if [ -n "$kpid" ] && perf record -F 2000 -g -p "$kpid" -o "$work/perf.data" -- sleep 8 >/dev/null 2>&1; then
		perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
			grep -E '^ +[0-9.]+%' | grep -v '\[k\]' | head -n 40 | sed 's/ *- *- *$//' >"$work/profile.txt" || true
	fi
	kill "$tmo" 2>/dev/null || true
	wait "$tmo" 2>/dev/null || true
fi

awk -v base="${BASE:+1}" '
# by name: an empty file (no BASE) has no first line to count
FNR == 1 { f = FILENAME ~ /native.txt$/ ? 1 : FILENAME ~ /ours.txt$/ ? 2 : FILENAME ~ /base.txt$/ ? 3 : 4 }
f == 1 { nat[$1] = $2; order[++n] = $1; next }
f == 2 { ours[$1] = $2; next }
f == 3 { b[$1] = $2; next }
f == 4 { real[$1] = $2 }
function ratio(a, d) { return (a == "" || d == "" || d + 0 == 0) ? "-" : sprintf("%.2fx", a / d) }
END {
	printf "%-18s %9s %9s", "metric (us)", "native", "gouml"
	if (base) printf " %9s", "base"
	printf " %10s %10s", "linux.uml", "gouml/nat"
	if (base) printf " %9s", "base/nat"
	printf " %9s %10s\n", "uml/nat", "gouml/uml"
	for (i = 1; i <= n; i++) {
		k = order[i]
		printf "%-18s %9s %9s", k, nat[k], (k in ours) ? ours[k] : "FAILED"
		if (base) printf " %9s", (k in b) ? b[k] : "FAILED"
		printf " %10s %10s", (k in real) ? real[k] : "-", ratio(ours[k], nat[k])
		if (base) printf " %9s", ratio(b[k], nat[k])
		printf " %9s %10s\n", ratio(real[k], nat[k]), ratio(ours[k], real[k])
	}
}' "$work/native.txt" "$work/ours.txt" "$work/base.txt" "$work/real.txt"
if [ -n "${PROFILE:-}" ]; then
	echo "where the kernel's time goes in $PROFILE (perf, children included, user-space symbols):"
	cat "$work/profile.txt" 2>/dev/null || echo "(no profile: perf missing or not permitted)"
fi
