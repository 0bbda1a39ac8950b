package kernel_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// rootHash is "secret" (SHA-512 crypt), root's password in the getty roots.
const rootHash = "$6$gouMLsalt$XPctHgMcYXoQUDVRIbT4UBPTH8n0aVi5AduXmQEGp.X8SOIJedBJzBB.hPd9pjVvrSlGxM.mELpi5wAYsMMfY1"

// gettyRoot is a busybox root whose init runs getty on the given lines.
func gettyRoot(t *testing.T, ttys ...string) string {
	var tab strings.Builder
	tab.WriteString("::sysinit:/bin/mount -t proc proc /proc\n")
	for _, tty := range ttys {
		tab.WriteString("::respawn:/bin/getty -L 0 " + tty + " vt100\n")
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/inittab": tab.String(),
		"/etc/passwd":  "root:x:0:0:root:/root:/bin/sh\n",
		"/etc/shadow":  "root:" + rootHash + ":19000:0:99999:7:::\n",
		"/etc/group":   "root:x:0:\n",
		"/etc/profile": "export PS1='gouml-prompt# '\n",
		"/etc/issue":   "gouml issue\n",
	})
	if err := os.Symlink("../bin/busybox", root+"/sbin/init"); err != nil {
		t.Fatal(err)
	}
	return root
}

// machine is a linux run in the background.
type machine struct {
	cmd    *exec.Cmd
	stderr lockedBuf
	stdout lockedBuf
}

func startMachine(t *testing.T, args []string, asUser bool) *machine {
	t.Helper()
	argv := append([]string{testenv.Program(t, "linux")}, args...)
	if asUser {
		argv = append([]string{"runuser", "-u", testUser, "--"}, argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	m := &machine{cmd: exec.CommandContext(ctx, argv[0], argv[1:]...)}
	m.cmd.Stdout, m.cmd.Stderr = &m.stdout, &m.stderr
	m.cmd.Dir = os.TempDir()
	m.cmd.WaitDelay = 3 * time.Second
	if err := m.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.cmd.Process.Signal(unix.SIGTERM)
		done := make(chan struct{})
		go func() { m.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			m.cmd.Process.Kill()
		}
		cancel()
	})
	return m
}

// term is one side of a terminal session the test drives: what it reads accumulates.
type term struct {
	t    *testing.T
	name string
	w    func([]byte)
	mu   sync.Mutex
	buf  bytes.Buffer
	seen int // what expect consumed
}

func (tm *term) add(b []byte) {
	tm.mu.Lock()
	tm.buf.Write(b)
	tm.mu.Unlock()
}

func (tm *term) text() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.buf.String()
}

// expect waits for s after what earlier expects consumed, sending poke (if any) now and
// then while waiting (a prompt printed before the test attached is not repeated).
func (tm *term) expect(s string, poke string) string {
	tm.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	next := time.Now()
	for {
		all := tm.text()
		if i := strings.Index(all[tm.seen:], s); i >= 0 {
			got := all[tm.seen : tm.seen+i+len(s)]
			tm.seen += i + len(s)
			return got
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("%s: no %q; after %q", tm.name, s, all[tm.seen:])
		}
		if poke != "" && time.Now().After(next) {
			tm.w([]byte(poke))
			next = time.Now().Add(2 * time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tm *term) send(s string) { tm.w([]byte(s)) }

// login logs in as root and waits for the shell's prompt.
func (tm *term) login() {
	tm.t.Helper()
	tm.expect("login: ", "\r")
	tm.send("root\r")
	tm.expect("Password: ", "")
	tm.send("secret\r")
	tm.expect("gouml-prompt# ", "")
}

// run runs a shell command and returns its output (between the echoed command line and the
// next prompt).
func (tm *term) run(cmd string) string {
	tm.t.Helper()
	tm.send(cmd + "\r")
	out := tm.expect("gouml-prompt# ", "")
	out = strings.TrimSuffix(out, "gouml-prompt# ")
	if _, after, ok := strings.Cut(out, "\r\n"); ok {
		out = after
	}
	return strings.TrimSpace(strings.ReplaceAll(out, "\r\n", "\n"))
}

// telnetClient is a minimal telnet client: it agrees to nothing but the window size, which
// it reports, and strips the server's negotiation from what it shows.
func telnetClient(t *testing.T, addr string, cols, rows int) (*term, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, name: "telnet " + addr}
	tm.w = func(b []byte) { c.Write(b) }
	c.Write([]byte{255, 251, 31, 255, 250, 31, byte(cols >> 8), byte(cols), byte(rows >> 8), byte(rows), 255, 240})
	go func() {
		b := make([]byte, 4096)
		state := 0
		for {
			n, err := c.Read(b)
			var data []byte
			for _, x := range b[:n] {
				switch {
				case state == 0 && x == 255:
					state = 1
				case state == 0:
					data = append(data, x)
				case state == 1 && x >= 251 && x <= 254:
					state = 2
				case state == 1 && x == 255:
					data, state = append(data, x), 0
				default:
					state = 0
				}
			}
			tm.add(data)
			if err != nil {
				return
			}
		}
	}()
	return tm, c
}

// TestGettyLogins: a busybox root whose init runs getty on tty0, tty1 and ttyS0, with
// con1=pts and ssl0=port:PORT, run by an unprivileged host user. The test attaches to the
// pts the kernel announces and to the port with a telnet client, logs in as root with a
// password on each, runs commands, stops a sleep with ^C, changes the window size, and
// reconnects to the port after disconnecting.
func TestGettyLogins(t *testing.T) {
	root := gettyRoot(t, "tty0", "tty1", "ttyS0")
	umlDir := unprivileged(t, root)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	umid := "getty" + strconv.Itoa(os.Getpid())
	m := startMachine(t, []string{"ubd0=" + root, "rw", "uml_dir=" + umlDir, "umid=" + umid,
		"con0=null", "con1=pts", "ssl0=port:" + strconv.Itoa(port)}, true)

	// the pts, as announced
	re := regexp.MustCompile(`Virtual console 1 assigned device '(/dev/pts/[0-9]+)'`)
	var pts string
	if !testenv.WaitFor(60*time.Second, func() bool {
		if s := re.FindStringSubmatch(m.stderr.String()); s != nil {
			pts = s[1]
			return true
		}
		return false
	}) {
		t.Fatalf("no pts announced:\n%s", m.stderr.String())
	}
	f, err := os.OpenFile(pts, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	con1 := &term{t: t, name: pts, w: func(b []byte) { f.Write(b) }}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			con1.add(b[:n])
			if err != nil {
				return
			}
		}
	}()
	con1.login()
	if got := con1.run("echo $((6*7)) $(id -u) $(tty)"); got != "42 0 /dev/tty1" {
		t.Errorf("tty1: %q", got)
	}
	// /dev/tty is the caller's controlling terminal, not the console
	if got := con1.run("echo via-dev-tty > /dev/tty"); got != "via-dev-tty" {
		t.Errorf("/dev/tty on tty1: %q", got)
	}
	// ^C stops the foreground job, not the shell
	con1.send("sh -c 'echo sleep-started; exec sleep 60'\r")
	con1.expect("sleep-started\r\n", "")
	con1.send("\x03")
	con1.expect("gouml-prompt# ", "")
	if got := con1.run("echo after-sleep $?"); got != "after-sleep 130" {
		t.Errorf("after ^C: %q", got)
	}
	// the window size of the terminal attached to the pts reaches the guest
	unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 97})
	if !testenv.WaitFor(30*time.Second, func() bool { return con1.run("stty size") == "33 97" }) {
		t.Errorf("stty size on tty1: %q, want 33 97", con1.run("stty size"))
	}

	// the serial line, through the built-in telnet server
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s0, c := telnetClient(t, addr, 120, 42)
	s0.login()
	if got := s0.run("tty; stty size"); got != "/dev/ttyS0\n42 120" {
		t.Errorf("ttyS0: %q", got)
	}
	s0.send("sh -c 'echo sleep-started; exec sleep 60'\r")
	s0.expect("sleep-started\r\n", "")
	s0.send("\x03")
	s0.expect("gouml-prompt# ", "")
	if got := s0.run("echo after-sleep $?"); got != "after-sleep 130" {
		t.Errorf("ttyS0 after ^C: %q", got)
	}
	mc := testenv.Program(t, "uml_mconsole")
	sock := umlDir + "/" + umid + "/mconsole"
	for dev, want := range map[string]string{"con1": "OK pts:" + pts, "ssl0": "OK port:" + strconv.Itoa(port), "ssl1": "OK pty", "con2": "OK none"} {
		out, _ := exec.Command(mc, sock, "config", dev).Output()
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("config %s: %q, want %q", dev, got, want)
		}
	}
	// disconnect: the line is hung up, getty comes back, and a new client logs in
	c.Close()
	s1, c1 := telnetClient(t, addr, 80, 25)
	defer c1.Close()
	s1.login()
	if got := s1.run("echo again $(tty) $(stty size)"); got != "again /dev/ttyS0 25 80" {
		t.Errorf("after reconnecting: %q", got)
	}
}
