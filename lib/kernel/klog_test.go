package kernel_test

import (
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// TestDmesg: the kernel log reads through syslog(2) as busybox's dmesg does it (with the
// boot messages and what the kernel reported since), clears, and is root's only.
func TestDmesg(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": `#!/bin/sh
dmesg | grep -c 'Linux version'
dmesg | grep -c 'Kernel command line: .*init=/t.sh'
mkdir -p /mnt/x; mount -t hostfs none /mnt/x -o /etc 2>/dev/null
dmesg | grep -q 'hostfs: /etc is not given' && echo hostfs=logged
dmesg -c >/dev/null; dmesg | wc -l
dmesg -n 1 && echo level=ok
su -s /bin/sh -c 'dmesg >/dev/null 2>&1 || echo user=EPERM' nobody 2>/dev/null || echo user=EPERM
/bin/busybox poweroff -f
`, "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n", "/etc/group": "root:x:0:\nnogroup:x:65534:\n"})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "1\n1\nhostfs=logged\n0\nlevel=ok\nuser=EPERM"
	if got := strings.TrimRight(out, "\n"); status != 0 || got != want {
		t.Errorf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, got, want, errs)
	}
}
