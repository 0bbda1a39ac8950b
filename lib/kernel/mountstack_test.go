package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// stackScript stacks a ubd device's ext4 file system between two tmpfs mounts on one
// directory: each hides the one below, umount uncovers them in the reverse order, and what
// the guest wrote to the image while it was covered and uncovered goes back to it.
const stackScript = `#!/bin/sh
mkdir -p /mnt/i
mount -t tmpfs tmpfs /mnt/i && echo below > /mnt/i/tf && echo tmpfs=mounted
mount /dev/ubdb /mnt/i && cat /mnt/i/img
ls /mnt/i/tf 2>/dev/null || echo tf=hidden
echo written > /mnt/i/new
mount -t tmpfs tmpfs /mnt/i && ls /mnt/i | wc -l
grep -c ' /mnt/i ' /proc/mounts
umount /mnt/ubdb 2>/dev/null || echo umount-missing
umount /mnt/i && cat /mnt/i/img /mnt/i/new
umount /mnt/i && cat /mnt/i/tf
umount /mnt/i && ls /mnt/i | wc -l
umount /mnt/i 2>/dev/null || echo umount-bare=EINVAL
sync
/bin/busybox poweroff -f
`

// TestStackedImageMount: a ubd device's file system mounted on a tmpfs mount point and a
// tmpfs on it, as Linux stacks them (mountstack.go; conform program mount_stack covers binds
// and tmpfs against the host's own).
func TestStackedImageMount(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.ext4")
	debugfs := testenv.Tool(t, "debugfs")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "img"), []byte("from-the-image\n"), 0o644)
	img := filepath.Join(dir, "disk.img")
	if out, err := exec.Command(mkfs, "-q", "-d", src, img, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": stackScript})
	out, errs, status := run{timeout: 60 * time.Second, args: []string{"ubd0=" + root, "rw", "ubd1=" + img,
		"init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := []string{"tmpfs=mounted", "from-the-image", "tf=hidden", "0", "3", "umount-missing",
		"from-the-image", "written", "below", "0", "umount-bare=EINVAL"}
	if status != 0 || strings.TrimRight(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, strings.Join(want, "\n"), errs)
	}
	got, err := exec.Command(debugfs, "-R", "cat /new", img).Output()
	if err != nil || string(got) != "written\n" {
		t.Errorf("the file written while the image was mounted is not in it: %q %v", got, err)
	}
}
