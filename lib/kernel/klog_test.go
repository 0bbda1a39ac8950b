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

// TestDevKmsg: /dev/kmsg as dmesg -w and systemd use it. A write is logged (a "<N>" prefix
// sets the level, the facility becomes the user's), dmesg shows it, a read returns one
// record in Linux's "PREFIX,SEQ,USEC,-;TEXT" form from the oldest on, and a read past the
// end waits for the next message. It stats as the character device 1:11.
func TestDevKmsg(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\necho '<5>hello from the guest' > /dev/kmsg\necho 'plain line' > /dev/kmsg\n" +
			"dmesg | tail -2 | sed 's/^\\[[ 0-9.]*\\] //'\n" +
			"n=$(dmesg | wc -l)\n" +
			"{ sleep 1; echo '<3>late' > /dev/kmsg; } &\n" +
			"dd if=/dev/kmsg bs=2048 count=$((n + 1)) 2>/dev/null | tail -3 | sed 's/^\\([0-9]*\\),[0-9]*,[0-9]*,-;/\\1 /'\n" +
			"stat -c '%F %t:%T %a' /dev/kmsg\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "hello from the guest\nplain line\n13 hello from the guest\n12 plain line\n11 late\ncharacter special file 1:b 644\n"
	if status != 0 || !strings.HasSuffix(out, want) {
		t.Fatalf("status %d\nstdout:\n%s\nwant (at the end):\n%s\nstderr:\n%s", status, out, want, errs)
	}
}
