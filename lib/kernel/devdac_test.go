package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// TestDeviceNodeDAC is the permission matrix of device nodes (testdata/devdac/devdac.c):
// root gives /dev/null, zero and full owners and modes with chown and chmod, and each kind
// of user opens them each way; then devtmpfs's own modes (the console and tty0 0600,
// /dev/kmsg 0644) keep a user out. Natively the program runs as host root on nodes of the
// same numbers and modes made with mknod in a scratch directory, its children becoming real
// host users; in the guest on the kernel's own /dev, its children becoming guest users. The
// kernel's devices are host objects that the host opens for anyone in the guest, so the
// guest's answers come from its chown and chmod alone: they must be the same, line by line.
func TestDeviceNodeDAC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the native run needs host root (mknod, and its children become other users)")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		if testenv.Required() {
			t.Fatal("gcc not found: apt-get install gcc")
		}
		t.Skip("gcc not found")
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n{ echo '=== begin'; /devdac /dev 2>&1; echo \"=== end $?\"; }\n/bin/busybox poweroff -f\n",
	})
	prog := filepath.Join(root, "devdac")
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-static", "-o", prog, "testdata/devdac/devdac.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}

	nodes := t.TempDir()
	for d := nodes; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // the native users must reach the nodes
	}
	for _, n := range []struct {
		name         string
		major, minor uint32
		perm         uint32
	}{{"null", 1, 3, 0o666}, {"zero", 1, 5, 0o666}, {"full", 1, 7, 0o666}, {"console", 5, 1, 0o600},
		{"tty0", 4, 0, 0o600}, {"kmsg", 1, 11, 0o644}} {
		p := filepath.Join(nodes, n.name)
		if err := unix.Mknod(p, unix.S_IFCHR|n.perm, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Skipf("mknod: %v", err)
		}
		os.Chmod(p, os.FileMode(n.perm)) // past the umask
	}
	nb, err := exec.Command(prog, nodes).CombinedOutput()
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
	if n := strings.Count(native, " ok\n"); n < 100 || strings.Count(native, " EACCES\n") < 100 {
		t.Errorf("the matrix is too small or one-sided: %d cases allowed\n%s", n, native)
	}
}
