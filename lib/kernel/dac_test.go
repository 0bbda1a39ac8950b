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

// TestDAC is the guest-DAC matrix (testdata/dac/matrix.c): files and directories of every
// mode, owned by 1001:50, and each operation on them (open for reading, writing, appending,
// truncating; truncate, access, chmod, exec; listing, chdir, lookups, creating, removing,
// renaming, linking in a directory, sticky ones included) tried as the owner, a member of
// the group by gid and by a supplementary group, someone else and root; then the cases of
// a distribution's tree (/etc/shadow 0640 root:shadow, /etc/passwd, /root 0700, /tmp 1777,
// a home). The program runs natively as host root, its children becoming real host users
// with setuid, and in a guest, its children becoming guest users: the answers must be the
// same, line by line.
func TestDAC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the native run needs host root (its children become other users)")
	}
	testenv.Tool(t, "gcc")
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // the native users must reach their scratch directory
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n" +
			"bob:x:1002:50::/home/bob:/bin/sh\ncarol:x:1003:1003::/tmp:/bin/sh\ndave:x:1004:1004::/tmp:/bin/sh\n",
		"/etc/group": "root:x:0:\nshadow:x:42:\nstaff:x:50:carol\nusers:x:60:carol,dave\n",
		"/t.sh": "#!/bin/sh\nmkdir /scratch && chmod 755 /scratch && cd /scratch && " +
			"{ echo '=== begin'; /dac/matrix /dac/tiny 2>&1; echo \"=== end $?\"; }\ncd /\n/bin/busybox poweroff -f\n",
	})
	os.Mkdir(filepath.Join(root, "dac"), 0o755)
	for _, c := range [][]string{
		{"-O2", "-Wall", "-static", "-o", filepath.Join(root, "dac/matrix"), "testdata/dac/matrix.c"},
		{"-O2", "-static", "-nostdlib", "-o", filepath.Join(root, "dac/tiny"), "testdata/dac/tiny.c"},
	} {
		if out, err := exec.Command("gcc", c...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", c, err, out)
		}
	}

	scratch := filepath.Join(dir, "native")
	os.Mkdir(scratch, 0o755)
	cmd := exec.Command(filepath.Join(root, "dac/matrix"), filepath.Join(root, "dac/tiny"))
	cmd.Dir = scratch
	nb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("native run: %v\n%s", err, nb)
	}
	native := string(nb)

	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 {
		t.Fatalf("linux exited with status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	_, rest, ok := strings.Cut(out, "=== begin\n")
	guest, end, ok2 := strings.Cut(rest, "=== end ")
	if !ok || !ok2 || !strings.HasPrefix(end, "0\n") {
		t.Fatalf("no complete output of the matrix in the guest's console:\n%s\nstderr:\n%s", out, errs)
	}
	if guest != native {
		t.Errorf("guest differs from native (- native, + guest):\n%s", lineDiffOnly(native, guest))
	}
	if n := strings.Count(native, "\n"); n < 2000 {
		t.Errorf("only %d cases ran", n)
	}
}

// lineDiffOnly is lineDiff without the equal lines: the matrix has thousands.
func lineDiffOnly(a, b string) string {
	var sb strings.Builder
	for _, l := range strings.Split(lineDiff(a, b), "\n") {
		if strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-") {
			sb.WriteString(l + "\n")
		}
	}
	return sb.String()
}
