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

// fakeXterm is a stand-in terminal emulator: it records its arguments and runs the -e
// command on a terminal (script(1)'s pty) whose input is the FIFO "in" and output the file
// "out" of its directory.
const fakeXterm = `#!/bin/sh
dir=$(dirname "$0")
printf '%s\n' "$@" > "$dir/args"
shift 3
exec script -qfc "$*" /dev/null < "$dir/in" > "$dir/out"
`

// TestXtermChannel: con1=xterm runs the xterm= program (a stand-in) titled with the line and
// the umid, and the guest's /dev/tty1 is the terminal of its window.
func TestXtermChannel(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("no script(1) for the stand-in terminal")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	prog := filepath.Join(dir, "fake-xterm")
	if err := os.WriteFile(prog, []byte(fakeXterm), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "in"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nexec 3<>/dev/tty1\necho hello-xterm >&3\nread line <&3\necho \"got:$line\"\n/bin/busybox poweroff -f\n",
	})
	umlDir := t.TempDir()
	// keep the window's input open while the test runs
	in := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(filepath.Join(dir, "in"), os.O_WRONLY, 0)
		if err == nil {
			in <- f
		}
	}()
	bin := testenv.Program(t, "linux")
	cmd := exec.Command(bin, "ubd0="+root, "rw", "init=/t.sh", "uml_dir="+umlDir, "umid=xt",
		"con1=xterm", "xterm="+prog+",-T,-e")
	cmd.Env = append(os.Environ(), "DISPLAY=:99", "PATH="+testenv.BinDir(t, "port-helper")+":"+os.Getenv("PATH"))
	var out, errb lockedBuf
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	var w *os.File
	select {
	case w = <-in:
		defer w.Close()
	case err := <-done:
		t.Fatalf("linux ended (%v) before the window opened:\n%s\n%s", err, out.String(), errb.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("no window:\n%s\n%s", out.String(), errb.String())
	}
	if !testenv.WaitFor(60*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "out"))
		return strings.Contains(string(b), "hello-xterm")
	}) {
		b, _ := os.ReadFile(filepath.Join(dir, "out"))
		t.Fatalf("the window shows %q\n%s\n%s", b, out.String(), errb.String())
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	want := "-T\nVirtual Console #1 (xt)\n-e\n"
	if !strings.HasPrefix(string(args), want) || !strings.Contains(string(args), "-uml-socket\n") {
		t.Errorf("terminal program's arguments %q, want %q… -uml-socket …", args, want)
	}
	w.Write([]byte("typed-in-window\r"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("linux: %v\n%s", err, errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the guest did not read the window's line:\n%s\n%s", out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "got:typed-in-window") {
		t.Errorf("console: %q", out.String())
	}
}

// TestTTYChannel: con1=tty:DEV connects the guest's /dev/tty1 to a host terminal (here a pty
// the test holds), in raw mode; the kernel's Landlock domain allows the device the command
// line names.
func TestTTYChannel(t *testing.T) {
	master, slave := openPty(t)
	defer master.Close()
	os.Chmod(slave.Name(), 0o666) // the kernel of a root-started linux runs unprivileged
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 21, Col: 77})
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nexec 3<>/dev/tty1\necho hello-tty >&3\necho \"size:$(stty size <&3)\"\nread line <&3\necho \"got:$line\"\n/bin/busybox poweroff -f\n",
	})
	cmd := exec.Command(testenv.Program(t, "linux"), "ubd0="+root, "rw", "init=/t.sh", "uml_dir="+t.TempDir(), "con1=tty:"+slave.Name())
	var out, errb lockedBuf
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer slave.Close() // held: without a slave open, the master's reads fail (EIO)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	var seen lockedBuf
	go func() {
		b := make([]byte, 1024)
		for {
			n, err := master.Read(b)
			seen.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	if !testenv.WaitFor(60*time.Second, func() bool { return strings.Contains(seen.String(), "hello-tty") }) {
		t.Fatalf("host terminal got %q\n%s\n%s", seen.String(), out.String(), errb.String())
	}
	master.Write([]byte("from-host\r"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("linux: %v\n%s", err, errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("guest did not read the line:\n%s\n%s", out.String(), errb.String())
	}
	if o := out.String(); !strings.Contains(o, "got:from-host") || !strings.Contains(o, "size:21 77") {
		t.Errorf("console: %q", o)
	}
}
