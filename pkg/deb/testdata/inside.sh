#!/bin/sh
# Runs inside a scratch Debian bookworm tree, as root, with the packages of make deb in
# /root/debs. $1 is the scenario:
#   fresh    neither user-mode-linux nor uml-utilities installed: install ours, check,
#            remove (only conffiles may stay), purge (nothing may stay)
#   replace  the real packages installed first (from the registry), then ours replace them
# Prints "PASS: ..." / "FAIL: ..." lines; exits 1 if anything failed.
set -u
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}
apt_get() { apt-get -y -q -o Dpkg::Use-Pty=0 "$@" >/tmp/apt.log 2>&1 || { tail -n 20 /tmp/apt.log; return 1; }; }

apt_get update || { echo "SKIP: apt-get update failed in the tree (no registry?)"; exit 3; }

ctl=/var/run/uml-utilities/uml_switch.ctl

common_checks() {
	check "linux --version says gouml" sh -c 'linux --version | grep -q gouml'
	check "linux.uml --version says gouml" sh -c 'linux.uml --version | grep -q gouml'
	check "/usr/bin/linux is the linux alternative" sh -c '[ "$(readlink -f /usr/bin/linux)" = /usr/bin/linux.uml ]'
	check "the uml-net group exists" getent group uml-net
	check "uml_net is root:uml-net 4754" sh -c '[ "$(stat -c "%a %U %G" /usr/bin/uml_net)" = "4754 root uml-net" ]'
	check "port-helper is in /usr/lib/uml" test -x /usr/lib/uml/port-helper
	# The postinst starts the switch with invoke-rc.d, as uml-utilities' does; in a tree
	# without a running init system invoke-rc.d declines ("Defaulting to block") unless forced.
	check "update-rc.d linked the script for boot" sh -c "ls /etc/rc2.d/S[0-9][0-9]uml-utilities >/dev/null"
	check "invoke-rc.d starts the switch" sh -c "invoke-rc.d --force uml-utilities start >/dev/null 2>&1; [ -S $ctl ]"
	check "init script stop removes the control socket" sh -c "/etc/init.d/uml-utilities stop >/dev/null && [ ! -e $ctl ]"
	check "init script start makes the control socket, mode 777" sh -c "/etc/init.d/uml-utilities start >/dev/null && [ -S $ctl ] && [ \$(stat -c %a $ctl) = 777 ]"
	check "the switch runs as uml-net" sh -c '[ "$(stat -c %U /proc/$(cat /var/run/uml-utilities/uml_switch.pid)/)" = uml-net ]'
	check "init script status" /etc/init.d/uml-utilities status
	check "init script stop again" sh -c "/etc/init.d/uml-utilities stop >/dev/null && [ ! -e $ctl ]"
	# The harddog driver's handshake: one ready byte, end of input ends it with status 0.
	check "uml_watchdog answers the harddog protocol" sh -c '[ "$(uml_watchdog -pid $$ </dev/null | od -An -tx1 | tr -d " ")" = 00 ]'
	check "uml_watchdog refuses a dead pid with status 1" sh -c 'uml_watchdog -pid 999999999 </dev/null 2>/dev/null; [ $? = 1 ]'
	check "the systemd unit's commands run a switch" unit_commands
	check "conffiles belong to gouml-utils" sh -c '[ "$(dpkg -S /etc/init.d/uml-utilities | cut -d: -f1)" = gouml-utils ]'
}

# No systemd runs in the tree, so uml-utilities.service's commands are run the way systemd
# would: $$ made $, the Environment= and EnvironmentFile= settings exported, ExecStart in the
# background; then the socket must be there with mode 777 and the switch run as uml-net.
unit_commands() (
	unit=/lib/systemd/system/uml-utilities.service
	line() { sed -n "s/^$1=[+]*//p" "$unit" | sed 's/[$][$]/$/g'; }
	set -a
	eval "$(line Environment)"
	. /etc/default/uml-utilities
	set +a
	eval "$(line ExecCondition)" || return 1
	eval "$(line ExecStartPre)" || return 1
	eval "exec $(line ExecStart)" &
	pid=$!
	eval "$(line ExecStartPost)" || { kill $pid; return 1; }
	ok=0
	[ "$(stat -c %a "$UML_SWITCH_CTL")" = 777 ] && [ "$(stat -c %U /proc/$pid/)" = uml-net ] || ok=1
	kill $pid
	wait $pid
	[ $ok = 0 ] && [ ! -e "$UML_SWITCH_CTL" ]
)

case "$1" in
fresh)
	check "man-db installs" apt_get install --no-install-recommends man-db
	check "our packages install on a system without the real ones" apt_get install /root/debs/gouml_*.deb /root/debs/gouml-utils_*.deb
	common_checks
	check "man -w uml_switch finds the page" sh -c 'man -w uml_switch | grep -q /usr/share/man/man1/uml_switch.1.gz'
	check "man -w uml_watchdog finds the page" man -w uml_watchdog
	check "man -w linux finds the alternative's page" sh -c 'man -w linux | grep -q "man1/linux\(\.uml\)*\.1\.gz"'
	check "man -w linux.uml finds the page" man -w linux.uml
	dpkg -L gouml gouml-utils | sort -u >/tmp/files
	cat /var/lib/dpkg/info/gouml.conffiles /var/lib/dpkg/info/gouml-utils.conffiles 2>/dev/null | sort -u >/tmp/conffiles
	check "apt-get remove" apt_get remove gouml gouml-utils
	left=$(while read -r f; do [ -d "$f" ] && continue; if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done </tmp/files | grep -vxF -f /tmp/conffiles)
	check "remove leaves only conffiles (left: $left)" test -z "$left"
	check "remove keeps the conffiles" sh -c 'while read -r f; do [ -e "$f" ] || exit 1; done </tmp/conffiles'
	check "remove withdraws the linux alternative" sh -c '! [ -e /usr/bin/linux ]'
	check "no switch runs after remove" sh -c '! [ -e /var/run/uml-utilities/uml_switch.pid ] && ! grep -qx uml_switch /proc/[0-9]*/comm 2>/dev/null'
	check "apt-get purge" apt_get purge gouml gouml-utils
	left=$(while read -r f; do [ -d "$f" ] && continue; if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done </tmp/files)
	check "purge leaves nothing (left: $left)" test -z "$left"
	check "purge removes uml_net's statoverride" sh -c '! dpkg-statoverride --list /usr/bin/uml_net >/dev/null'
	check "dpkg forgets the packages" sh -c '! dpkg -l gouml gouml-utils 2>/dev/null | grep -q "^[a-z][a-z] "'
	;;
replace)
	check "the real user-mode-linux and uml-utilities install" apt_get install --no-install-recommends user-mode-linux uml-utilities
	check "the real linux.uml is there" sh -c 'linux.uml --version 2>/dev/null | grep -qv gouml'
	check "our packages replace them" apt_get install /root/debs/gouml_*.deb /root/debs/gouml-utils_*.deb
	check "user-mode-linux is gone" sh -c '! dpkg -s user-mode-linux 2>/dev/null | grep -q "^Status: install ok installed"'
	check "uml-utilities is gone" sh -c '! dpkg -s uml-utilities 2>/dev/null | grep -q "^Status: install ok installed"'
	common_checks
	check "apt-get purge" apt_get purge gouml gouml-utils
	;;
*)
	echo "usage: inside.sh fresh|replace" >&2
	exit 2
	;;
esac
[ "$fails" = 0 ] && echo "ALL PASSED" || echo "$fails FAILED"
[ "$fails" = 0 ]
