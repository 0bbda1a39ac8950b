package kernel_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/kernel/internal/shim"
	"github.com/gouml/gouml/lib/testenv"
)

// TestShimRatchet runs testdata/ratchet.c in a guest: a path stat from the shim's first
// syscall site reaches the kernel while the process is guest root without chroot, and fails
// in the filter (the ratchet, ratchet.go) once it is not: after setuid (in every thread, in
// a child forked afterwards, after exec, not in a child forked before), setresuid, setfsuid,
// chroot and a set-user-ID exec, and still after it becomes root again; not after setgid
// alone. A thread with a filter of its own makes setuid fail with EAGAIN, with nothing
// changed. As root and as an ordinary host user.
func TestShimRatchet(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n/ratchet\necho \"ratchet: $?\"\n/bin/busybox poweroff -f\n",
	})
	gcc := testenv.Tool(t, "gcc")
	args := []string{"-O2", "-static", "-pthread", "-mno-red-zone", "-Wall", "-o", filepath.Join(root, "ratchet"),
		fmt.Sprintf("-DG1=%#xUL", shim.Addr+shim.SyscallOff), "testdata/ratchet.c"}
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	boot := func(asUser bool, umlDir string) {
		t.Helper()
		out, errs, status := run{asUser: asUser, timeout: 120 * time.Second,
			args: []string{"ubd0=" + root, "init=/t.sh", "rw", "quiet", "uml_dir=" + umlDir}}.do(t)
		if status != 0 || !strings.Contains(out, "ratchet: 0 failures\n") || !strings.Contains(out, "ratchet: 0\n") {
			t.Fatalf("as user %v: status %d\nstdout:\n%s\nstderr:\n%s", asUser, status, out, errs)
		}
	}
	boot(false, t.TempDir())
	if os.Geteuid() == 0 {
		os.Remove(filepath.Join(root, "ratchet-suid"))
		boot(true, unprivileged(t, root))
	}
}
