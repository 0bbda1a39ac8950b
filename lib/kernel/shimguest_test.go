package kernel_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestShimInGuest runs testdata/shimguest.c in a guest: what the in-guest shim (SIGSYS fast
// path, ptrace attached only per call) must keep true. Ids follow setresuid/setresgid and
// fork; a guest that blocks every signal, or whose handler's sa_mask is full, still gets its
// ids (a seccomp trap with SIGSYS blocked would kill it) and sees the masks it set minus
// SIGSYS; the guest's own SIGSYS handler, SIG_IGN and SIG_DFL behave as on Linux; fork and
// exec never fail with EINTR under a rain of signals whose handler lacks SA_RESTART; vfork,
// posix_spawn and clone onto a new stack work.
func TestShimInGuest(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nfor m in ids mask sigsys storm spawn; do /shimguest $m; echo \"$m: $?\"; done\n/bin/busybox poweroff -f\n",
	})
	buildStatic(t, "testdata/shimguest.c", filepath.Join(root, "shimguest"))
	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "quiet", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	want := []string{
		"root 0 0 0 0\n",
		"user 1000 1001 50 51\n",
		"child 1000 1001\n",
		"ids: 0\n",
		"mask uid=0 sigsys=0 usr1=1\n",
		"handler uid+1=1 samask-sigsys=0 samask-usr1=1\n",
		"mask: 0\n",
		"sigsys same=1 got=31 code=0 uid=0\n",
		"ignored\n",
		"Bad system call\n", // the shell reports its child killed by SIGSYS
		"sigsys: 159\n",     // 128+31, as on Linux
		"storm forks=300 eintr=0 bad=0 signals>0=1\n",
		"storm: 0\n",
		"vforked\n", "vfork status=0\n",
		"spawned\n", "spawn status=0\n",
		"clone exit=9\n",
		"spawn: 0\n",
	}
	if got := strings.Join(strings.SplitAfter(out, "\n"), ""); got != strings.Join(want, "") {
		t.Fatalf("got:\n%s\nwant:\n%s\nstderr:\n%s", got, strings.Join(want, ""), errs)
	}
}
