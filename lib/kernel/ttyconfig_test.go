package kernel_test

import (
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// attachPts opens a host pts the kernel announced and returns a term on it.
func attachPts(t *testing.T, pts string) *term {
	t.Helper()
	f, err := os.OpenFile(pts, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	tm := &term{t: t, name: pts, w: func(b []byte) { f.Write(b) }}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			tm.add(b[:n])
			if err != nil {
				return
			}
		}
	}()
	return tm
}

// announced waits for the kernel's n-th announcement of a console's pts and returns the path.
func announced(t *testing.T, m *machine, line, n int) string {
	t.Helper()
	re := regexp.MustCompile(`Virtual console ` + strconv.Itoa(line) + ` assigned device '(/dev/pts/[0-9]+)'`)
	var pts string
	if !testenv.WaitFor(60*time.Second, func() bool {
		all := re.FindAllStringSubmatch(m.stderr.String(), -1)
		if len(all) >= n {
			pts = all[n-1][1]
			return true
		}
		return false
	}) {
		t.Fatalf("announcement %d of console %d missing:\n%s", n, line, m.stderr.String())
	}
	return pts
}

// TestLineConfigAtRunTime: mconsole gives an unconfigured console a pts at run time; a getty
// waiting for the line gets it and a user logs in. Giving the line a new channel while the
// user is logged in hangs the session up; the respawned getty serves the new pts.
func TestLineConfigAtRunTime(t *testing.T) {
	root := gettyRoot(t)
	tab := "::sysinit:/bin/mount -t proc proc /proc\n" +
		"::respawn:/bin/sh -c 'while [ ! -e /dev/tty2 ]; do sleep 0.2; done; exec /bin/getty -L 0 tty2 vt100'\n"
	if err := os.WriteFile(root+"/etc/inittab", []byte(tab), 0o644); err != nil {
		t.Fatal(err)
	}
	umlDir := t.TempDir()
	m := startMachine(t, []string{"ubd0=" + root, "rw", "uml_dir=" + umlDir, "umid=rtconf", "con0=null"}, false)
	mcons := testenv.Program(t, "uml_mconsole")
	sock := umlDir + "/rtconf/mconsole"
	if !testenv.WaitFor(30*time.Second, func() bool { return strings.Contains(m.stderr.String(), "initialized on "+sock) }) {
		t.Fatalf("no mconsole:\n%s", m.stderr.String())
	}
	expect := func(want string, status int, words ...string) {
		t.Helper()
		if out, st := mc(t, mcons, sock, words...); out != want || st != status {
			t.Errorf("%q: %d %q, want %d %q", words, st, out, status, want)
		}
	}
	expect("OK none\n", 0, "config", "con2")
	expect("OK \n", 0, "config", "con2=pts")
	pts := announced(t, m, 2, 1)
	tm := attachPts(t, pts)
	tm.login()
	got := tm.run("echo $(tty) $$")
	oldShell, ok := strings.CutPrefix(got, "/dev/tty2 ")
	if !ok {
		t.Errorf("tty: %q", got)
	}
	expect("OK pts:"+pts+"\n", 0, "config", "con2")
	// a new channel for the open line: the session is hung up, getty comes back on it
	expect("OK \n", 0, "config", "con2=pts")
	pts2 := announced(t, m, 2, 2)
	tm2 := attachPts(t, pts2)
	tm2.login()
	if got := tm2.run("tty; kill -0 " + oldShell + " 2>/dev/null || echo old-shell-gone"); got != "/dev/tty2\nold-shell-gone" {
		t.Errorf("after reconfiguring: %q (the old shell was %s)", got, oldShell)
	}
	expect("OK configured as 'none'\n", 0, "config", "con2=none")
	expect("OK none\n", 0, "config", "con2")
}

// TestLineConfigAgainstRealUML: the real uml_mconsole reads the same answers about con0,
// con1 (open, on a pts), ssl0 (a port), ssl1 (a pts not open), ssl2 and con2 from our linux
// as from the real linux.uml booted with the same lines.
func TestLineConfigAgainstRealUML(t *testing.T) {
	mcons := testenv.Tool(t, "uml_mconsole")
	script := "#!/bin/sh\nexec 3<>/dev/tty1\necho tty1-open\nwhile :; do sleep 1; done\n"
	freePorts := func() (int, int) {
		var p [2]int
		for i := range p {
			l, err := netListen()
			if err != nil {
				t.Fatal(err)
			}
			p[i] = l.port
			l.close()
		}
		return p[0], p[1]
	}
	realPort, ourPort := freePorts()
	lines := func(port int) []string {
		return []string{"con1=pts", "ssl0=port:" + strconv.Itoa(port), "ssl1=pts", "con2=none", "con3=fd:0,null"}
	}
	realRoot := testenv.BusyboxRoot(t, map[string]string{"/t.sh": script})
	u := &testenv.UML{Root: realRoot, Init: "/t.sh", Args: lines(realPort)}
	_, realOut := u.Start(t)
	ourRoot := testenv.BusyboxRoot(t, map[string]string{"/t.sh": script})
	umlDir := t.TempDir()
	args := append([]string{"ubd0=" + ourRoot, "rw", "init=/t.sh", "uml_dir=" + umlDir, "umid=cmp",
		"con0=fd:0,fd:1", "con=null", "ssl=null"}, lines(ourPort)...)
	m := startMachine(t, args, false)
	if !testenv.WaitFor(120*time.Second, func() bool {
		return strings.Contains(realOut.String(), "tty1-open") && strings.Contains(m.stdout.String(), "tty1-open")
	}) {
		t.Fatalf("guests did not open tty1:\nreal:\n%s\nours:\n%s\n%s", realOut.String(), m.stdout.String(), m.stderr.String())
	}
	realSock := u.UmlDir + "/" + u.Umid + "/mconsole"
	ourSock := umlDir + "/cmp/mconsole"
	norm := func(s string, port int) string {
		s = strings.ReplaceAll(s, strconv.Itoa(port), "PORT")
		return regexp.MustCompile(`/dev/pts/[0-9]+`).ReplaceAllString(s, "/dev/pts/N")
	}
	for _, q := range []string{"con0", "con1", "con2", "con3", "con4", "ssl0", "ssl1", "ssl2", "con", "con16", "ssl64", "con1x", "con=pts", "conx=pts", "con20=pts", "con5=bogus", "con5"} {
		ro, rs := mc(t, mcons, realSock, "config", q)
		oo, os := mc(t, mcons, ourSock, "config", q)
		if norm(ro, realPort) != norm(oo, ourPort) || rs != os {
			t.Errorf("config %s: real %d %q, ours %d %q", q, rs, ro, os, oo)
		}
	}
}

type tcpListener struct {
	port  int
	close func() error
}

func netListen() (*tcpListener, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &tcpListener{port: l.Addr().(*net.TCPAddr).Port, close: l.Close}, nil
}

// TestConsoleOnPts: con0=pts makes the console itself a line: the boot announces its pts, and
// init's terminal is the one a user attaches to.
func TestConsoleOnPts(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\necho \"console: $(tty)\"\nread line\necho \"got:$line\"\n/bin/busybox poweroff -f\n",
	})
	m := startMachine(t, []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir(), "con0=pts"}, false)
	pts := announced(t, m, 0, 1)
	tm := attachPts(t, pts)
	tm.expect("console: /dev/tty0\r\n", "")
	tm.send("typed\r")
	tm.expect("got:typed\r\n", "")
}

// TestLineReconfiguredWhileOpenWaits: an open of a port line waits for a client; giving the
// line a pts meanwhile ends the wait with the pts.
func TestLineReconfiguredWhileOpenWaits(t *testing.T) {
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.port)
	l.close()
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nexec 3<>/dev/ttyS0\necho ttyS0-open\necho hi-serial >&3\nwhile :; do sleep 1; done\n",
	})
	umlDir := t.TempDir()
	m := startMachine(t, []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + umlDir, "umid=rw", "ssl0=port:" + port}, false)
	mcons := testenv.Program(t, "uml_mconsole")
	sock := umlDir + "/rw/mconsole"
	// "port" without the number: a guest open waits for a client (as the real kernel answers)
	if !testenv.WaitFor(60*time.Second, func() bool {
		out, _ := mc(t, mcons, sock, "config", "ssl0")
		return out == "OK port\n"
	}) {
		out, _ := mc(t, mcons, sock, "config", "ssl0")
		t.Fatalf("config ssl0 = %q, want the waiting open's \"port\"\n%s", out, m.stderr.String())
	}
	if out, st := mc(t, mcons, sock, "config", "ssl0=pts"); out != "OK \n" || st != 0 {
		t.Fatalf("config ssl0=pts: %d %q", st, out)
	}
	re := regexp.MustCompile(`Serial line 0 assigned device '(/dev/pts/[0-9]+)'`)
	var pts string
	if !testenv.WaitFor(60*time.Second, func() bool {
		if s := re.FindStringSubmatch(m.stderr.String()); s != nil {
			pts = s[1]
			return true
		}
		return false
	}) {
		t.Fatalf("no pts for ssl0:\n%s", m.stderr.String())
	}
	if !testenv.WaitFor(30*time.Second, func() bool { return strings.Contains(m.stdout.String(), "ttyS0-open") }) {
		t.Fatalf("the waiting open did not end:\n%s", m.stdout.String())
	}
	if out, _ := mc(t, mcons, sock, "config", "ssl0"); out != "OK pts:"+pts+"\n" {
		t.Errorf("config ssl0 = %q", out)
	}
}
