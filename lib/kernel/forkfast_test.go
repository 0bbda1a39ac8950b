package kernel_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestForkFast runs testdata/forkfast.c as init: children of forks the kernel lets run
// without ptrace (forkfast.go) get their parent's credentials and root as they were at the
// fork, whenever they first call (after the parent dropped its privileges, after it died,
// after thousands of other forks), can be signalled before that call by whoever may, and
// get nothing from a token they copied or forged.
func TestForkFast(t *testing.T) {
	root := testenv.BusyboxRoot(t, nil)
	buildStatic(t, "testdata/forkfast.c", filepath.Join(root, "forkfast"))
	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "rw", "init=/forkfast", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || !strings.HasSuffix(out, "done\n") {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	cases := 0
	for _, l := range strings.Split(strings.TrimSuffix(out, "done\n"), "\n") {
		if l == "" {
			continue
		}
		if !strings.HasSuffix(l, ": OK") {
			t.Errorf("%s", l)
		}
		cases++
	}
	if cases != 9 {
		t.Errorf("%d cases ran, want 9:\n%s", cases, out)
	}
}
