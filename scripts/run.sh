#!/usr/bin/env bash
# make run: boot the default guest (built by make rootfs) with its console on this terminal.
# Leave the guest with "poweroff" (or uml_mconsole <umid> halt from another terminal).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bin/linux ubd0=build/rootfs rw umid=gouml-run "$@"
