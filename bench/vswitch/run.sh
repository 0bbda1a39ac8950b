#!/usr/bin/env bash
# uml_switch throughput: frames per second and Mbit/s between two fake guests speaking the
# real daemon protocol (bench/vswitch/vswbench), through the real uml_switch and ours,
# measured alternately in one run, plus "native": the same two sockets without a switch.
# Each cell is the best of ROUNDS runs of SECS seconds (the machine is shared; best-of is the
# least noisy). Sender and receiver are batched (sendmmsg/recvmmsg) so the switch is the
# bottleneck. Frames the switch drops because the receiver's queue was full count as lost.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-2}
REAL=${REAL:-$(command -v uml_switch || echo /usr/bin/uml_switch)}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
CGO_ENABLED=0 go build -o "$W/uml_switch" ./cmd/uml_switch
CGO_ENABLED=0 go build -o "$W/vswbench" ./bench/vswitch/vswbench
[ -x "$REAL" ] || { echo "real uml_switch not found (apt-get install uml-utilities)" >&2; exit 1; }

# run SWITCH SIZE [-direct] -> "fps mbps sent received" (best fps of ROUNDS)
run() {
  local sw=$1 size=$2 extra=${3:-} best="0 0 0 0" ctl="$W/ctl" pid
  for _ in $(seq "$ROUNDS"); do
    rm -f "$ctl"
    "$sw" -unix "$ctl" </dev/null >/dev/null 2>&1 & pid=$!
    for _ in $(seq 50); do [ -S "$ctl" ] && break; sleep 0.1; done
    read -r sent recv secs < <("$W/vswbench" -ctl "$ctl" -size "$size" -t "${SECS}s" $extra)
    kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    best=$(awk -v s="$sent" -v r="$recv" -v t="$secs" -v z="$size" -v b="$best" 'BEGIN {
      split(b, o, " "); f = (t > 0) ? r / t : 0
      if (f > o[1]) printf "%.0f %.1f %d %d\n", f, f * z * 8 / 1e6, s, r; else print b }')
  done
  echo "$best"
}

printf '%-6s | %-26s | %-26s | %-26s | %s\n' size "real uml_switch fps (Mbit/s)" "ours fps (Mbit/s)" "native fps (Mbit/s)" "ours/real"
for size in 64 512 1500; do
  read -r rf rm rs rr < <(run "$REAL" $size)
  read -r of om os or < <(run "$W/uml_switch" $size)
  read -r nf nm _ _ < <(run "$W/uml_switch" $size -direct)
  ratio=$(awk -v a="$of" -v b="$rf" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
  printf '%-6s | %-26s | %-26s | %-26s | %s\n' "$size" "$rf ($rm)" "$of ($om)" "$nf ($nm)" "$ratio"
  printf '%-6s   delivered: real %s/%s, ours %s/%s\n' "" "$rr" "$rs" "$or" "$os"
done
