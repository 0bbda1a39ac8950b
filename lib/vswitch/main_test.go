package vswitch_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
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
	"unsafe"

	"github.com/gouml/gouml/lib/testenv"
	"github.com/gouml/gouml/lib/vswitch"
	"golang.org/x/sys/unix"
)

func command(bin string, args ...string) *exec.Cmd {
	return &exec.Cmd{Path: bin, Args: append([]string{"uml_switch"}, args...)}
}

// TestUsageLikeRealUmlSwitch: bad command lines print the real usage text on stderr and
// exit 1 (ours adds one line naming its extra options).
func TestUsageLikeRealUmlSwitch(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"-unix"}, {"-tap"}, {"-compat-v0", "-unix", "x"}, {"--help"}} {
		var outs [2]string
		for i, im := range impls {
			cmd := command(im.binary(t), args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("%s %v: %v, want exit status 1", im.name, args, err)
			}
			lines := strings.SplitAfter(stderr.String(), "\n")
			if len(lines) < 2 {
				t.Fatalf("%s %v: stderr %q", im.name, args, stderr.String())
			}
			outs[i] = lines[0] + lines[1]
		}
		if outs[0] != outs[1] {
			t.Errorf("%v: usage differs:\nreal: %q\nours: %q", args, outs[0], outs[1])
		}
	}
}

// TestControlSocketTakeover: a leftover socket nobody serves is taken over; a live switch's
// socket is not, with the real message and exit 1. Both switches, crossed: each one meets a
// live socket of the other.
func TestControlSocketTakeover(t *testing.T) {
	for i, im := range impls {
		other := impls[1-i]
		t.Run(im.name, func(t *testing.T) {
			dir := t.TempDir()
			ctl := filepath.Join(dir, "ctl")
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: ctl, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			l.Close() // stale socket file left behind
			sw := startSwitch(t, im.binary(t), ctl, "-unix", ctl)
			// The stale file was there all along: wait until the switch answers on it.
			if !testenv.WaitFor(10*time.Second, func() bool {
				c, err := vswitch.Dial(ctl, 3, "")
				if err == nil {
					c.Close()
				}
				return err == nil
			}) {
				t.Fatalf("switch never served the taken-over socket:\n%s", sw.out.String())
			}
			cmd := command(other.binary(t), "-unix", ctl)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("second switch (%s) on a live socket: %v, want exit status 1\n%s", other.name, err, out)
			}
			want := "The control socket '" + ctl + "' has another server attached to it\nYou can either\n\tremove '" + ctl +
				"'\n\tor rerun with a different, unused filename for a socket\n"
			if !strings.Contains(string(out), want) {
				t.Errorf("second switch (%s) said %q, want %q", other.name, out, want)
			}
			if _, err := os.Stat(ctl); err != nil {
				t.Errorf("the live switch's socket is gone: %v", err)
			}
			_ = dial(t, ctl, 3, "") // the first switch still serves
			_ = sw
		})
	}
}

// TestSignalsClean: SIGINT (both switches) and SIGTERM (ours; the real one leaves its socket)
// remove the control socket and end the process by the same signal.
func TestSignalsClean(t *testing.T) {
	cases := []struct {
		im  impl
		sig syscall.Signal
	}{{impls[0], syscall.SIGINT}, {impls[1], syscall.SIGINT}, {impls[1], syscall.SIGTERM}}
	for _, c := range cases {
		t.Run(c.im.name+"/"+c.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			ctl := filepath.Join(dir, "ctl")
			sw := startSwitch(t, c.im.binary(t), ctl, "-unix", ctl)
			_ = dial(t, ctl, 3, "")
			_ = sw.cmd.Process.Signal(c.sig)
			done := make(chan struct{})
			go func() { _ = sw.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("switch did not exit")
			}
			ws := sw.cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != c.sig {
				t.Errorf("ended with %v, want killed by %v", sw.cmd.ProcessState, c.sig)
			}
			if _, err := os.Stat(ctl); err == nil {
				t.Errorf("control socket left behind")
			}
			if c.im.ours && !strings.Contains(sw.out.String(), "Caught signal "+strconv.Itoa(int(c.sig))+", cleaning up and exiting") {
				t.Errorf("log: %s", sw.out.String())
			}
		})
	}
}

// TestStatusAndCapture: SIGUSR1 prints a counter line per port on stderr; -pcap records
// every frame in a capture file that reads back frame for frame.
func TestStatusAndCapture(t *testing.T) {
	dir := t.TempDir()
	ctl, pcap := filepath.Join(dir, "ctl"), filepath.Join(dir, "cap.pcap")
	sw := startSwitch(t, testenv.Program(t, "uml_switch"), ctl, "-unix", ctl, "-pcap", pcap)
	a, b := dial(t, ctl, 3, ""), dial(t, ctl, 3, "")
	var sent [][]byte
	for i := 0; i < 5; i++ {
		f := vswitch.Frame(bcast, mac(1), bytes.Repeat([]byte{byte(i)}, 50+i))
		_ = a.Send(f)
		expect(t, b, "b", f)
		sent = append(sent, f)
	}
	g := vswitch.Frame(mac(1), mac(2), []byte("reply"))
	_ = b.Send(g)
	expect(t, a, "a", g)
	sent = append(sent, g)
	_ = sw.cmd.Process.Signal(syscall.SIGUSR1)
	re := regexp.MustCompile(`port \d+ daemon @[0-9a-f]+: rx 5 frames 330 bytes, tx 1 frames 19 bytes, tx dropped 0, rx errors 0, addresses 1`)
	if !testenv.WaitFor(5*time.Second, func() bool { return re.MatchString(sw.out.String()) }) {
		t.Errorf("no status line for port a in:\n%s", sw.out.String())
	}
	sw.stop(t)
	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := vswitch.ReadPcap(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(sent) {
		t.Fatalf("%d frames captured, want %d", len(recs), len(sent))
	}
	for i := range recs {
		if !bytes.Equal(recs[i].Frame, sent[i]) {
			t.Errorf("frame %d: %x, want %x", i, recs[i].Frame, sent[i])
		}
	}
	if tcpdump := testenv.OptionalTool(t, "tcpdump"); tcpdump != "" {
		out, err := exec.Command(tcpdump, "-nr", pcap).CombinedOutput()
		if err != nil || strings.Count(string(out), "fe:fd:0a:00:00:01") < 5 {
			t.Errorf("tcpdump -r: %v\n%s", err, out)
		}
	}
}

// openPty returns a pseudo-terminal pair without extra dependencies.
func openPty(t *testing.T) (master, slave *os.File) {
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
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestEOFOnTerminalStdin: with a terminal on stdin, end-of-file there (^D) ends the switch
// cleanly with status 0, like the real one.
func TestEOFOnTerminalStdin(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			m, s := openPty(t)
			defer m.Close()
			dir := t.TempDir()
			ctl := filepath.Join(dir, "ctl")
			cmd := command(im.binary(t), "-unix", ctl)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			go func() { _, _ = bytes.NewBuffer(nil).ReadFrom(m) }() // keep the terminal drained
			if !testenv.WaitFor(10*time.Second, func() bool { _, err := os.Stat(ctl); return err == nil }) {
				t.Fatal("no control socket")
			}
			time.Sleep(200 * time.Millisecond)
			_, _ = m.Write([]byte{4})
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit: %v, want status 0", err)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("^D on the terminal did not end the switch")
			}
			if _, err := os.Stat(ctl); err == nil {
				t.Error("control socket left behind")
			}
		})
	}
}

// TestDaemonMode: -daemon returns at once with status 0 while a detached copy serves.
func TestDaemonMode(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl")
	cmd := command(testenv.Program(t, "uml_switch"), "-daemon", "-unix", ctl)
	// A file, not a pipe: the detached copy keeps stdout open (daemon(0, 1) keeps stdio).
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("-daemon: %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("-daemon did not return")
	}
	if out, _ := os.ReadFile(filepath.Join(dir, "log")); !strings.Contains(string(out), "attached to unix socket '"+ctl+"'") {
		t.Errorf("-daemon printed %q", out)
	}
	c := dial(t, ctl, 3, "")
	d := dial(t, ctl, 3, "")
	f := vswitch.Frame(bcast, mac(1), []byte("served by the daemon"))
	_ = c.Send(f)
	expect(t, d, "port", f)
	// Find the detached server by the socket path on its command line and stop it.
	pid := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Contains(b, []byte(ctl+"\x00")) && bytes.Contains(b, []byte("-daemon")) {
			pid = n
		}
	}
	if pid == 0 {
		t.Fatal("daemon process not found")
	}
	if cwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd"); cwd != "/" {
		t.Errorf("daemon cwd %q, want /", cwd)
	}
	_ = syscall.Kill(pid, syscall.SIGINT)
	if !testenv.WaitFor(10*time.Second, func() bool { _, err := os.Stat(ctl); return err != nil }) {
		t.Error("daemon did not remove its socket on SIGINT")
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// TestTapUplink (needs CAP_NET_ADMIN): the switch's -tap port reaches a kernel: the switch
// creates the tap, the test moves it into a network namespace of its own and configures an
// address there, and an ARP request from a fake port is answered through the tap. Same body
// for the real uml_switch and ours. (The switch itself stays in the host namespace: abstract
// unix addresses, which the data sockets use, are per network namespace.)
func TestTapUplink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) for a tap device")
	}
	for _, tool := range []string{"unshare", "nsenter", "ip"} {
		testenv.Tool(t, tool)
	}
	for i, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			dir := t.TempDir()
			ctl := filepath.Join(dir, "ctl")
			tap := fmt.Sprintf("vswt%d%c", os.Getpid()%1000000, "ro"[i])
			sw := startSwitch(t, im.binary(t), ctl, "-unix", ctl, "-tap", tap)
			ns := exec.Command("unshare", "-n", "sleep", "120")
			if err := ns.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ns.Process.Kill(); _ = ns.Wait() }()
			pid := strconv.Itoa(ns.Process.Pid)
			testenv.WaitFor(5*time.Second, func() bool {
				a, _ := os.Readlink("/proc/self/ns/net")
				b, _ := os.Readlink("/proc/" + pid + "/ns/net")
				return b != "" && a != b
			})
			for _, c := range [][]string{
				{"ip", "link", "set", tap, "netns", pid},
				{"nsenter", "-t", pid, "-n", "ip", "link", "set", tap, "up"},
				{"nsenter", "-t", pid, "-n", "ip", "addr", "add", "10.77.0.1/24", "dev", tap},
			} {
				if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%v: %v\n%s\nswitch:\n%s", c, err, out, sw.out.String())
				}
			}
			out := sw.out
			p := dial(t, ctl, 3, "")
			me := mac(0x42)
			arp := make([]byte, 28)
			binary.BigEndian.PutUint16(arp[0:], 1)      // Ethernet
			binary.BigEndian.PutUint16(arp[2:], 0x0800) // IPv4
			arp[4], arp[5] = 6, 4
			binary.BigEndian.PutUint16(arp[6:], 1) // request
			copy(arp[8:], me[:])
			copy(arp[14:], []byte{10, 77, 0, 2})
			copy(arp[24:], []byte{10, 77, 0, 1})
			f := vswitch.Frame(bcast, me, arp)
			f[12], f[13] = 0x08, 0x06
			buf := make([]byte, 2048)
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				_ = p.Send(f)
				n, err := p.Recv(buf, time.Second)
				if err == nil && n >= 42 && buf[12] == 8 && buf[13] == 6 && binary.BigEndian.Uint16(buf[20:]) == 2 &&
					bytes.Equal(buf[0:6], me[:]) && bytes.Equal(buf[28:32], []byte{10, 77, 0, 1}) {
					return
				}
			}
			t.Fatalf("no ARP reply through the tap; output:\n%s", out.String())
		})
	}
}
