package kernel_test

import (
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// crossScript follows symlinks from the root's tree into /proc and /dev and ".." out of
// them, as Debian's /etc/mtab -> ../proc/self/mounts and /dev/fd -> /proc/self/fd do. Each
// line is what Linux prints.
const crossScript = `#!/bin/sh
ln -s ../proc/self/mounts /etc/mtab
grep -q '^proc /proc proc ' /etc/mtab && echo mtab=ok
ln -s /proc/self /selflink
cat /selflink/comm
mkdir /d
ln -s ../proc /d/up
cat /d/up/self/comm
ln -s /proc /p
cat /p/../etc/hostname
cat /proc/../etc/hostname
cat /proc/self/../../etc/hostname
ln -s /dev/null /nul
echo gone > /nul
wc -c < /nul
ln -s /dev /devl
test -c /devl/null && echo devl=ok
cat /devl/../etc/hostname
ln -s /proc/self/fd /fdl
test -e /fdl/0 && echo fdl=ok
cd /p && cd .. && pwd
cd /d/up/self && cat comm # self is the shell: chdir followed it
cd /
ln -s /etc/hostname /h1
ln -s /h1 /h2
cat /h2
ln -s nowhere /dangle
cat /dangle 2>/dev/null || echo dangle=ENOENT
ln -s loop /loop
cat /loop 2>/dev/null || echo loop=ELOOP
ls -d /nul/ 2>/dev/null || echo nul/=ENOTDIR
ls -d /dev/null/ 2>/dev/null || echo null/=ENOTDIR
[ -h /dev/fd ] && [ -h /dev/stdin ] && echo devlinks=symlinks
readlink /dev/fd; readlink /dev/stdin
ln -s /proc/self/fd /dev/fd 2>/dev/null || echo ln=EEXIST
/bin/busybox poweroff -f
`

var crossWant = []string{
	"mtab=ok", "cat", "cat", "guesthost", "guesthost", "guesthost", "0", "devl=ok",
	"guesthost", "fdl=ok", "/", "t.sh", "guesthost", "dangle=ENOENT", "loop=ELOOP", "nul/=ENOTDIR",
	"null/=ENOTDIR", "devlinks=symlinks", "/proc/self/fd", "/proc/self/fd/0", "ln=EEXIST",
}

// TestSymlinksAcrossFileSystems: a symlink in the root that leads into /proc or /dev (or ".."
// out of them) reaches what it names, as on Linux, not the root's empty /proc directory.
func TestSymlinksAcrossFileSystems(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": crossScript, "/etc/hostname": "guesthost\n"})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(crossWant, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s\nstderr:\n%s", out, strings.Join(crossWant, "\n"), errs)
	}
}
