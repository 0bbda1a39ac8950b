package kernel_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// TestMissingDeviceIsNoFile: writing to a device the machine does not have (a console
// line that is not configured, a ubd unit whose file failed to open, a disk of a kind gouml
// never has) fails as on Linux, with ENODEV or ENXIO, and never leaves a regular file in
// the root's /dev on the host. A name in /dev that is no device stays an ordinary file.
func TestMissingDeviceIsNoFile(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n" +
			"for d in tty1 tty63 ttyS2 ubdb ubdc ubdb1 sda loop0; do sh -c \"echo x > /dev/$d\" 2>&1; done\n" +
			"dd if=/dev/zero of=/dev/ubdb bs=512 count=1 2>&1 | head -1\n" +
			"cat /dev/ubdc 2>&1\n" +
			"echo x > /dev/plain && echo plain-ok\n" +
			"/bin/busybox poweroff -f\n",
	})
	missing := filepath.Join(t.TempDir(), "absent.img")
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "ubdb=" + missing, "init=/t.sh",
		"uml_dir=" + t.TempDir()}}.do(t)
	want := []string{
		"sh: can't create /dev/tty1: No such device",
		"sh: can't create /dev/tty63: No such device",
		// serial lines default to pty channels, as on the real kernel, whose open fails on a
		// host without BSD ptys the way the real one's does (getmaster: ENOENT)
		"sh: can't create /dev/ttyS2: nonexistent directory",
		"sh: can't create /dev/ubdb: No such device or address",
		"sh: can't create /dev/ubdc: No such device or address",
		"sh: can't create /dev/ubdb1: No such device or address",
		"sh: can't create /dev/sda: No such device or address",
		"sh: can't create /dev/loop0: No such device or address",
		"dd: can't open '/dev/ubdb': No such device or address",
		"cat: can't open '/dev/ubdc': No such device or address",
		"plain-ok",
	}
	if status != 0 || !strings.Contains(out, strings.Join(want, "\n")+"\n") {
		t.Errorf("status %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", status, out, strings.Join(want, "\n"), errs)
	}
	ents, err := os.ReadDir(filepath.Join(root, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "plain" {
			t.Errorf("the guest left /dev/%s in the root on the host", e.Name())
		}
	}
}
