#!/bin/sh
# init of the guests of inside.sh's guest_checks (a busybox hostfs root). The kernel's command
# line gives me, and optionally cow (write a marker to ubdb), myip (eth0's address) and peer
# (ping it, then power off); a guest with an address and no peer runs until it is halted.
# shellcheck disable=SC2154 # the variables come from the kernel's command line
mount -t proc proc /proc
[ -e /dev/null ] || mount -t devtmpfs none /dev
if [ -n "$cow" ]; then
	printf 'gouml-cow-ok' | dd of=/dev/ubdb bs=512 count=1 conv=sync 2>/dev/null && sync && echo COWWRITTEN
fi
if [ -n "$myip" ]; then
	ifconfig lo up
	ifconfig eth0 "$myip" netmask 255.255.255.0 up && echo NETUP
fi
if [ -n "$peer" ]; then
	ping -c 2 -W 5 "$peer"
	echo "PINGRC=$?"
elif [ -n "$myip" ]; then
	echo WAITING
	while :; do sleep 1; done
fi
echo "HELLO from $me"
poweroff -f
