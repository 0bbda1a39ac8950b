package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// Two of our guests on our uml_switch: their devices take the switch's extended transport
// (lib/vswitch/ext.go), so the 289 KB transfers of netScript cross it as TCPv4 super-frames,
// which the switch's status (SIGUSR1) counts on both ports; ping and HTTP work as ever.
// (TestNetSwitchWithRealUML has a real linux.uml beside ours: that pair stays plain.)
func TestNetSwitchExtendedBetweenOurs(t *testing.T) {
	dir, err := os.MkdirTemp("", "sw")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctl := filepath.Join(dir, "ctl")
	sw := exec.Command(testenv.Program(t, "uml_switch"), "-unix", ctl)
	out := &testenv.SafeBuffer{}
	sw.Stdout, sw.Stderr = out, out
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Process.Kill(); sw.Wait() })
	if !testenv.WaitFor(10*time.Second, func() bool { return testenv.Listening(ctl) }) {
		t.Fatal("the switch did not listen")
	}
	os.Chmod(ctl, 0o777)
	a := startOurs(t, "daemon,fe:fd:0a:00:00:01,unix,"+ctl, "10.0.0.1", "10.0.0.2")
	b := startOurs(t, "daemon,fe:fd:0a:00:00:02,unix,"+ctl, "10.0.0.2", "10.0.0.1")
	ra, rb := a.resultWith(t, b), b.resultWith(t, a)
	// Both transfers are over and the ports still up: the counters of each port.
	sw.Process.Signal(syscall.SIGUSR1)
	line := regexp.MustCompile(`extended: super-frames rx (\d+) tx (\d+)`)
	var m [][]string
	testenv.WaitFor(10*time.Second, func() bool {
		m = line.FindAllStringSubmatch(out.String(), -1)
		return len(m) >= 2
	})
	finish(t, a, b)
	if ra != netWant(b.ip) || rb != netWant(a.ip) {
		t.Fatalf("results %q and %q\n--- a ---\n%s\n--- b ---\n%s", ra, rb, a.out.String(), b.out.String())
	}
	if len(m) != 2 {
		t.Fatalf("the switch's status shows %d extended ports, want 2:\n%s", len(m), out.String())
	}
	for _, p := range m {
		rx, _ := strconv.Atoi(p[1])
		tx, _ := strconv.Atoi(p[2])
		if rx == 0 || tx == 0 {
			t.Errorf("a port sent %d and got %d super-frames; want some each way:\n%s", rx, tx, out.String())
		}
	}
}
