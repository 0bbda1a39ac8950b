#!/bin/sh
# TCP throughput from a real linux.uml guest to a host loopback service: gouml's user-mode
# gateway (lib/usernet over a ucast link) vs Debian's slirp vs a direct loopback connection.
# Needs: user-mode-linux, slirp, busybox-static. Usage: bench/usernet/run.sh [-mb N] [-reps N]
set -e
cd "$(dirname "$0")/../.."
exec nice go run ./bench/usernet "$@"
