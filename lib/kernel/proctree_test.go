package kernel_test

import (
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// procSysScript lists and writes /proc's own tree as Linux shows it.
const procSysScript = `#!/bin/sh
ls -1 /proc/sys
ls -1 /proc/sys/kernel
cat /proc/sys/kernel/ostype
echo newname > /proc/sys/kernel/hostname
hostname
cat /proc/sys/kernel/domainname
ls /proc | grep -v '^[0-9]' | tr '\n' ' '; echo
stat -c '%a %F' /proc/sys /proc/sys/kernel/hostname /proc/sys/kernel/ostype
cat /proc/sys/nothing 2>/dev/null || echo nothing=ENOENT
cat /proc/sys/kernel 2>/dev/null || echo kernel=EISDIR
/bin/busybox poweroff -f
`

var procSysWant = []string{
	"kernel", "net",
	"ctrl-alt-del", "domainname", "hostname", "osrelease", "ostype",
	"Linux",
	"newname",
	"(none)",
	"cmdline cpuinfo filesystems loadavg meminfo mounts net partitions self stat swaps sys thread-self uptime version ",
	"555 directory", "644 regular empty file", "444 regular empty file",
	"nothing=ENOENT", "kernel=EISDIR",
}

// TestProcSysTree: /proc/sys is listed, read and written from the kernel's /proc tree, as on
// Linux (the hostname sysctl changes the host name).
func TestProcSysTree(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": procSysScript})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if got := strings.TrimRight(out, "\n"); status != 0 || got != strings.Join(procSysWant, "\n") {
		t.Errorf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, got, strings.Join(procSysWant, "\n"), errs)
	}
}
