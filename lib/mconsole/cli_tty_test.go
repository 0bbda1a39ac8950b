package mconsole

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// openPty returns a new pseudo-terminal pair.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestInteractiveLineEditing drives our uml_mconsole on a terminal: a typo fixed with
// Backspace, a line recalled with Up, and Ctrl-D to quit.
func TestInteractiveLineEditing(t *testing.T) {
	ours := testenv.Program(t, "uml_mconsole")
	home := t.TempDir()
	dir := filepath.Join(home, ".uml", "srv")
	os.MkdirAll(dir, 0o755)
	s := NewServer()
	var (
		mu   sync.Mutex
		seen []string
	)
	s.Handle("version", func(c *Call) {
		mu.Lock()
		seen = append(seen, c.Command)
		mu.Unlock()
		c.OK("Linux test")
	})
	if err := s.Listen(filepath.Join(dir, "mconsole"), ""); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()

	m, sl := openPty(t)
	cmd := exec.Command(ours, "srv")
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sl, sl, sl
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := &testenv.SafeBuffer{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	waitOut := func(what string, count int) {
		t.Helper()
		if !testenv.WaitFor(20*time.Second, func() bool { return strings.Count(out.String(), what) >= count }) {
			cmd.Process.Kill()
			t.Fatalf("no %q (x%d) on the terminal; got %q", what, count, out.String())
		}
	}
	waitOut("(srv) ", 1)
	m.Write([]byte("verx\x7fsion\r"))
	waitOut("OK Linux test", 1)
	waitOut("(srv) ", 2)
	m.Write([]byte("\x1b[A\r"))
	waitOut("OK Linux test", 2)
	waitOut("(srv) ", 3)
	m.Write([]byte{4})
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("Ctrl-D did not end the session; terminal: %q", out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[version version]" {
		t.Errorf("server saw %q; terminal: %q", seen, out.String())
	}
}
