#!/usr/bin/env bash
# Building an ext4 image from a ~200 MB tree: our mkrootfs vs the real mkfs.ext4 -d (same
# image size, no reserved blocks), with a plain `cp -a` of the tree as the native floor.
# Every image is checked with e2fsck -fn. Prints the median of REPS runs and ratios.
# Env: MB (tree size, default 200), REPS (default 3), TREE (use an existing tree instead).
set -euo pipefail
cd "$(dirname "$0")/../.."
MB=${MB:-200}
REPS=${REPS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-rootfs-XXXXXX")
trap 'rm -rf "$work"' EXIT
for t in mkfs.ext4 e2fsck; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "missing $t (apt-get install e2fsprogs)"; exit 1; }
done
export PATH=$PATH:/usr/sbin:/sbin
CGO_ENABLED=0 go build -o "$work/mkrootfs" ./cmd/mkrootfs

tree=${TREE:-}
if [ -z "$tree" ]; then
  # A system-like mix: many small files, some large ones, symlinks, hard links, deep dirs.
  tree=$work/tree
  python3 - "$tree" "$MB" <<'PY'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
random.seed(1)
budget = mb << 20
blob = os.urandom(8 << 20)
n = 0
while budget > 0:
    d = os.path.join(root, "d%02d" % (n % 40), "s%03d" % (n % 400))
    os.makedirs(d, exist_ok=True)
    r = random.random()
    if r < 0.70: size = random.randint(0, 4096)
    elif r < 0.97: size = random.randint(4096, 65536)
    elif r < 0.997: size = random.randint(65536, 1 << 20)
    else: size = random.randint(1 << 20, 6 << 20)
    size = min(size, budget)
    off = random.randint(0, len(blob) - size) if size < len(blob) else 0
    p = os.path.join(d, "f%06d" % n)
    with open(p, "wb") as f:
        f.write(blob[off:off + size])
    if n % 50 == 0:
        os.symlink("f%06d" % n, p + ".lnk")
    if n % 97 == 0:
        os.link(p, p + ".hard")
    budget -= size
    n += 1
print("tree: %d files, %d MB" % (n, mb))
PY
fi
du -sh --apparent-size "$tree" | awk '{print "tree size: "$1}'
find "$tree" -type f -exec cat {} + >/dev/null  # warm the page cache for everyone

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ours=() real=() native=()
size=""
for i in $(seq "$REPS"); do
  rm -f "$work/ours.img" "$work/real.img"; rm -rf "$work/copy"
  s=$(now); "$work/mkrootfs" -q --no-uml -o "$work/ours.img" "$tree"; e=$(now)
  ours+=("$(echo "$e - $s" | bc)")
  size=$(stat -c %s "$work/ours.img")
  truncate -s "$size" "$work/real.img"
  s=$(now); mkfs.ext4 -q -F -m 0 -d "$tree" "$work/real.img" >/dev/null; e=$(now)
  real+=("$(echo "$e - $s" | bc)")
  s=$(now); cp -a "$tree" "$work/copy"; sync -f "$work/copy"; e=$(now)
  native+=("$(echo "$e - $s" | bc)")
  e2fsck -fn "$work/ours.img" >/dev/null 2>&1 || { echo "e2fsck -fn failed on our image"; exit 1; }
  e2fsck -fn "$work/real.img" >/dev/null 2>&1 || { echo "e2fsck -fn failed on mkfs.ext4's image"; exit 1; }
done
o=$(printf '%s\n' "${ours[@]}" | median)
r=$(printf '%s\n' "${real[@]}" | median)
n=$(printf '%s\n' "${native[@]}" | median)
used_o=$(du -k "$work/ours.img" | cut -f1)
used_r=$(du -k "$work/real.img" | cut -f1)
printf '%-28s %10s %12s %14s\n' "build ext4 image" "seconds" "vs mkfs.ext4" "disk used (KiB)"
printf '%-28s %10.2f %12.2f %14s\n' "mkrootfs (ours)" "$o" "$(echo "$o / $r" | bc -l)" "$used_o"
printf '%-28s %10.2f %12.2f %14s\n' "mkfs.ext4 -d (real)" "$r" 1 "$used_r"
printf '%-28s %10.2f %12.2f %14s\n' "cp -a (native, no image)" "$n" "$(echo "$n / $r" | bc -l)" "-"
echo "image size $((size >> 20)) MiB for both; median of $REPS runs"
