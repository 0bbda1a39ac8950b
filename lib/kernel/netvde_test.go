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

// startVDESwitch runs Debian's vde_switch on a fresh directory that any user may use (a
// root-started linux runs its kernel as an unprivileged uid) and returns the directory.
func startVDESwitch(t *testing.T) string {
	t.Helper()
	prog := testenv.Tool(t, "vde_switch")
	parent, err := os.MkdirTemp("", "vde") // not t.TempDir: its parents are root's alone
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(parent, 0o777)
	t.Cleanup(func() { os.RemoveAll(parent) })
	dir := filepath.Join(parent, "sw")
	cmd := exec.Command(prog, "-s", dir, "-m", "777", "--dirmode", "777")
	in, err := cmd.StdinPipe() // vde_switch ends at EOF on its stdin
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	if !testenv.WaitFor(10*time.Second, func() bool { return testenv.Listening(filepath.Join(dir, "ctl")) }) {
		t.Fatal("vde_switch did not listen")
	}
	return dir
}

// Two of our guests on Debian's vde_switch: ping and HTTP both ways, and the boot messages
// of the real kernel's vde transport.
func TestNetVDE(t *testing.T) {
	dir := startVDESwitch(t)
	a := startOurs(t, "vde,"+dir+",fe:fd:0a:00:06:01", "10.0.6.1", "10.0.6.2")
	b := startOurs(t, "vde,"+dir, "10.0.6.2", "10.0.6.1")
	pair(t, a, b)
	if want := "Configured vde device: " + dir + "\nNetdevice 0 (fe:fd:0a:00:06:01) : \nvde backend - " + dir +
		", \nvde backend - connection opened\n"; !strings.Contains(a.out.String(), want) {
		t.Errorf("no %q in\n%s", want, a.out.String())
	}
}
