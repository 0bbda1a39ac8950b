#!/bin/sh
# TCP throughput from a real linux.uml guest to a host service: gouml's user-mode NAT
# (through our uml_switch -nat, and the gateway alone over a ucast link) vs Debian's slirp
# (eth0=slirp) vs a tap device and the host kernel (the upper bound; needs root), measured
# side by side in one run; then the gateway alone with a netstack guest on an in-process
# link, which shows how much of the guest figure the gateway itself costs.
# Needs: user-mode-linux, slirp, busybox-static, iproute2 (tap). Traffic stays on this machine.
# Usage: bench/usernet/run.sh [-mb N] [-reps N]
set -e
cd "$(dirname "$0")/../.."
nice go run ./bench/usernet "$@"
echo
echo "gateway alone (netstack guest, in-process link, no UML):"
nice go test ./lib/usernet/ -run '^$' -bench '^BenchmarkGuestToHostTCP$' -benchtime 2s | grep '^Benchmark'
