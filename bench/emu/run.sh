#!/usr/bin/env bash
# Emulator benchmark: the static C microbenchmark shared/bench/sysbench.c (a copy is kept in
# this directory) run natively, under our linux and under the real linux.uml, in one run, plus
# boot-to-halt time. Prints a table with ratios to native (and ours vs the real UML).
# ROUNDS=n (default 2) alternating native/gouml rounds; the real UML runs once (it is slow).
# LINUX=path: measure that linux binary instead of building this tree's.
# Usage: bench/emu/run.sh   (needs gcc with static libc, busybox-static, user-mode-linux)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/gouml-bench-emu.XXXXXX)
trap 'rm -rf "$work"' EXIT

real=$(command -v linux.uml || echo /usr/bin/linux.uml)
bb=$(command -v busybox || echo /bin/busybox)

# guest root: busybox + sysbench
root=$work/root
mkdir -p "$root"/{bin,tmp,proc,dev,etc,sys}
cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
gcc -O2 -static -o "$root/sysbench" "$here/sysbench.c"
gcc -O2 -static -o "$root/getuid" "$here/getuid.c"
cat > "$root/bench.sh" <<'EOF'
#!/bin/sh
/sysbench /tmp
/getuid
/bin/busybox poweroff -f
EOF
printf '#!/bin/sh\n/bin/busybox poweroff -f\n' > "$root/halt.sh"
chmod +x "$root/bench.sh" "$root/halt.sh"

# LINUX=path runs a linux built elsewhere (an older build, for a before/after on one machine)
if [ -n "${LINUX:-}" ]; then
	cp "$LINUX" "$work/linux"
else
	(cd "$top" && CGO_ENABLED=0 go build -o "$work/linux" ./cmd/linux)
fi

extract() { tr -d '\r' | grep -E '^[A-Za-z_0-9]+ [0-9.]+$' || true; }

# The machine may be shared: native and gouml runs alternate, ROUNDS times each, and the best
# figure of each metric is kept (least disturbed by other load).
ROUNDS=${ROUNDS:-2}
best() { # best of several "name value" files: lowest time, highest MBps
	awk '{ if (!($1 in v) || ($1 ~ /MBps$/ ? $2 > v[$1] : $2 < v[$1])) v[$1] = $2; if (!($1 in o)) o[$1] = ++n }
	END { for (k in o) print o[k], k, v[k] }' "$@" | sort -n | cut -d' ' -f2-
}
for r in $(seq "$ROUNDS"); do
	echo "native (round $r)..." >&2
	{ "$root/sysbench" "$work"; "$root/getuid"; } | extract > "$work/native.$r"
	echo "gouml linux (round $r)..." >&2
	timeout 600 "$work/linux" ubd0="$root" rw mem=512M init=/bench.sh uml_dir="$work/" umid=bench-ours 2>&1 | extract > "$work/ours.$r" || true
done
best "$work"/native.[0-9]* > "$work/native.txt"
best "$work"/ours.[0-9]* > "$work/ours.txt"

havereal=0
if [ -x "$real" ]; then
	havereal=1
	echo "real linux.uml..." >&2
	timeout 600 "$real" mem=512M root=/dev/root rootfstype=hostfs hostfs="$root" rw init=/bench.sh \
		con0=fd:0,fd:1 con=null ssl=null uml_dir="$work/" umid=bench-real quiet </dev/null 2>&1 | extract > "$work/real.txt" || true
fi

# the mechanism's floor: a minimal C seccomp-notify supervisor (best of 3)
gcc -O2 -o "$work/notifyfloor" "$here/notifyfloor.c"
for r in 1 2 3; do "$work/notifyfloor" sync; done | awk '{ if (!v || $2 < v) v = $2 } END { print "notify_floor_us", v }' > "$work/floor.txt"

# boot to halt (median of 5)
boot() {
	local ts=()
	for i in 1 2 3 4 5; do
		local s e
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 </dev/null || true
		e=$(date +%s%N)
		ts+=($(( (e - s) / 1000 )))
	done
	printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p
}
echo "boot to halt..." >&2
b=$(boot "$work/linux" ubd0="$root" rw init=/halt.sh uml_dir="$work/" umid=boot-ours)
echo "boot_halt_ms $(awk -v u="$b" 'BEGIN{printf "%.1f", u/1000}')" >> "$work/ours.txt"
if [ $havereal = 1 ]; then
	b=$(boot "$real" mem=64M root=/dev/root rootfstype=hostfs hostfs="$root" rw init=/halt.sh con0=fd:0,fd:1 con=null ssl=null uml_dir="$work/" umid=boot-real quiet)
	echo "boot_halt_ms $(awk -v u="$b" 'BEGIN{printf "%.1f", u/1000}')" >> "$work/real.txt"
fi
[ $havereal = 1 ] || : > "$work/real.txt"

awk '
FNR == 1 { f++ }
f == 1 { nat[$1] = $2; order[++n] = $1; next }
f == 2 { ours[$1] = $2; if (!($1 in nat)) order[++n] = $1; next }
f == 3 { real[$1] = $2 }
function ratio(a, b, name) {
	if (a == "" || b == "" || b + 0 == 0) return "-"
	# for throughput (MBps) a higher value is better: report the slowdown either way
	if (name ~ /MBps$/) return sprintf("%.2fx", b / a)
	return sprintf("%.2fx", a / b)
}
END {
	printf "%-20s %12s %12s %12s %10s %10s %12s\n", "metric", "native", "gouml", "linux.uml", "gouml/nat", "uml/nat", "gouml/uml"
	for (i = 1; i <= n; i++) {
		k = order[i]
		o = (k in ours) ? ours[k] : "FAILED"
		r = (k in real) ? real[k] : "-"
		printf "%-20s %12s %12s %12s %10s %10s %12s\n", k, (k in nat) ? nat[k] : "-", o, r, \
			ratio(ours[k], nat[k], k), ratio(real[k], nat[k], k), ratio(ours[k], real[k], k)
	}
	print "(ratios are slowdowns: time ratios, or inverse throughput ratios for MBps)"
}' "$work/native.txt" "$work/ours.txt" "$work/real.txt"
echo "trapped-call floor here (minimal C seccomp-notify supervisor, no work): $(cut -d' ' -f2 "$work/floor.txt") us"
