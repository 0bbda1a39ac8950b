#!/usr/bin/env bash
# Runs every Fuzz* target in the module for a short time each (default 10s), then the guest
# system-call fuzzer (TestSyscallFuzz) for 30 times that.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | awk '{print $2}' | sort -u); do
    echo "== $pkg $f"
    go test -run='^$' -fuzz="^$f\$" -fuzztime="$t" "$pkg"
  done
done

# FUZZTIME in seconds: 10s, 2m, 1h or a plain number; anything else (100x, 1.5s) counts as 10
secs=${t%[smh]}
case $secs in ''|*[!0-9]*) secs=10 t=s ;; esac
case $t in *m) secs=$((secs * 60)) ;; *h) secs=$((secs * 3600)) ;; esac
secs=$((secs * 30))
echo "== github.com/gouml/gouml/lib/kernel TestSyscallFuzz (${secs}s)"
GOUML_SYSFUZZ_TIME=${secs}s go test -count=1 -run '^TestSyscallFuzz$' -timeout $((secs * 2 + 600))s ./lib/kernel
