#!/bin/bash
# The workloads of bench/workloads/run.sh, run inside the Debian root: natively in a chroot,
# as init of our linux and as init of the real linux.uml. Prints one line per workload:
#   WL NAME SECONDS CHECK...   (best of REPS; CHECK is what the workload produced)
#   WL NAME FAILED WHY         (the workload failed or its result was wrong)
#   WL NAME ABSENT WHY         (the tool it needs is not in the root)
# Timing uses bash's $EPOCHREALTIME, so no process is started to read the clock. Each
# workload's timed part runs under timeout(1) so that none can hang the run.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/root
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
umask 022
export D=/bench/data
REPS=$(cat /bench/reps 2>/dev/null || echo 3)
TMO=$(cat /bench/timeout 2>/dev/null || echo 300)
cd /

# Each workload NAME has body_NAME (timed) and check_NAME (prints what is compared between
# the three runs), and may have pre_NAME and post_NAME (untimed, around each repetition).

pre_tar_extract() { rm -rf /tmp/x && mkdir /tmp/x; }
body_tar_extract() { tar -C /tmp/x -xf $D/src.tar; }
check_tar_extract() { echo "files=$(find /tmp/x | wc -l) bytes=$(du -sb --apparent-size /tmp/x/usr/include | cut -f1)"; }
post_tar_extract() { rm -rf /tmp/x; }

pre_rm_rf() { rm -rf /tmp/x && mkdir /tmp/x && tar -C /tmp/x -xf $D/src.tar && [ "$(find /tmp/x | wc -l)" -gt 1000 ]; }
body_rm_rf() { rm -rf /tmp/x; }
check_rm_rf() { if [ -e /tmp/x ]; then echo "left=$(find /tmp/x | wc -l)"; else echo gone; fi; }

# a shell loop that forks and execs: a command and a command substitution per round
body_fork_exec() {
	local i s=0
	for ((i = 1; i <= 150; i++)); do
		/bin/true || return 1
		s=$((s + $(/bin/echo $i)))
	done
	echo "$s" >/tmp/fe.out
}
check_fork_exec() { echo "sum=$(cat /tmp/fe.out)"; }

body_grep_r() { grep -rE 'struct|define|^sub ' /usr/include /usr/share/perl >/tmp/grep.out; }
check_grep_r() { echo "lines=$(wc -l </tmp/grep.out)"; }
post_grep_r() { rm -f /tmp/grep.out; }

body_find_du() { find /usr /etc /var/lib >/tmp/find.out && du -sk /usr/share /usr/include >/tmp/du.out; }
check_find_du() { echo "entries=$(wc -l </tmp/find.out) du=$(cut -f1 /tmp/du.out | paste -sd+)"; }

pre_dpkg_i() { dpkg -P gouml-bench >/dev/null 2>&1 || true; }
# --force-unsafe-io: dpkg fsyncs every file, which would measure the host disk, not the system
body_dpkg_i() { dpkg --force-unsafe-io -i $D/bench.deb >/tmp/dpkg.out 2>&1; }
check_dpkg_i() { echo "status=$(dpkg-query -W -f='${db:Status-Abbrev}' gouml-bench | tr -d ' ')" \
	"files=$(dpkg -L gouml-bench | wc -l) onDisk=$(find /usr/share/gouml-bench -type f | wc -l)"; }
post_dpkg_i() { dpkg -P gouml-bench >/dev/null 2>&1; }

needs_python3=python3
body_python3() { python3 -c 'import json, re, subprocess, email.parser, http.client, argparse, decimal, sqlite3; print(json.dumps([1]))' >/tmp/py.out; }
check_python3() { echo "out=$(cat /tmp/py.out)"; }

needs_gcc=gcc
body_gcc() { gcc -O2 -o /tmp/sysbench $D/sysbench.c && gcc -O2 -o /tmp/hello $D/hello.c; }
check_gcc() { echo "hello=$(/tmp/hello) sysbench=$([ -x /tmp/sysbench ] && echo built)"; }
post_gcc() { rm -f /tmp/sysbench /tmp/hello; }

needs_git_status=git
pre_git_status() { cd $D/repo && git status --porcelain >/dev/null; } # this system's stat data into the index
body_git_status() { for i in 1 2 3 4 5; do git status --porcelain >/tmp/gs.out || return 1; done; }
check_git_status() { echo "changes=$(wc -l </tmp/gs.out) head=$(git rev-parse --short HEAD)"; }
post_git_status() { cd /; }

needs_git_checkout=git
pre_git_checkout() { cd $D/repo && git status --porcelain >/dev/null; }
body_git_checkout() { git checkout -q other && git checkout -q main; }
check_git_checkout() { echo "changes=$(git status --porcelain | wc -l) head=$(git rev-parse --short HEAD) files=$(git ls-files | wc -l)"; }
post_git_checkout() { cd /; }

run() {
	local w=$1 best= check= r t0 t1 us rc tool
	eval "tool=\${needs_$w:-}"
	if [ -n "$tool" ] && ! command -v "$tool" >/dev/null; then
		echo "WL $w ABSENT no-$tool-in-root"
		return
	fi
	for ((r = 1; r <= REPS; r++)); do
		if declare -F pre_$w >/dev/null && ! pre_$w; then
			echo "WL $w FAILED setup"
			return
		fi
		rc=0
		rm -f /tmp/wl.time
		# the clock is read in the child, so timeout's and bash's start-up are not counted
		timeout "$TMO" bash -c "$(declare -f body_$w)"'
			t0=$EPOCHREALTIME; body_'$w' || exit; t1=$EPOCHREALTIME
			echo "$t0 $t1" >/tmp/wl.time' >/tmp/wl.log 2>&1 || rc=$?
		read -r t0 t1 </tmp/wl.time
		if [ $rc != 0 ]; then
			echo "WL $w FAILED status=$rc $(tail -c 200 /tmp/wl.log | tr -s '\n\t ' ' ')"
			declare -F post_$w >/dev/null && post_$w
			return
		fi
		us=$((${t1/./} - ${t0/./}))
		if [ -z "$best" ] || [ "$us" -lt "$best" ]; then best=$us; fi
		local c
		c=$(check_$w 2>&1 | tr -s '\n\t ' ' ')
		if [ -n "$check" ] && [ "$c" != "$check" ]; then
			echo "WL $w FAILED differs between repetitions: $check / $c"
			return
		fi
		check=$c
		declare -F post_$w >/dev/null && post_$w
	done
	printf 'WL %s %d.%06d %s\n' "$w" $((best / 1000000)) $((best % 1000000)) "$check"
}

echo "WL-START"
for w in ${WORKLOADS:-$(cat /bench/workloads)}; do run "$w"; done
echo "WL-END"
