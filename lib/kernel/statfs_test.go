package kernel_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// statfsScript mounts a file system of each kind both kernels have and prints statfs of
// them (testdata/statfs/fsinfo.c) and their /proc/mounts lines.
const statfsScript = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /mnt/t /mnt/h /mnt/sub
mount -t tmpfs -o nosuid,noexec,size=1m tmpfs /mnt/t
mount -t hostfs -o sub none /mnt/h
mount -o remount,ro,nodev /mnt/h
echo '=== statfs'
/fsinfo / /proc /sys /mnt/t /mnt/h
grep -E ' /mnt/(t|h) ' /proc/mounts | cut -d' ' -f1-4
echo '=== end'
`

var statfsBlock = regexp.MustCompile(`(?s)=== statfs\r?\n(.*?)=== end`)

// TestStatfsAgainstRealLinuxUML: statfs's type, name length and flags of the root, /proc,
// /sys, a tmpfs and a hostfs mount, and the mounts' options, as the real linux.uml shows them
// (both boot the same directory as a hostfs root).
func TestStatfsAgainstRealLinuxUML(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/s.sh":      statfsScript,
		"/real.sh":   "#!/bin/sh\n/s.sh\nhalt -f\n",
		"/ours.sh":   "#!/bin/sh\n/s.sh\n/bin/busybox poweroff -f\n",
		"/etc/fstab": "",
	})
	os.Chmod(root, 0o755)
	buildStatic(t, "testdata/statfs/fsinfo.c", filepath.Join(root, "fsinfo"))
	os.MkdirAll(filepath.Join(root, "sub"), 0o755)
	real := (&testenv.UML{Root: root, Init: "/real.sh", Timeout: 2 * time.Minute}).Run(t)
	ours, errs, status := run{args: []string{"root=/dev/root", "rootfstype=hostfs", "hostfs=" + root, "rw",
		"init=/ours.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 {
		t.Fatalf("linux exited %d\n%s\nstderr:\n%s", status, ours, errs)
	}
	rm, om := statfsBlock.FindStringSubmatch(real), statfsBlock.FindStringSubmatch(ours)
	if rm == nil || om == nil {
		t.Fatalf("no output block\nreal:\n%s\nours:\n%s\nstderr:\n%s", real, ours, errs)
	}
	want, got := strings.ReplaceAll(rm[1], "\r\n", "\n"), strings.ReplaceAll(om[1], "\r\n", "\n")
	if got != want {
		t.Errorf("statfs differs from linux.uml's (- real, + ours):\n%s", lineDiff(want, got))
	}
}
