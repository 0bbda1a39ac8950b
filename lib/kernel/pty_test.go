package kernel_test

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// openPty returns a pseudo-terminal pair (x/sys only; no pty dependency needed for tests).
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skip("no /dev/ptmx: ", err)
	}
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBusyboxInitOnPty boots busybox init with an inittab; the test types into the console
// (a pty) to a shell init started, then powers the machine off the way a user does.
func TestBusyboxInitOnPty(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/inittab": "::sysinit:/bin/echo sysinit-ran\n::respawn:-/bin/sh\n::shutdown:/bin/echo shutdown-ran\n",
		"/etc/passwd":  "root:x:0:0:root:/root:/bin/sh\n",
	})
	os.Symlink("../bin/busybox", root+"/sbin/init")
	master, slave := openPty(t)
	defer master.Close()
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100})
	bin := testenv.Program(t, "linux")
	cmd := exec.Command(bin, "ubd0="+root, "rw", "uml_dir="+t.TempDir())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	defer cmd.Process.Kill()
	out := &lockedBuf{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			out.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	waitFor := func(s string) {
		t.Helper()
		if !testenv.WaitFor(15*time.Second, func() bool { return strings.Contains(out.String(), s) }) {
			t.Fatalf("no %q on the console; got:\n%s", s, out.String())
		}
	}
	waitFor("sysinit-ran")
	waitFor("/ # ")
	if strings.Contains(out.String(), "job control turned off") {
		t.Errorf("the console is not the shell's controlling tty:\n%s", out.String())
	}
	master.Write([]byte("echo $((6*7)) $(id -u) $(tty)\n"))
	waitFor("42 0 /dev/console")
	// ^C reaches the guest's foreground process, not linux
	master.Write([]byte("sh -c 'echo sleep-started; sleep 30'\n"))
	waitFor("sleep-started\r\n")
	master.Write([]byte{3})
	master.Write([]byte("echo after-sleep $?\n"))
	waitFor("after-sleep 130")
	// the window size of the host terminal
	master.Write([]byte("stty size\n"))
	waitFor("40 100")
	master.Write([]byte("poweroff\n"))
	waitFor("shutdown-ran")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("linux: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("poweroff did not end linux:\n%s", out.String())
	}
}
