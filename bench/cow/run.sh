#!/usr/bin/env bash
# uml_moo benchmark (issue 2): merge a 1 GiB backing file with a COW file in which every other
# 64 KiB chunk is written, with our uml_moo and the real one in the same run, new-file and
# in-place. Prints seconds, the ratio real/ours (>1 = ours faster) and the output's disk usage.
# SIZE_MB and ROUNDS tune it; the work directory is $TMPDIR (default /tmp, must have ~4 GiB).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MB=${SIZE_MB:-1024}; ROUNDS=${ROUNDS:-3}
REAL=$(command -v uml_moo || true)
[ -n "$REAL" ] || { echo "bench/cow: the real uml_moo is missing: apt-get install uml-utilities" >&2; exit 1; }
go build -o bin/uml_moo ./cmd/uml_moo
go build -o bin/uml_mkcow ./cmd/uml_mkcow
W=$(mktemp -d "${TMPDIR:-/tmp}/gouml-bench-cow.XXXXXX"); trap 'rm -rf "$W"' EXIT
head -c $((SIZE_MB << 20)) /dev/urandom > "$W/back.img"
touch -d '2024-01-02 03:04:05 UTC' "$W/back.img"
bin/uml_mkcow "$W/c.cow" "$W/back.img"
go run ./bench/cow/cowfill "$W/c.cow"
sync

now() { date +%s.%N; }
best() { sort -g | head -1; }
declare -A t
for tool in real ours; do
  bin=$REAL; [ $tool = ours ] && bin=bin/uml_moo
  for r in $(seq "$ROUNDS"); do
    rm -f "$W/out-$tool.img"; sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    s=$(now); "$bin" "$W/c.cow" "$W/out-$tool.img"; e=$(now)
    echo "$e - $s" | bc
  done > "$W/times-$tool"
  t[new-$tool]=$(best < "$W/times-$tool")
  for r in $(seq "$ROUNDS"); do
    cp --sparse=always "$W/back.img" "$W/ip-$tool.img"; touch -d '2024-01-02 03:04:05 UTC' "$W/ip-$tool.img"; sync
    echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    s=$(now); "$bin" -d -b "$W/ip-$tool.img" "$W/c.cow"; e=$(now)
    echo "$e - $s" | bc
  done > "$W/times-ip-$tool"
  t[ip-$tool]=$(best < "$W/times-ip-$tool")
done
cmp "$W/out-real.img" "$W/out-ours.img" || { echo "bench/cow: outputs differ!" >&2; exit 1; }
cmp "$W/ip-real.img" "$W/out-ours.img" || { echo "bench/cow: in-place outputs differ!" >&2; exit 1; }
du_real=$(du -k "$W/out-real.img" | cut -f1); du_ours=$(du -k "$W/out-ours.img" | cut -f1)
printf '%-22s %10s %10s %14s\n' "uml_moo, ${SIZE_MB} MiB" "real (s)" "ours (s)" "real/ours"
printf '%-22s %10.3f %10.3f %13.1fx\n' "new file" "${t[new-real]}" "${t[new-ours]}" "$(echo "${t[new-real]} / ${t[new-ours]}" | bc -l)"
printf '%-22s %10.3f %10.3f %13.1fx\n' "in place (-d)" "${t[ip-real]}" "${t[ip-ours]}" "$(echo "${t[ip-real]} / ${t[ip-ours]}" | bc -l)"
printf '%-22s %10s %10s\n' "output on disk (KiB)" "$du_real" "$du_ours"
