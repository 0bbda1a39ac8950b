#!/bin/sh
# Two guests on a uml_switch, side by side in one run: two of ours on our uml_switch vs two
# real linux.uml guests on Debian's (TCP throughput of one stream, ping RTT); then frames/s
# through our relay with 64-byte frames (two ucast devices on loopback, fake taps).
# Needs: user-mode-linux, uml-utilities, busybox-static. Traffic stays on this machine.
# Usage: bench/net/run.sh [-mb N] [-reps N]
set -e
cd "$(dirname "$0")/../.."
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
for p in linux uml_switch; do CGO_ENABLED=0 go build -o "$W/$p" ./cmd/$p; done
CGO_ENABLED=0 go build -o "$W/tput" ./bench/net/tput
nice go run ./bench/net -bin "$W" "$@"
echo
echo "relay alone, 64-byte frames (guest tap -> ucast -> ucast -> guest tap, fake taps):"
nice go test ./lib/netdev/ -run '^$' -bench '^BenchmarkRelayFrames64$' -benchtime 3s | grep '^Benchmark'
