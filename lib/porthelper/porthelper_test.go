package porthelper

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

func impls(t *testing.T) []struct{ name, path string } {
	return []struct{ name, path string }{
		{"real", testenv.Tool(t, "port-helper")},
		{"ours", testenv.Program(t, "port-helper")},
	}
}

// openPty returns a pseudo-terminal pair and the slave's path.
func openPty(t *testing.T) (master, slave *os.File, name string) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	var n uint32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	name = "/dev/pts/" + strconv.Itoa(int(n))
	s, err := os.OpenFile(name, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s, name
}

// receive reads one message the way the kernel's os_rcv_fd does: a 4-byte pid and one fd.
func receive(t *testing.T, sock int) (pid int, fd *os.File, from unix.Sockaddr) {
	t.Helper()
	tv := unix.Timeval{Sec: 10}
	if err := unix.SetsockoptTimeval(sock, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, from, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	for i := 0; err == unix.EINTR && i < 1000; i++ {
		// a receive with SO_RCVTIMEO is not restarted after a signal (the runtime's SIGURG)
		n, oobn, _, from, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	}
	if err != nil {
		t.Fatalf("recvmsg: %v", err)
	}
	if n != 4 {
		t.Fatalf("message of %d bytes, want 4", n)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v, %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds %v, %v", fds, err)
	}
	return int(binary.NativeEndian.Uint32(buf)), os.NewFile(uintptr(fds[0]), "received"), from
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// checkTerminal: the received fd is the pty slave: what the guest writes to it comes out at
// the master, as the kernel's console.
func checkTerminal(t *testing.T, fd *os.File, master *os.File, slaveName string) {
	t.Helper()
	if l, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd.Fd())); err != nil || l != slaveName {
		t.Errorf("received fd is %q (%v), want %s", l, err, slaveName)
	}
	if _, err := fd.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = master.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 16)
	if n, err := master.Read(b); err != nil || !strings.Contains(string(b[:n]), "hello") {
		t.Errorf("master read %q, %v", b[:n], err)
	}
}

// TestTelnetdHandover plays in.telnetd and the kernel for a port: console: port-helper runs
// as session leader on a pty with fd 3 a datagram socket to the kernel; it must send its pid
// and the pty, without complaint, and stay alive.
func TestTelnetdHandover(t *testing.T) {
	for _, im := range impls(t) {
		t.Run(im.name, func(t *testing.T) {
			master, slave, name := openPty(t)
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			helperEnd := os.NewFile(uintptr(fds[1]), "helper")
			var stderr testenv.SafeBuffer
			cmd := exec.Command(im.path)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, &stderr
			cmd.ExtraFiles = []*os.File{helperEnd}
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer stop(cmd)
			helperEnd.Close()
			pid, fd, _ := receive(t, fds[0])
			defer fd.Close()
			if pid != cmd.Process.Pid {
				t.Errorf("pid %d sent, want %d", pid, cmd.Process.Pid)
			}
			checkTerminal(t, fd, master, name)
			time.Sleep(100 * time.Millisecond)
			if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
				t.Errorf("port-helper ended: %v", err)
			}
			if stderr.String() != "" {
				t.Errorf("stderr %q", stderr.String())
			}
		})
	}
}

// TestXtermHandover plays the kernel for an xterm console: port-helper -uml-socket PATH
// connects to PATH from the abstract name of its pid. It is not the terminal's session
// leader here, so both programs print the same TIOCNOTTY complaint and carry on.
func TestXtermHandover(t *testing.T) {
	for _, im := range impls(t) {
		t.Run(im.name, func(t *testing.T) {
			master, slave, name := openPty(t)
			path := filepath.Join(t.TempDir(), "xterm-pipe")
			sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(sock)
			if err := unix.Bind(sock, &unix.SockaddrUnix{Name: path}); err != nil {
				t.Fatal(err)
			}
			var stderr testenv.SafeBuffer
			cmd := exec.Command(im.path, "-uml-socket", path)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer stop(cmd)
			pid, fd, from := receive(t, sock)
			defer fd.Close()
			if pid != cmd.Process.Pid {
				t.Errorf("pid %d sent, want %d", pid, cmd.Process.Pid)
			}
			if u, ok := from.(*unix.SockaddrUnix); !ok || u.Name != fmt.Sprintf("@%5d", pid) {
				t.Errorf("sent from %#v, want the abstract name %q", from, fmt.Sprintf("\\0%5d", pid))
			}
			checkTerminal(t, fd, master, name)
			want := ttyMessage + ": Inappropriate ioctl for device\n"
			testenv.WaitFor(2*time.Second, func() bool { return stderr.String() != "" })
			if stderr.String() != want {
				t.Errorf("stderr %q, want %q", stderr.String(), want)
			}
		})
	}
}

// TestCommandLine: a socket that is not there ends both programs with status 1, and --help
// is ours alone.
func TestCommandLine(t *testing.T) {
	for _, im := range impls(t) {
		for _, args := range [][]string{{"-uml-socket"}, {"-uml-socket", "/nonexistent/sock"}} {
			var stderr bytes.Buffer
			cmd := exec.Command(im.path, args...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("%s %q: %v, want exit status 1 (stderr %q)", im.name, args, err, stderr.String())
			}
		}
	}
	out, err := exec.Command(testenv.Program(t, "port-helper"), "--help").Output()
	if err != nil || !strings.HasPrefix(string(out), "Usage: port-helper") {
		t.Errorf("--help: %v, %q", err, out)
	}
}
