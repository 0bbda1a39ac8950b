package watchdog

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// kernelEnds starts prog the way the harddog driver does (arch/um/drivers/harddog_user.c):
// its standard input and output are ends of two stream socketpairs. It returns the kernel's
// ends: the one to read the ready byte from and the one pings are written to.
func kernelEnds(t *testing.T, prog string, args ...string) (cmd *exec.Cmd, in, out *os.File, stderr *bytes.Buffer) {
	t.Helper()
	pair := func() (*os.File, *os.File) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(fds[0]), "kernel"), os.NewFile(uintptr(fds[1]), "helper")
	}
	kin, hout := pair()
	kout, hin := pair()
	stderr = new(bytes.Buffer)
	cmd = exec.Command(prog, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = hin, hout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hin.Close()
	hout.Close()
	t.Cleanup(func() {
		kin.Close()
		kout.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, kin, kout, stderr
}

func exitStatus(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestHarddogProtocol plays the kernel's part against the real uml_watchdog and ours: the
// ready byte, pings, and end of file (the guest closed /dev/watchdog) ending it with 0.
func TestHarddogProtocol(t *testing.T) {
	for _, tool := range []struct{ name, path string }{
		{"real", testenv.Tool(t, "uml_watchdog")},
		{"ours", testenv.Program(t, "uml_watchdog")},
	} {
		for _, args := range [][]string{
			{"-pid", strconv.Itoa(os.Getpid())},
			{"-mconsole", filepath.Join(t.TempDir(), "notify")},
		} {
			t.Run(tool.name+args[0], func(t *testing.T) {
				cmd, in, out, stderr := kernelEnds(t, tool.path, args...)
				var b [8]byte
				_ = in.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, err := in.Read(b[:]); n != 1 || err != nil || b[0] != 0 {
					t.Fatalf("ready: read %d bytes %q, %v; want one 0 byte", n, b[:n], err)
				}
				for i := 0; i < 3; i++ { // guest pings
					if _, err := out.Write([]byte{byte('a' + i)}); err != nil {
						t.Fatal(err)
					}
				}
				out.Close() // the guest closes /dev/watchdog
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case err := <-done:
					if s := exitStatus(err); s != 0 {
						t.Errorf("exit status %d after end of input, want 0", s)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("still running 10 s after end of input")
				}
				if n, _ := in.Read(b[:]); n != 0 {
					t.Errorf("wrote %q after the ready byte", b[:n])
				}
				if stderr.Len() > 0 {
					t.Errorf("stderr: %q", stderr)
				}
			})
		}
	}
}

// TestCommandLine compares exit statuses and standard output with the real program for
// good and bad command lines (standard input at end of file, so good ones end at once).
func TestCommandLine(t *testing.T) {
	real := testenv.Tool(t, "uml_watchdog")
	ours := testenv.Program(t, "uml_watchdog")
	run := func(prog string, args []string) (int, string, string) {
		cmd := exec.Command(prog, args...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return exitStatus(err), o.String(), e.String()
	}
	for _, args := range [][]string{
		{}, {"-pid"}, {"-pid", "abc"}, {"-pid", "12x"}, {"-foo", "1"}, {"-mconsole"},
		{"-pid", "999999999"}, {"-pid", "1", "extra"}, {"-pid", ""}, {"-pid", "0x1"},
		{"-mconsole", "/nonexistent/notify"}, {"--help", "x"},
	} {
		rs, ro, _ := run(real, args)
		us, oo, oe := run(ours, args)
		if rs != us || ro != oo {
			t.Errorf("%q: real: status %d, stdout %q; ours: status %d, stdout %q", args, rs, ro, us, oo)
		}
		if us != 0 && !strings.HasPrefix(oe, "uml_watchdog: ") {
			t.Errorf("%q: ours failed with stderr %q, want a message prefixed uml_watchdog:", args, oe)
		}
	}
	// --help is ours alone: the real program exits 1 and says nothing.
	if s, o, _ := run(ours, []string{"--help"}); s != 0 || !strings.HasPrefix(o, "Usage: uml_watchdog") {
		t.Errorf("--help: status %d, stdout %q", s, o)
	}
}

// shortTimers makes the 60 s timeout and the 1 s pauses short for one test.
func shortTimers(t *testing.T) {
	old, oldPause := Timeout, killPause
	Timeout, killPause = 300*time.Millisecond, 200*time.Millisecond
	t.Cleanup(func() { Timeout, killPause = old, oldPause })
}

// TestTimeoutKillsPid: a guest that stops pinging gets SIGINT twice, then SIGKILL.
func TestTimeoutKillsPid(t *testing.T) {
	shortTimers(t)
	victim := exec.Command("sh", "-c", `trap 'echo INT' INT; echo ready; while :; do sleep 0.05; done`)
	var vout testenv.SafeBuffer
	victim.Stdout = &vout
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- victim.Wait() }()
	testenv.WaitFor(5*time.Second, func() bool { return strings.Contains(vout.String(), "ready") })
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	var stdout, stderr bytes.Buffer
	if s := Main([]string{"uml_watchdog", "-pid", strconv.Itoa(victim.Process.Pid)}, r, &stdout, &stderr); s != 1 {
		t.Errorf("status %d, want 1 (stderr %q)", s, stderr.String())
	}
	select {
	case err := <-waited:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("victim ended with %v, want SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		_ = victim.Process.Kill()
		t.Fatal("victim still alive")
	}
	if got := strings.Count(vout.String(), "INT"); got != 2 {
		t.Errorf("victim saw %d SIGINTs, want 2: %q", got, vout.String())
	}
}

// TestTimeoutSendsHang: with -mconsole, a hung guest is reported to the notify socket with
// the bytes the real program sends (docs/interfaces.md §2.6, observed on the real one).
func TestTimeoutSendsHang(t *testing.T) {
	shortTimers(t)
	path := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	go func() { // one ping half way: the timeout starts again
		time.Sleep(150 * time.Millisecond)
		_, _ = w.Write([]byte{'p'})
	}()
	if s := Main([]string{"uml_watchdog", "-mconsole", path}, r, &stdout, &stderr); s != 1 {
		t.Errorf("status %d, want 1 (stderr %q)", s, stderr.String())
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("expired after %v: the ping did not re-arm the timer", d)
	}
	_ = l.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := l.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0xbe, 0xba, 0xfe, 0xca, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(buf[:n], want) {
		t.Errorf("datagram % x, want % x", buf[:n], want)
	}
	if !bytes.Equal(stdout.Bytes(), []byte{0}) {
		t.Errorf("stdout %q, want the ready byte", stdout.Bytes())
	}
}
