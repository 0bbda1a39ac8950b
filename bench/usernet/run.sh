#!/bin/sh
# TCP throughput from a real linux.uml guest to a host loopback service: gouml's user-mode
# gateway (lib/usernet over a ucast link) vs Debian's slirp (eth0=slirp) vs a direct loopback
# connection, measured side by side in one run; then the gateway alone (a netstack guest on
# an in-process link), which shows how much of the guest figure the gateway itself costs.
# Needs: user-mode-linux, slirp, busybox-static. Usage: bench/usernet/run.sh [-mb N] [-reps N]
set -e
cd "$(dirname "$0")/../.."
nice go run ./bench/usernet "$@"
echo
echo "gateway alone (netstack guest, in-process link, no UML):"
nice go test ./lib/usernet/ -run '^$' -bench '^BenchmarkGuestToHostTCP$' -benchtime 2s | grep '^Benchmark'
