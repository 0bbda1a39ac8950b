#!/bin/sh
# Guest networking, side by side in one run (iperf3 TCP throughput, busybox ping RTT):
# two of our guests on our uml_switch vs two real linux.uml guests on Debian's; a guest to a
# host loopback service through ours eth0=usernet vs the real linux.uml on our
# uml_switch -nat vs a host tap (root); then frames/s through our relay with 64-byte frames
# (two ucast devices on loopback, fake taps).
# Needs: user-mode-linux, uml-utilities, busybox-static, iperf3 (the host's is copied with
# its libraries into the guests' roots). Traffic stays on this machine.
# Usage: bench/net/run.sh [-secs N] [-reps N] [-only SUBSTRING]
set -e
cd "$(dirname "$0")/../.."
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
for p in linux uml_switch; do CGO_ENABLED=0 go build -o "$W/$p" ./cmd/$p; done
nice go run ./bench/net -bin "$W" "$@"
echo
echo "relay alone, 64-byte frames (guest tap -> ucast -> ucast -> guest tap, fake taps):"
nice go test ./lib/netdev/ -run '^$' -bench '^BenchmarkRelayFrames64$' -benchtime 3s | grep '^Benchmark'
