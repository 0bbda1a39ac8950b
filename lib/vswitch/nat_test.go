package vswitch_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"github.com/gouml/gouml/lib/usernet/usernettest"
)

// natGuestA takes a lease, fetches a page from the host's loopback through the gateway
// address, resolves a name through the DNS forwarder, then waits for the host's forwarded
// connection on nc.
const natGuestA = `#!/bin/sh
mount -t proc proc /proc
ifconfig lo 127.0.0.1 up
udhcpc -i eth0 -s /udhcpc.sh -n -q -t 20 -T 1 || echo DHCP-FAILED
echo "WGET-BEGIN"
wget -q -O - "http://10.0.2.2:$HTTPPORT/"
echo "WGET-END rc=$?"
nslookup gouml-nat.test 10.0.2.3
echo "NSLOOKUP-END rc=$?"
echo from-guest | nc -l -p 5555 > /tmp/nc.out &
NC=$!
echo "NC-LISTENING"
i=0
while kill -0 $NC 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
echo "NC-GOT $(cat /tmp/nc.out)"
poweroff -f
`

// natGuestB only takes a lease (a second guest must get its own).
const natGuestB = `#!/bin/sh
mount -t proc proc /proc
udhcpc -i eth0 -s /udhcpc.sh -n -q -t 20 -T 1 || echo DHCP-FAILED
poweroff -f
`

var natLeaseRE = regexp.MustCompile(`LEASE ip=(\S+) router=(\S+) dns=(\S+)`)

// TestRealUMLGuestsOnOurSwitchWithNAT is issue 8's acceptance on the switch: two real
// linux.uml guests on our uml_switch -nat, everything running as an ordinary user (nobody
// when the test runs as root): DHCP leases (distinct), HTTP to a server on the host's
// loopback through 10.0.2.2, DNS through the forwarder to the test's stub resolver, and a
// host-side -forward reaching nc listening in a guest. All traffic stays on this machine.
func TestRealUMLGuestsOnOurSwitchWithNAT(t *testing.T) {
	testenv.Tool(t, "linux.uml")
	sw := testenv.Program(t, "uml_switch")
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	shared := func() string { // a directory the unprivileged user owns
		d, err := os.MkdirTemp("", "gouml-nat-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		os.Chmod(d, 0o755)
		if cred != nil {
			os.Chown(d, int(cred.Uid), int(cred.Gid))
		}
		return d
	}
	w := shared()
	page := "page from the host loopback"
	httpPort := usernettest.HostHTTP(t, page)
	dns := usernettest.StubResolver(t, "gouml-nat.test", netip.MustParseAddr("192.0.2.77")).String()
	fwdPort := natFreeTCPPort(t)

	ctl := filepath.Join(w, "sw.ctl")
	var swOut testenv.SafeBuffer
	swCmd := exec.Command(sw, "-unix", ctl, "-nat", "-nat-dns", dns,
		"-forward", fmt.Sprintf("tcp:%d:10.0.2.15:5555", fwdPort))
	swCmd.Stdout, swCmd.Stderr = &swOut, &swOut
	if cred != nil {
		swCmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := swCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { swCmd.Process.Signal(syscall.SIGINT); swCmd.Wait() })
	if !testenv.WaitFor(20*time.Second, func() bool { return strings.Contains(swOut.String(), "nat gateway on '10.0.2.0/24'") }) {
		t.Fatalf("switch did not start with the NAT gateway:\n%s", swOut.String())
	}

	boot := func(init, mac string, env ...string) (*exec.Cmd, *testenv.SafeBuffer) {
		root := testenv.BusyboxRoot(t, map[string]string{"/udhcpc.sh": usernettest.UDHCPCScript, "/t.sh": init})
		os.Chmod(filepath.Dir(root), 0o755)
		u := &testenv.UML{Root: root, Init: "/t.sh", UmlDir: shared(), Dir: shared(), Credential: cred, Timeout: 4 * time.Minute,
			Args: append([]string{fmt.Sprintf("eth0=daemon,%s,unix,%s", mac, ctl)}, env...)}
		return u.Start(t)
	}
	aCmd, aOut := boot(natGuestA, "fe:fd:0a:00:02:0a", fmt.Sprintf("HTTPPORT=%d", httpPort))
	if !testenv.WaitFor(3*time.Minute, func() bool { return strings.Contains(aOut.String(), "NC-LISTENING") }) {
		t.Fatalf("guest A never got to its listener\n--- console ---\n%s\n--- switch ---\n%s", aOut.String(), swOut.String())
	}
	// The second guest boots while the first one waits for the forwarded connection.
	bCmd, bOut := boot(natGuestB, "fe:fd:0a:00:02:0b")

	var fromGuest string
	for end := time.Now().Add(90 * time.Second); fromGuest == "" && time.Now().Before(end); {
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", fwdPort), 2*time.Second)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "from-host\n")
		c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		c.Close()
		fromGuest = strings.TrimSpace(string(b))
		if fromGuest == "" {
			time.Sleep(500 * time.Millisecond)
		}
	}
	for name, c := range map[string]*exec.Cmd{"A": aCmd, "B": bCmd} {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			console := aOut.String()
			if name == "B" {
				console = bOut.String()
			}
			if err != nil && !(c.ProcessState != nil && c.ProcessState.Success()) && !testenv.HaltedCleanly(t, err, console) {
				t.Errorf("guest %s: %v", name, err)
			}
		case <-time.After(3 * time.Minute):
			c.Process.Kill()
			t.Errorf("guest %s did not power off", name)
		}
	}
	a, b := aOut.String(), bOut.String()
	la, lb := natLeaseRE.FindStringSubmatch(a), natLeaseRE.FindStringSubmatch(b)
	switch {
	case la == nil || lb == nil:
		t.Errorf("a guest got no lease")
	case la[2] != "10.0.2.2" || la[3] != "10.0.2.3":
		t.Errorf("lease A: router %s dns %s, want 10.0.2.2 and 10.0.2.3", la[2], la[3])
	case la[1] != "10.0.2.15":
		t.Errorf("first guest's lease is %s, want 10.0.2.15 (the forward targets it)", la[1])
	case la[1] == lb[1]:
		t.Errorf("both guests got %s", la[1])
	}
	if !strings.Contains(a, "WGET-BEGIN\r\n"+page) && !strings.Contains(a, "WGET-BEGIN\n"+page) {
		t.Errorf("guest did not fetch the host's page")
	}
	if !strings.Contains(a, "192.0.2.77") || !strings.Contains(a, "NSLOOKUP-END rc=0") {
		t.Errorf("the DNS name did not resolve through the forwarder")
	}
	if fromGuest != "from-guest" || !strings.Contains(a, "NC-GOT from-host") {
		t.Errorf("forward: host got %q; guest side missing", fromGuest)
	}
	if t.Failed() {
		t.Logf("--- guest A ---\n%s\n--- guest B ---\n%s\n--- switch ---\n%s", a, b, swOut.String())
	}
}

func natFreeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestNATOptionErrors: gateway options are checked before anything is bound; a bad one is
// one line naming it, then the usage text, exit status 1.
func TestNATOptionErrors(t *testing.T) {
	sw := testenv.Program(t, "uml_switch")
	ctl := filepath.Join(t.TempDir(), "sw.ctl")
	for args, want := range map[string]string{
		"-nat-allow all":                   "option -nat-allow needs -nat",
		"-nat 10.0.2.1/24":                 "-nat:",
		"-nat -forward udp:1:2:3":          "forward",
		"-nat -nat-max-conns lots":         "is not a positive number",
		"-nat -forward tcp:80:10.9.9.9:80": "10.9.9.9",
	} {
		cmd := exec.Command(sw, append([]string{"-unix", ctl}, strings.Fields(args)...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%s: %v, want exit status 1", args, err)
		}
		first, _, _ := strings.Cut(stderr.String(), "\n")
		if !strings.HasPrefix(first, sw+": ") || !strings.Contains(first, want) || !strings.Contains(stderr.String(), "Usage : ") {
			t.Errorf("%s: stderr %q, want a line containing %q and the usage", args, stderr.String(), want)
		}
		if _, err := os.Stat(ctl); err == nil {
			t.Errorf("%s: control socket created despite the error", args)
		}
	}
}
