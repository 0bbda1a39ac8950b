package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// TestPathPlaceholders checks the placeholders (placeholder.go) from the host, through the
// root of a guest process: the guest's mount points (a tmpfs at /mnt) and the kernel's file
// systems (/proc, /sys) lie on other mounts than the root's tree copy, which shows the same
// files there; other directories do not. Then, in the guest, the kernel's own lookups are
// unaffected: after umount the root's files below /mnt are there, can be renamed inside it,
// and a mount point can be removed after its umount.
func TestPathPlaceholders(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("looks into a guest process's root from the host: root only")
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n" +
			"mount -t tmpfs none /mnt && /phwait\n" +
			"umount /mnt\n" +
			"cat /mnt/marker && mv /mnt/marker /mnt/marker2 && ls /mnt\n" +
			"rm -rf /mp; mkdir /mp && mount -t tmpfs none /mp && umount /mp && rmdir /mp && echo rmdir ok\n" +
			"/bin/busybox poweroff -f\n",
	})
	gcc := testenv.Tool(t, "gcc")
	if b, err := exec.Command(gcc, "-O2", "-static", "-o", filepath.Join(root, "phwait"), "testdata/phwait.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	os.RemoveAll(filepath.Join(root, "mp"))
	for _, d := range []string{"mnt", "proc", "sys", "dev"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	if err := os.WriteFile(filepath.Join(root, "mnt", "marker"), []byte("under the mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boot := func(asUser bool, umlDir string) {
		t.Helper()
		os.Remove(filepath.Join(root, "go"))
		checked := make(chan string, 1)
		go func() { checked <- lookFromHost(root) }()
		out, errs, status := run{asUser: asUser, timeout: 120 * time.Second,
			args: []string{"ubd0=" + root, "init=/t.sh", "rw", "debug", "uml_dir=" + umlDir}}.do(t)
		if msg := <-checked; msg != "" {
			t.Errorf("as user %v: %s", asUser, msg)
		}
		if status != 0 || !strings.Contains(out, "under the mount\n") || !strings.Contains(out, "marker2") ||
			!strings.Contains(out, "rmdir ok\n") || strings.Contains(errs, "placeholder at") {
			t.Fatalf("as user %v: status %d\nstdout:\n%s\nstderr:\n%s", asUser, status, out, errs)
		}
	}
	boot(false, t.TempDir())
	// again as an ordinary host user (the tree becomes that user's); the marker back first
	os.Rename(filepath.Join(root, "mnt", "marker2"), filepath.Join(root, "mnt", "marker"))
	boot(true, unprivileged(t, root))
}

// lookFromHost finds the guest's phwait, compares mount ids below its root, and lets it go.
func lookFromHost(root string) (msg string) {
	defer os.WriteFile(filepath.Join(root, "go"), nil, 0o644)
	deadline := time.Now().Add(90 * time.Second)
	pid := 0
	for pid == 0 && time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			n, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if b, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil && string(b) == "phwait\n" {
				pid = n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid == 0 {
		return "the guest's phwait never showed up"
	}
	base := "/proc/" + strconv.Itoa(pid) + "/root"
	mnt := func(p string) (uint64, error) {
		var stx unix.Statx_t
		err := unix.Statx(unix.AT_FDCWD, base+p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx)
		return stx.Mnt_id, err
	}
	top, err := mnt("/")
	if err != nil {
		return "statx of the guest's root: " + err.Error()
	}
	var bad []string
	for _, p := range []string{"/mnt", "/proc", "/sys", "/dev", "/mnt/marker"} {
		if m, err := mnt(p); err != nil || m == top {
			bad = append(bad, p+" is on the root tree's mount")
		}
	}
	for _, p := range []string{"/etc", "/bin/busybox", "/mnt/.."} {
		if m, err := mnt(p); err != nil || m != top {
			bad = append(bad, p+" is not on the root tree's mount")
		}
	}
	if b, err := os.ReadFile(base + "/mnt/marker"); err != nil || string(b) != "under the mount\n" {
		bad = append(bad, "the placeholder at /mnt does not show the root's files")
	}
	return strings.Join(bad, "; ")
}
