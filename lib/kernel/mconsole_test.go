package kernel_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/mconsole"
	"github.com/gouml/gouml/lib/testenv"
)

// guest is a `linux` running in the background for mconsole tests.
type guest struct {
	cmd       *exec.Cmd
	out, errb *testenv.SafeBuffer
	umidDir   string
	sock      string
	done      chan struct{}
	err       error
}

// startGuest boots root with init and waits for the mconsole socket.
func startGuest(t *testing.T, root, umlDir, init string, asUser bool, extra ...string) *guest {
	t.Helper()
	bin := testenv.Program(t, "linux")
	argv := append([]string{bin, "ubd0=" + root, "rw", "mem=128M", "init=" + init, "uml_dir=" + umlDir, "umid=mc"}, extra...)
	if asUser {
		argv = append([]string{"runuser", "-u", testUser, "--"}, argv...)
	}
	g := &guest{out: &testenv.SafeBuffer{}, errb: &testenv.SafeBuffer{}, umidDir: filepath.Join(umlDir, "mc"), done: make(chan struct{})}
	g.sock = filepath.Join(g.umidDir, "mconsole")
	g.cmd = exec.Command(argv[0], argv[1:]...)
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.errb
	g.cmd.Dir = os.TempDir()
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.err = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
		<-g.done
	})
	if !testenv.WaitFor(15*time.Second, func() bool {
		st, err := os.Stat(g.sock)
		return err == nil && st.Mode()&os.ModeSocket != 0
	}) {
		t.Fatalf("no mconsole socket %s\nstdout:\n%s\nstderr:\n%s", g.sock, g.out, g.errb)
	}
	return g
}

// wait returns linux's exit status.
func (g *guest) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("linux did not end\nstdout:\n%s\nstderr:\n%s", g.out, g.errb)
	}
	if ee, ok := g.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	return 0
}

// mc runs an uml_mconsole client (ours or the real one) and returns its standard output and
// exit status. (The real one warns on stderr about the full-path form; that is not compared.)
func mc(t *testing.T, client, sock string, words ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, client, append([]string{sock}, words...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q timed out", client, words)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// notifySocket listens where mconsole=notify: points; next returns the next notification.
func notifySocket(t *testing.T, dir string) (string, func() mconsole.Notification) {
	t.Helper()
	path := filepath.Join(dir, "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	os.Chmod(path, 0o777) // the unprivileged linux sends to it too
	return path, func() mconsole.Notification {
		t.Helper()
		b := make([]byte, mconsole.MaxNotifySize)
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		nt, err := mconsole.UnmarshalNotification(b[:n])
		if err != nil {
			t.Fatal(err)
		}
		return nt
	}
}

const tickScript = "#!/bin/sh\necho up\ni=0\nwhile :; do i=$((i+1)); echo $i > /tmp/tick; sleep 0.05; done\n"

var digits = regexp.MustCompile(`[0-9]+`)

var spaces = regexp.MustCompile(` {2,}`)

// TestMconsoleAgainstRealUMLMconsole: the real uml_mconsole and ours give the same output
// for every command against a running linux; the commands act on the guest.
func TestMconsoleAgainstRealUMLMconsole(t *testing.T) {
	real := testenv.Tool(t, "uml_mconsole")
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": tickScript})
	mconsoleSession(t, real, root, t.TempDir(), false)
}

// TestMconsoleUnprivileged: the same session with linux running as an unprivileged user.
func TestMconsoleUnprivileged(t *testing.T) {
	real := testenv.Tool(t, "uml_mconsole")
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": tickScript})
	umlDir := unprivileged(t, root)
	mconsoleSession(t, real, root, umlDir, true)
}

func mconsoleSession(t *testing.T, real, root, umlDir string, asUser bool) {
	ours := testenv.Program(t, "uml_mconsole")
	ndir := t.TempDir()
	os.Chmod(ndir, 0o777)
	notify, next := notifySocket(t, ndir)
	g := startGuest(t, root, umlDir, "/t.sh", asUser, "mconsole=notify:"+notify)
	if n := next(); n.Type != mconsole.NotifySocket || string(n.Data) != g.sock+"\x00" {
		t.Fatalf("first notification: %v %q, want MCONSOLE_SOCKET %q", n.Type, n.Data, g.sock)
	}
	// (the message and the notification travel different ways: wait for the message)
	if !testenv.WaitFor(5*time.Second, func() bool {
		return strings.Contains(g.errb.String(), "mconsole (version 2) initialized on "+g.sock+"\n")
	}) {
		t.Errorf("boot message missing: %q", g.errb)
	}
	both := func(norm bool, words ...string) (string, int) {
		t.Helper()
		o1, s1 := mc(t, real, g.sock, words...)
		o2, s2 := mc(t, ours, g.sock, words...)
		if norm {
			// numbers, and the padding that depends on their width (meminfo's %8lu)
			o1, o2 = digits.ReplaceAllString(o1, "9"), digits.ReplaceAllString(o2, "9")
			o1, o2 = spaces.ReplaceAllString(o1, " "), spaces.ReplaceAllString(o2, " ")
		}
		if o1 != o2 || s1 != s2 {
			t.Errorf("%q: real uml_mconsole %d %q, ours %d %q", words, s1, o1, s2, o2)
		}
		return o2, s2
	}
	expect := func(norm bool, want string, wantStatus int, words ...string) {
		t.Helper()
		if out, st := both(norm, words...); out != want || st != wantStatus {
			t.Errorf("%q: %d %q, want %d %q", words, st, out, wantStatus, want)
		}
	}
	expect(false, "OK Linux (none) 6.1.176-gouml #1 gouml x86_64\n", 0, "version")
	expect(true, "OK \n9.9 9.9\n\n", 0, "proc", "uptime")
	if out, _ := both(true, "proc", "meminfo"); !strings.HasPrefix(out, "OK \nMemTotal:") {
		t.Errorf("proc meminfo: %q", out)
	}
	if out, _ := mc(t, ours, g.sock, "proc", "meminfo"); !strings.Contains(out, "MemTotal:         131072 kB\n") {
		t.Errorf("proc meminfo does not show mem=128M: %q", out)
	}
	expect(false, "OK \nLinux version 6.1.176-gouml (gouml) #1 gouml\n\n", 0, "proc", "version")
	expect(false, "ERR Failed to open file\n", 1, "proc", "nonexistent")
	if out, st := both(false, "help"); st != 0 || !strings.HasPrefix(out, "OK "+mconsole.HelpText) {
		t.Errorf("help: %d %q", st, out)
	}
	expect(false, "ERR Unknown command\n", 1, "bogus")
	expect(false, "OK "+root+"\n", 0, "config", "ubd0")
	expect(false, "ERR No get_config routine defined\n", 1, "config", "eth0")
	expect(false, "ERR Bad configuration option\n", 1, "config", "foo")
	expect(false, "ERR Device doesn't exist\n", 237, "remove", "ubd3")
	expect(false, "ERR Couldn't find that pid\n", 1, "stack", "99999")
	expect(false, "ERR Please specify a pid\n", 1, "stack")
	if out, _ := both(false, "sysrq", "h"); !strings.Contains(out, "sysrq: HELP : loglevel(0-9) reboot(b)") {
		t.Errorf("sysrq h: %q", out)
	}
	both(false, "log", "gouml-log-line")
	if !testenv.WaitFor(5*time.Second, func() bool { return strings.Count(g.errb.String(), "gouml-log-line\n") == 2 }) {
		t.Errorf("log text not printed twice: %q", g.errb)
	}

	// stop freezes the guest (its counter stands still) until go, from either client
	tick := func() int {
		b, _ := os.ReadFile(filepath.Join(root, "tmp/tick"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	for i, pair := range [][2]string{{real, ours}, {ours, real}} {
		start := tick()
		if !testenv.WaitFor(10*time.Second, func() bool { return tick() > start }) {
			t.Fatalf("round %d: guest counter does not run", i)
		}
		if out, st := mc(t, pair[0], g.sock, "stop"); out != "OK stopped\n" || st != 0 {
			t.Fatalf("stop: %d %q", st, out)
		}
		if out, st := mc(t, pair[1], g.sock, "stop"); out != "ERR Already stopped\n" || st != 1 {
			t.Errorf("second stop: %d %q", st, out)
		}
		time.Sleep(200 * time.Millisecond) // a write in flight when stop came may still land
		frozen := tick()
		time.Sleep(500 * time.Millisecond)
		if now := tick(); now != frozen {
			t.Errorf("round %d: counter moved from %d to %d while stopped", i, frozen, now)
		}
		if out, st := mc(t, pair[1], g.sock, "go"); out != "OK \n" || st != 0 {
			t.Fatalf("go: %d %q", st, out)
		}
		if !testenv.WaitFor(10*time.Second, func() bool { return tick() > frozen }) {
			t.Errorf("round %d: guest still frozen after go", i)
		}
	}
	expect(false, "ERR Not stopped\n", 1, "go")

	// cad (the guest left Ctrl-Alt-Del on) and reboot restart init; each boot tells the
	// notify socket again
	for i, words := range [][]string{{"cad"}, {"reboot"}} {
		if out, st := mc(t, []string{real, ours}[i], g.sock, words...); out != "OK \n" || st != 0 {
			t.Fatalf("%q: %d %q", words, st, out)
		}
		if !testenv.WaitFor(15*time.Second, func() bool { return strings.Count(g.out.String(), "up\r\n") == i+2 }) {
			t.Fatalf("%q did not restart init: %q", words, g.out)
		}
		if n := next(); n.Type != mconsole.NotifySocket || string(n.Data) != g.sock+"\x00" {
			t.Errorf("after %q: notification %v %q", words, n.Type, n.Data)
		}
	}

	// a reboot while stopped: the new machine runs and is not stopped
	if out, st := mc(t, ours, g.sock, "stop"); out != "OK stopped\n" || st != 0 {
		t.Fatalf("stop: %d %q", st, out)
	}
	if out, st := mc(t, ours, g.sock, "reboot"); out != "OK \n" || st != 0 {
		t.Fatalf("reboot while stopped: %d %q", st, out)
	}
	if !testenv.WaitFor(15*time.Second, func() bool { return strings.Count(g.out.String(), "up\r\n") == 4 }) {
		t.Fatalf("reboot while stopped did not restart init: %q", g.out)
	}
	next()
	start := tick()
	if !testenv.WaitFor(10*time.Second, func() bool { return tick() != start }) {
		t.Errorf("the rebooted guest does not run")
	}
	expect(false, "ERR Not stopped\n", 1, "go")

	if out, st := mc(t, real, g.sock, "halt"); out != "OK \n" || st != 0 {
		t.Fatalf("halt: %d %q", st, out)
	}
	if st := g.wait(t); st != 0 {
		t.Fatalf("exit status after halt: %d\nstderr:\n%s", st, g.errb)
	}
	if _, err := os.Stat(g.umidDir); !os.IsNotExist(err) {
		t.Errorf("umid directory left behind after halt: %v", err)
	}
}

// TestMconsoleCadSignalsInit: busybox init turns Ctrl-Alt-Del off (reboot(2) CAD_OFF), so
// cad sends init SIGINT and init runs its ctrlaltdel entry; /proc/sys/kernel/ctrl-alt-del
// shows 0. halt from our client ends linux with status 0.
func TestMconsoleCadSignalsInit(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/inittab": "::sysinit:/bin/sh -c 'echo up'\n::ctrlaltdel:/bin/sh -c 'echo got-cad'\n",
	})
	os.MkdirAll(filepath.Join(root, "sbin"), 0o755)
	os.Symlink("../bin/busybox", filepath.Join(root, "sbin/init"))
	ours := testenv.Program(t, "uml_mconsole")
	g := startGuest(t, root, t.TempDir(), "/sbin/init", false)
	if !testenv.WaitFor(15*time.Second, func() bool { return strings.Contains(g.out.String(), "up\r\n") }) {
		t.Fatalf("init did not start: %q %q", g.out, g.errb)
	}
	if out, st := mc(t, ours, g.sock, "proc", "sys/kernel/ctrl-alt-del"); out != "OK \n0\n\n" || st != 0 {
		t.Errorf("ctrl-alt-del: %d %q", st, out)
	}
	if out, st := mc(t, ours, g.sock, "cad"); out != "OK \n" || st != 0 {
		t.Fatalf("cad: %d %q", st, out)
	}
	if !testenv.WaitFor(15*time.Second, func() bool { return strings.Contains(g.out.String(), "got-cad\r\n") }) {
		t.Fatalf("init did not run its ctrlaltdel entry: %q %q", g.out, g.errb)
	}
	if strings.Count(g.out.String(), "up\r\n") != 1 {
		t.Errorf("cad restarted the machine: %q", g.out)
	}
	if out, st := mc(t, ours, g.sock, "halt"); out != "OK \n" || st != 0 {
		t.Fatalf("halt: %d %q", st, out)
	}
	if st := g.wait(t); st != 0 {
		t.Fatalf("exit status after halt: %d", st)
	}
	if _, err := os.Stat(g.umidDir); !os.IsNotExist(err) {
		t.Errorf("umid directory left behind after halt: %v", err)
	}
}

// TestMconsoleNotifyPanic: init exiting is a panic: the notify socket gets MCONSOLE_SOCKET
// and then MCONSOLE_PANIC with the real message.
func TestMconsoleNotifyPanic(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": "#!/bin/sh\nexit 3\n"})
	notify, next := notifySocket(t, t.TempDir())
	umlDir := t.TempDir()
	_, errs, status := run{args: []string{"ubd0=" + root, "init=/t.sh", "umid=p", "uml_dir=" + umlDir, "mconsole=notify:" + notify}}.do(t)
	if status != 134 {
		t.Fatalf("status %d, stderr %q", status, errs)
	}
	if n := next(); n.Type != mconsole.NotifySocket || string(n.Data) != filepath.Join(umlDir, "p", "mconsole")+"\x00" {
		t.Errorf("first notification: %v %q", n.Type, n.Data)
	}
	if n := next(); n.Type != mconsole.NotifyPanic || string(n.Data) != "Attempted to kill init! exitcode=0x00000300\x00" {
		t.Errorf("second notification: %v %q", n.Type, n.Data)
	}
}

// TestStoppedProcessContinues: a guest process stopped with SIGSTOP runs again after SIGCONT
// (mconsole's stop/go and job control's fg rely on it); it waits for the stopped state, so
// the stop is a group-stop the kernel LISTENs on. (Signals that hit a child before it runs:
// TestSignalsDuringTrappedOpen.)
func TestStoppedProcessContinues(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nsleep 0.5 & p=$!\n" +
			"until [ \"$(cat /proc/$p/comm)\" = sleep ]; do sleep 0.05; done\nkill -STOP $p\n" +
			"until grep -q ') [Tt]' /proc/$p/stat; do sleep 0.05; done\necho stopped\n" +
			"kill -CONT $p\nwait $p\necho \"rc=$?\"\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{timeout: 20 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || out != "stopped\nrc=0\n" {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}

// TestMconsoleCadSysctl: a guest writing 0 to /proc/sys/kernel/ctrl-alt-del gets SIGINT from
// mconsole's cad instead of a restart; writing it needs guest root.
func TestMconsoleCadSysctl(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:100:u:/tmp:/bin/sh\n",
		"/t.sh": "#!/bin/sh\ntrap 'echo got-int; /bin/busybox poweroff -f' INT\necho \"cad=$(cat /proc/sys/kernel/ctrl-alt-del)\"\n" +
			"su user -c 'echo 0 > /proc/sys/kernel/ctrl-alt-del' 2>&1 | grep -q 'Permission denied' && echo user-denied\n" +
			"echo 0 > /proc/sys/kernel/ctrl-alt-del\necho \"cad=$(cat /proc/sys/kernel/ctrl-alt-del)\"\n" +
			"while :; do sleep 0.05; done\n",
	})
	ours := testenv.Program(t, "uml_mconsole")
	g := startGuest(t, root, t.TempDir(), "/t.sh", false)
	want := "cad=1\r\nuser-denied\r\ncad=0\r\n"
	if !testenv.WaitFor(15*time.Second, func() bool { return strings.Contains(g.out.String(), want) }) {
		t.Fatalf("console %q, want %q\nstderr:\n%s", g.out, want, g.errb)
	}
	if out, st := mc(t, ours, g.sock, "cad"); out != "OK \n" || st != 0 {
		t.Fatalf("cad: %d %q", st, out)
	}
	if st := g.wait(t); st != 0 || g.out.String() != want+"got-int\r\n" {
		t.Fatalf("status %d console %q\nstderr:\n%s", st, g.out, g.errb)
	}
}
