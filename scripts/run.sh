#!/usr/bin/env bash
# make run: build the default guest and boot it with the console on this terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x bin/linux ]; then
  echo "make run: the emulator (cmd/linux) is not built yet in this version of gouml;" >&2
  echo "make run: the COW tools and the other programs in bin/ are ready to use (see README.md)." >&2
  exit 1
fi
make -s rootfs
exec bin/linux ubd0=build/rootfs init=/init
