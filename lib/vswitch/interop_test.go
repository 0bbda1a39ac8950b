package vswitch_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// impl is a uml_switch to run the same test body against.
type impl struct {
	name string
	ours bool
}

var impls = []impl{{"RealUmlSwitch", false}, {"Ours", true}}

func (i impl) binary(t *testing.T) string {
	if i.ours {
		return testenv.Program(t, "uml_switch")
	}
	return testenv.Tool(t, "uml_switch")
}

// switchProc is a running uml_switch (ours or the real one).
type switchProc struct {
	cmd *exec.Cmd
	out *testenv.SafeBuffer
	ctl string
}

// startSwitch runs bin with args and waits for the control socket ctl to appear. The switch
// gets SIGINT at the end of the test.
func startSwitch(t *testing.T, bin, ctl string, args ...string) *switchProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out := &testenv.SafeBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &switchProc{cmd: cmd, out: out, ctl: ctl}
	t.Cleanup(func() { p.stop(t) })
	if !testenv.WaitFor(10*time.Second, func() bool {
		return testenv.Listening(ctl)
	}) {
		t.Fatalf("%s did not listen on %s; output:\n%s", bin, ctl, out.String())
	}
	return p
}

// stop sends SIGINT and returns how the process ended.
func (p *switchProc) stop(t *testing.T) *os.ProcessState {
	if p.cmd.ProcessState != nil {
		return p.cmd.ProcessState
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		t.Errorf("switch did not exit on SIGINT; output:\n%s", p.out.String())
	}
	return p.cmd.ProcessState
}

// guestScript configures $dev (waiting for it to be hot-plugged when $hotplug is set), then
// either pings $peer and leaves a done-marker in the shared root, or (no peer) stays up until
// every guest named in $waitfor has left its marker.
const guestScript = `#!/bin/sh
mount -t proc proc /proc
ifconfig lo up
if [ -n "$hotplug" ]; then
  echo READY
  n=0; until ifconfig $dev >/dev/null 2>&1; do n=$((n+1)); [ $n -gt 400 ] && break; sleep 0.1; done
fi
ifconfig $dev $myip netmask 255.255.255.0 up
echo NETUP
if [ -n "$peer" ]; then
  ping -c 2 -W 5 $peer; echo PINGRC=$?
  touch /tmp/done-$me
else
  for x in $(echo $waitfor | tr , ' '); do
    n=0; until [ -e /tmp/done-$x ]; do n=$((n+1)); [ $n -gt 600 ] && break; sleep 0.1; done
  done
fi
/bin/busybox poweroff -f
`

type guest struct {
	name string
	out  *testenv.SafeBuffer
	cmd  *exec.Cmd
	uml  *testenv.UML
}

func bootGuest(t *testing.T, root, name string, args ...string) *guest {
	u := &testenv.UML{Root: root, Init: "/g.sh", Umid: fmt.Sprintf("vsw-%s-%d", name, os.Getpid()),
		Args: append([]string{"me=" + name}, args...), Timeout: 90 * time.Second}
	cmd, out := u.Start(t)
	return &guest{name: name, out: out, cmd: cmd, uml: u}
}

func (g *guest) waitFor(t *testing.T, what string, d time.Duration) {
	t.Helper()
	if !testenv.WaitFor(d, func() bool { return strings.Contains(g.out.String(), what) }) {
		t.Fatalf("guest %s never printed %q; console:\n%s", g.name, what, g.out.String())
	}
}

func (g *guest) wait(t *testing.T) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatalf("guest %s did not power off; console:\n%s", g.name, g.out.String())
	}
	return g.out.String()
}

var pingOK = regexp.MustCompile(`(?m)2 packets transmitted, 2 packets received`)

func (g *guest) checkPing(t *testing.T) {
	t.Helper()
	out := g.out.String()
	if !strings.Contains(out, "PINGRC=0") || !pingOK.MatchString(out) {
		t.Errorf("guest %s could not ping its peer; console:\n%s", g.name, out)
	}
}

// TestRealUMLGuestsPingThroughSwitch boots real linux.uml guests on the daemon transport and has them
// ping each other through the real uml_switch and through ours, with the same body: in switch
// mode two guests at boot plus a third hot-plugged with the real uml_mconsole (and, on ours,
// a fourth attached over the vector driver's BESS transport); in hub mode two guests.
func TestRealUMLGuestsPingThroughSwitch(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			for _, hub := range []bool{false, true} {
				mode := "Switch"
				if hub {
					mode = "Hub"
				}
				t.Run(mode, func(t *testing.T) { pingTest(t, im, hub) })
			}
		})
	}
}

func pingTest(t *testing.T, im impl, hub bool) {
	bin := im.binary(t)
	mconsole := testenv.Tool(t, "uml_mconsole")
	dir := t.TempDir()
	ctl := filepath.Join(dir, "sw.ctl")
	args := []string{"-unix", ctl}
	if hub {
		args = append(args, "-hub")
	}
	bess := ""
	if im.ours && !hub {
		bess = filepath.Join(dir, "sw.bess")
		args = append(args, "-bess", bess)
	}
	sw := startSwitch(t, bin, ctl, args...)
	root := testenv.BusyboxRoot(t, map[string]string{"/g.sh": guestScript})

	daemon := func(mac string) string { return "daemon," + mac + ",unix," + ctl }
	waitfor := "b"
	if !hub {
		waitfor += ",c"
		if bess != "" {
			waitfor += ",d"
		}
	}
	a := bootGuest(t, root, "a", "eth0="+daemon("fe:fd:0a:00:00:01"), "dev=eth0", "myip=10.0.0.1", "waitfor="+waitfor)
	var c *guest
	if !hub {
		c = bootGuest(t, root, "c", "dev=eth1", "hotplug=1", "myip=10.0.0.3", "peer=10.0.0.1")
	}
	a.waitFor(t, "NETUP", 60*time.Second)
	b := bootGuest(t, root, "b", "eth0="+daemon("fe:fd:0a:00:00:02"), "dev=eth0", "myip=10.0.0.2", "peer=10.0.0.1")
	var d *guest
	if bess != "" {
		d = bootGuest(t, root, "d", "vec0:transport=bess,src="+filepath.Join(dir, "d.sock")+",dst="+bess+
			",mac=fe:fd:0a:00:00:04", "dev=vec0", "myip=10.0.0.4", "peer=10.0.0.1")
	}
	if c != nil {
		c.waitFor(t, "READY", 60*time.Second)
		sock := filepath.Join(c.uml.UmlDir, c.uml.Umid, "mconsole")
		out, err := exec.Command(mconsole, sock, "config", "eth1="+daemon("fe:fd:0a:00:00:03")).Output()
		if err != nil || !strings.HasPrefix(string(out), "OK") {
			t.Errorf("uml_mconsole config eth1: %v %q", err, out)
		}
	}
	for _, g := range []*guest{b, c, d, a} {
		if g != nil {
			g.wait(t)
		}
	}
	for _, g := range []*guest{b, c, d} {
		if g != nil {
			g.checkPing(t)
		}
	}
	st := sw.stop(t)
	if ws, ok := st.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("switch ended with %v, want killed by SIGINT", st)
	}
	if _, err := os.Stat(ctl); err == nil {
		t.Errorf("control socket %s left behind after SIGINT", ctl)
	}
	if im.ours {
		log := sw.out.String()
		for _, want := range []string{"attached to unix socket '" + ctl + "'", "New connection", "Disconnect",
			" Addr: fe:fd:0a:00:00:02 New port", "Caught signal 2, cleaning up and exiting"} {
			if !strings.Contains(log, want) {
				t.Errorf("our switch's log lacks %q:\n%s", want, log)
			}
		}
		if hub && !strings.Contains(log, "will be a hub instead of a switch") {
			t.Errorf("hub message missing:\n%s", log)
		}
	}
}
