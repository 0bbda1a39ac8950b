#!/usr/bin/env bash
# make bench: runs every benchmark under bench/*/run.sh. Each prints its own table of ours vs
# native vs the real tools, measured side by side in one run.
set -euo pipefail
cd "$(dirname "$0")"
for b in */run.sh; do
  [ -x "$b" ] || continue
  echo "=== ${b%/run.sh}"
  "./$b"
done
