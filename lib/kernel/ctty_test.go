package kernel_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestCttyBesideSameNumberedConsole: the console is a pty of the host's devpts, and the
// guest's own devpts counts from 0 too, so a guest session's controlling terminal and the
// console it inherited as stdio can have the same number, which is all /proc/PID/stat says
// of a terminal. /dev/tty must still open the guest's pty. The host side is made to collide
// on purpose: linux runs in a mount namespace with a fresh devpts instance, so its console
// is the host's pts 0, as the guest's first pty is the guest's. (CI met this by chance.)
func TestCttyBesideSameNumberedConsole(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a fresh host devpts instance needs host root")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		if testenv.Required() {
			t.Fatal("gcc not found: apt-get install gcc")
		}
		t.Skip("gcc not found: apt-get install gcc")
	}
	unshare := testenv.Tool(t, "unshare")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	root := testenv.BusyboxRoot(t, nil)
	bin := filepath.Join(root, "conform")
	os.Mkdir(bin, 0o755)
	compileConform(t, []string{"testdata/conform/pty.c"}, bin)
	os.WriteFile(filepath.Join(root, "init.sh"), []byte("#!/bin/sh\n"+
		"echo '=== begin'; /conform/pty / </dev/null 2>&1; echo '=== end'\n/bin/busybox poweroff -f\n"), 0o755)

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
		`mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && mount --bind /dev/pts/ptmx /dev/ptmx && exec "$@"`,
		"sh", testenv.Program(t, "linux"), "ubd0="+root, "rw", "init=/init.sh", "uml_dir="+dir)
	cmd.Dir = os.TempDir()
	cmd.WaitDelay = 3 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("linux timed out:\n%s", out)
	}
	if err != nil {
		t.Fatalf("linux: %v\n%s", err, out)
	}
	s := strings.ReplaceAll(string(out), "\r\n", "\n")
	for _, want := range []string{"child ctty: yes\n", "child /dev/tty: ok\n", `what the child wrote to /dev/tty: \000via-tty\012` + "\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("the guest's output lacks %q:\n%s", want, s)
		}
	}
}
