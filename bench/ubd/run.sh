#!/usr/bin/env bash
# Block-device benchmark: inside a guest booted from an ext4 image (ubd0=IMG), sequential
# write and read of a file and creating 10 000 files, under our linux and under the real
# linux.uml, on copies of the same image, in one run. Also on a mounted second device
# (mount /dev/ubdb /mnt). Prints a table with the ratio ours/real.
# Usage: bench/ubd/run.sh [MB]   (default 256 MB; needs busybox-static, e2fsprogs, user-mode-linux)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
MB=${1:-256}
case "$MB" in ''|*[!0-9]*) echo "usage: $0 [MB]" >&2; exit 2;; esac
[ "$MB" -ge 16 ] && [ "$MB" -le 4096 ] || { echo "MB must be 16..4096" >&2; exit 2; }
work=$(mktemp -d /tmp/gouml-bench-ubd.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
real=$(command -v linux.uml || echo /usr/bin/linux.uml)
bb=$(command -v busybox || echo /bin/busybox)

root=$work/root
mkdir -p "$root"/{bin,tmp,proc,dev,etc,sys,mnt}
cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
cat > "$root/bench.sh" <<EOS
#!/bin/sh
mount -t proc proc /proc 2>/dev/null; mount -t devtmpfs devtmpfs /dev 2>/dev/null
ms() { read u _ < /proc/uptime; echo \$(( \${u%.*} * 1000 + 1\${u#*.} * 10 - 1000 )); }
run() { # name dir
	d=\$2
	t=\$(ms); dd if=/dev/zero of=\$d/big bs=1M count=$MB 2>/dev/null; sync; t2=\$(ms)
	echo "\$1_write_MBps \$(( $MB * 1000 / (t2 - t + 1) ))"
	{ echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null
	t=\$(ms); dd if=\$d/big of=/dev/null bs=1M 2>/dev/null; t2=\$(ms)
	echo "\$1_read_MBps \$(( $MB * 1000 / (t2 - t + 1) ))"
	mkdir \$d/many
	t=\$(ms); i=0; while [ \$i -lt 10000 ]; do : > \$d/many/f\$i; i=\$((i+1)); done; sync; t2=\$(ms)
	echo "\$1_create10k_ms \$((t2 - t))"
	rm -rf \$d/many \$d/big; sync
}
run root /tmp
mount /dev/ubdb /mnt && run mnt /mnt && umount /mnt
/bin/busybox poweroff -f
EOS
chmod +x "$root/bench.sh"
size=$(( MB * 3 + 256 ))M
mkfs.ext4 -q -d "$root" "$work/root.img" "$size"
mkfs.ext4 -q "$work/data.img" "$size"
(cd "$top" && CGO_ENABLED=0 go build -o "$work/linux" ./cmd/linux)

extract() { tr -d '\r' | grep -E '^[A-Za-z0-9_]+ [0-9.]+$' || true; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cp --sparse=always "$work/root.img" "$work/r1.img"; cp --sparse=always "$work/data.img" "$work/d1.img"
echo "gouml linux..." >&2
timeout 1200 "$work/linux" ubd0="$work/r1.img" ubd1="$work/d1.img" rw init=/bench.sh mem=512M \
	uml_dir="$work/" umid=bench-ours 2>&1 | tee "$work/ours.raw" | extract > "$work/ours.txt" || true
cp --sparse=always "$work/root.img" "$work/r2.img"; cp --sparse=always "$work/data.img" "$work/d2.img"
if [ -x "$real" ]; then
	echo "real linux.uml..." >&2
	timeout 1200 "$real" mem=512M ubd0="$work/r2.img" ubd1="$work/d2.img" root=/dev/ubda rw init=/bench.sh \
		con0=fd:0,fd:1 con=null ssl=null uml_dir="$work/" umid=bench-real quiet </dev/null 2>&1 | tee "$work/real.raw" | extract > "$work/real.txt" || true
else
	: > "$work/real.txt"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
awk '
FNR == 1 { f++ }
f == 1 { ours[$1] = $2; order[++n] = $1; next }
f == 2 { real[$1] = $2 }
END {
	printf "%-22s %12s %12s %10s\n", "metric", "gouml", "linux.uml", "speedup"
	for (i = 1; i <= n; i++) {
		k = order[i]; r = (k in real) ? real[k] : "-"; s = "-"
		if (r != "-" && ours[k] + 0 > 0 && r + 0 > 0) s = sprintf("%.2fx", (k ~ /MBps$/) ? ours[k] / r : r / ours[k])
		printf "%-22s %12s %12s %10s\n", k, ours[k], r, s
	}
	print "(speedup > 1: gouml faster; root_* on the image root, mnt_* on a mounted second device)"
}' "$work/ours.txt" "$work/real.txt"
