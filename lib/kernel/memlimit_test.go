package kernel_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestMemLimit: mem= limits one allocation as Linux's default overcommit heuristic does on
// a machine of that size (the real linux.uml refuses a 150 MB malloc with mem=64M); what
// Linux does not charge, and smaller allocations, succeed.
func TestMemLimit(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: apt-get install gcc")
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n/memlimit\n/bin/busybox poweroff -f\n",
	})
	if b, err := exec.Command("gcc", "-O2", "-static", "-o", filepath.Join(root, "memlimit"), "testdata/memlimit/memlimit.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "mem=64M", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "private 150M: Cannot allocate memory\nshared 150M: Cannot allocate memory\nPROT_NONE 150M: ok\n" +
		"MAP_NORESERVE 150M: ok\nprivate 16M: ok\nmalloc 150M: failed\nmalloc 8M: ok\n" +
		"sbrk 150M: Cannot allocate memory\nbreak kept: yes\nsbrk 1M: ok\n"
	if status != 0 || !strings.Contains(out, want) {
		t.Fatalf("status %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
}

// TestMemLimitSum: when the guest's processes together hold more than mem=, the kernel
// kills the largest, as Linux's OOM killer does, and says so in the kernel log; free
// shows the machine's size. The processes wait to be killed: no timing decides the result.
func TestMemLimitSum(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: apt-get install gcc")
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmount -t proc proc /proc\nfree | awk '/Mem:/ {print \"total\", $2}'\n/memsum\n" +
			"dmesg | grep -c 'Out of memory: Killed process'\n/bin/busybox poweroff -f\n",
	})
	if b, err := exec.Command("gcc", "-O2", "-static", "-o", filepath.Join(root, "memsum"), "testdata/memlimit/memsum.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	out, errs, status := run{timeout: 60 * time.Second, args: []string{"ubd0=" + root, "rw", "mem=64M", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "total 65536\nfirst child ended: Killed\n1\n"
	if status != 0 || !strings.Contains(out, want) {
		t.Fatalf("status %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
}

// TestMeminfoFollowsGuest: /proc/meminfo and sysinfo (so free's used, shared and buff/cache)
// follow the guest's processes and tmpfs files as Linux's do (testdata/memlimit/meminfo.c):
// a child's 40 MB of anonymous memory shows in AnonPages and lowers MemFree and
// MemAvailable by its RssAnon, a 20 MB tmpfs file shows in Shmem and Cached and lowers
// MemAvailable, and both come back when they go. The child reports when its memory is
// touched: no timing decides the result.
func TestMeminfoFollowsGuest(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: apt-get install gcc")
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmount -t proc proc /proc\nmkdir -p /shm\nmount -t tmpfs tmpfs /shm\n/meminfo /shm\n/bin/busybox poweroff -f\n",
	})
	if b, err := exec.Command("gcc", "-O2", "-static", "-o", filepath.Join(root, "meminfo"), "testdata/memlimit/meminfo.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	out, errs, status := run{timeout: 60 * time.Second, args: []string{"ubd0=" + root, "rw", "mem=256M", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "child RssAnon about 40 MB: yes\nAnonPages grew by it: yes\nMemFree fell by it: yes\nMemAvailable fell by it: yes\n" +
		"Shmem grew by the tmpfs file: yes\nCached grew by it: yes\nMemAvailable fell by it: yes\nsysinfo sharedram is Shmem: yes\nall back: yes\n"
	if status != 0 || !strings.Contains(out, want) {
		t.Fatalf("status %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
}
