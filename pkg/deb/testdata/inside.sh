#!/bin/sh
# Runs inside a scratch Debian bookworm tree, as root, with the packages of make deb in
# /root/debs. $1 is the scenario:
#   fresh    neither user-mode-linux nor uml-utilities installed: install ours, check,
#            remove (only conffiles may stay), purge (nothing may stay)
#   replace  the real packages installed first (from the registry), then ours replace them;
#            then real linux.uml guests (the registry's kernel, kept aside) work with the
#            installed utilities, and our installed kernel boots under both its names
#   systemd-prepare, systemd
#            (pkg/deb's TestPackages/systemd) systemd installed in the chroot; then, with
#            systemd running as PID 1 of the tree, our packages install, their units start,
#            stop and verify, and apt-get remove stops them
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

# The systemd phase runs in the tree that systemd-prepare updated.
if [ "$1" != systemd ]; then
	apt_get update || { echo "SKIP: apt-get update failed in the tree (no registry?)"; exit 3; }
fi

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


# A real linux.uml guest (the registry's kernel, copied aside before ours replaced it) and our
# installed kernel, on the switch that the installed init script starts, as the interop tests
# run them outside with the same programs: the real guest keeps running on the switch, ours
# pings it through the switch, the installed uml_mconsole asks the real guest's version and
# halts it, the installed uml_moo merges the COW file the real guest wrote, and our kernel
# also boots as linux.uml. The guests share a busybox root (/root/guest.sh is their init).
guest_checks() {
	g=/root/guest
	mkdir -p $g/bin $g/proc $g/sys $g/dev $g/tmp $g/etc $g/root
	cp /bin/busybox $g/bin/
	for a in $(busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$g/bin/$a"; done
	install -m 0755 /root/guest.sh $g/guest.sh
	dd if=/dev/zero of=/tmp/back.img bs=1M count=4 2>/dev/null
	boot="mem=64M root=/dev/root rootfstype=hostfs hostfs=$g rw con0=fd:0,fd:1 con=null ssl=null init=/guest.sh"
	check "the init script starts the switch for the guests" sh -c "/etc/init.d/uml-utilities start >/dev/null && [ -S $ctl ]"
	# shellcheck disable=SC2086 # $boot is words
	/root/real-linux.uml $boot umid=pkga me=a myip=10.0.0.1 cow=1 ubdb=/tmp/a.cow,/tmp/back.img \
		eth0=daemon,fe:fd:0a:00:00:01,unix,$ctl </dev/null >/tmp/a.log 2>&1 &
	apid=$!
	i=0
	until grep -q WAITING /tmp/a.log || [ $i -gt 1200 ] || ! kill -0 $apid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	check "the real guest is up on the installed switch" grep -q WAITING /tmp/a.log
	check "uml_mconsole asks the real guest its version" sh -c 'uml_mconsole pkga version | grep -q "^OK Linux"'
	# shellcheck disable=SC2086
	timeout 120 linux $boot umid=pkgb me=b myip=10.0.0.2 peer=10.0.0.1 \
		eth0=daemon,fe:fd:0a:00:00:02,unix,$ctl </dev/null >/tmp/b.log 2>&1
	check "our linux pings the real guest through the installed switch" \
		sh -c 'grep -q "^PINGRC=0" /tmp/b.log && grep -q "2 packets transmitted, 2 packets received" /tmp/b.log'
	check "uml_mconsole halts the real guest" sh -c 'uml_mconsole pkga halt | grep -q "^OK"'
	( sleep 60; kill $apid 2>/dev/null ) &
	wait $apid
	st=$?
	# The real 6.1 kernel sometimes aborts after it has halted (lib/testenv.HaltedCleanly).
	check "the real guest ends when halted (status $st)" sh -c "[ $st = 0 ] || { [ $st = 134 ] && grep -q 'reboot: System halted' /tmp/a.log; }"
	check "the real guest wrote through its COW file" grep -q COWWRITTEN /tmp/a.log
	check "uml_moo merges the real guest's COW file" \
		sh -c 'uml_moo /tmp/a.cow /tmp/merged.img >/dev/null && [ "$(dd if=/tmp/merged.img bs=12 count=1 2>/dev/null)" = gouml-cow-ok ]'
	check "the backing file is untouched" cmp -s -n 4194304 /tmp/back.img /dev/zero
	# shellcheck disable=SC2086
	timeout 120 linux.uml $boot umid=pkgc me=c </dev/null >/tmp/c.log 2>&1
	check "our kernel boots the root as linux.uml too" sh -c 'grep -q "^HELLO from c" /tmp/c.log'
	check "init script stop after the guests" sh -c "/etc/init.d/uml-utilities stop >/dev/null && [ ! -e $ctl ]"
	for l in a b c; do
		[ "$fails" = 0 ] || { echo "--- console of guest $l ---"; cat /tmp/$l.log; }
	done
}

# Waits up to 10 s for a Unix socket to listen at $1 (the switch binds, then listens).
listening() {
	i=0
	until grep -q " $1\$" /proc/net/unix; do
		[ $i -lt 100 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}

# Under systemd as PID 1 of the tree: what the packages do on a systemd machine, and what
# their units do when systemd (not this script) runs them.
systemd_checks() {
	uctl=/run/uml-utilities/uml_switch.ctl sctl=/run/uml_switch/lab.ctl
	check "systemd is PID 1" sh -c '[ "$(cat /proc/1/comm)" = systemd ]'
	check "our packages install under systemd" apt_get install /root/debs/gouml_*.deb /root/debs/gouml-utils_*.deb
	check "the postinst enabled uml-utilities.service" systemctl is-enabled -q uml-utilities.service
	check "the postinst started uml-utilities.service" systemctl is-active -q uml-utilities.service
	check "its switch listens at $uctl" listening $uctl
	check "its socket is uml-net's, mode 777" sh -c "[ \"\$(stat -c '%a %U' $uctl)\" = '777 uml-net' ]"
	pid=$(systemctl show -p MainPID --value uml-utilities.service)
	check "its main process is uml_switch, run as uml-net" sh -c "[ \"\$(readlink /proc/$pid/exe)\" = /usr/bin/uml_switch ] && [ \"\$(stat -c %U /proc/$pid/)\" = uml-net ]"
	check "systemctl stop removes the socket" sh -c "systemctl stop uml-utilities.service && [ ! -e $uctl ]"
	echo 'UML_SWITCH_START="false"' >>/etc/default/uml-utilities
	check "UML_SWITCH_START=false keeps it from starting" sh -c "systemctl start uml-utilities.service && ! systemctl is-active -q uml-utilities.service && [ ! -e $uctl ]"
	sed -i '/^UML_SWITCH_START="false"$/d' /etc/default/uml-utilities
	check "systemctl restart starts it again" sh -c "systemctl restart uml-utilities.service && systemctl is-active -q uml-utilities.service"
	check "... listening" listening $uctl
	check "uml_switch@lab starts" systemctl start uml_switch@lab.service
	check "uml_switch@lab listens at $sctl" listening $sctl
	check "its socket is uml-net:uml-net, mode 770" sh -c "[ \"\$(stat -c '%a %U %G' $sctl)\" = '770 uml-net uml-net' ]"
	check "its directory lets uml-net in only" sh -c "[ \"\$(stat -c '%a %U %G' /run/uml_switch)\" = '750 uml-net uml-net' ]"
	pid=$(systemctl show -p MainPID --value uml_switch@lab.service)
	check "uml_switch@lab runs uml_switch as uml-net" sh -c "[ \"\$(readlink /proc/$pid/exe)\" = /usr/bin/uml_switch ] && [ \"\$(stat -c %U /proc/$pid/)\" = uml-net ]"
	echo 'UML_SWITCH_OPTIONS="-hub"' >/etc/default/uml_switch@hub
	check "uml_switch@hub starts" systemctl start uml_switch@hub.service
	check "uml_switch@hub listens" listening /run/uml_switch/hub.ctl
	check "uml_switch@hub took its options from /etc/default/uml_switch@hub" sh -c \
		"journalctl -q -u uml_switch@hub.service | grep -q 'will be a hub instead of a switch'"
	check "both instances run side by side" sh -c "for u in uml_switch@lab uml_switch@hub uml-utilities; do systemctl is-active -q \$u.service || exit 1; done"
	check "systemctl stop uml_switch@lab removes its socket" sh -c "systemctl stop uml_switch@lab.service && [ ! -e $sctl ] && [ -S /run/uml_switch/hub.ctl ]"
	check "systemctl stop uml_switch@hub" sh -c "systemctl stop uml_switch@hub.service && [ ! -e /run/uml_switch/hub.ctl ]"
	check "systemd-analyze verify finds nothing in the units" sh -c \
		'systemd-analyze verify --man=no /lib/systemd/system/uml-utilities.service /lib/systemd/system/uml_switch@.service'
	check "apt-get remove stops the switch" apt_get remove gouml-utils
	check "... and the unit is gone" sh -c "! systemctl is-active -q uml-utilities.service && [ ! -e $uctl ] && ! grep -qx uml_switch /proc/[0-9]*/comm 2>/dev/null"
	[ "$fails" = 0 ] || systemctl --no-pager --failed
}

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
	check "the real user-mode-linux and uml-utilities install" apt_get install --no-install-recommends user-mode-linux uml-utilities busybox-static
	check "the real linux.uml is there" sh -c 'linux.uml --version 2>/dev/null | grep -qv gouml'
	cp /usr/bin/linux.uml /root/real-linux.uml
	check "our packages replace them" apt_get install /root/debs/gouml_*.deb /root/debs/gouml-utils_*.deb
	check "user-mode-linux is gone" sh -c '! dpkg -s user-mode-linux 2>/dev/null | grep -q "^Status: install ok installed"'
	check "uml-utilities is gone" sh -c '! dpkg -s uml-utilities 2>/dev/null | grep -q "^Status: install ok installed"'
	common_checks
	guest_checks
	check "apt-get purge" apt_get purge gouml gouml-utils
	;;
systemd-prepare)
	check "systemd installs" apt_get install --no-install-recommends systemd
	# The tree's console is a file (pkg/deb): no getty on it.
	ln -sf /dev/null /etc/systemd/system/console-getty.service
	ln -sf /dev/null /etc/systemd/system/container-getty@.service
	;;
systemd)
	systemd_checks
	;;
*)
	echo "usage: inside.sh fresh|replace|systemd-prepare|systemd" >&2
	exit 2
	;;
esac
[ "$fails" = 0 ] && echo "ALL PASSED" || echo "$fails FAILED"
[ "$fails" = 0 ]
