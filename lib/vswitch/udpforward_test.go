package vswitch_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// udpGuest serves UDP with the udpecho helper (busybox nc has no UDP mode) until the host
// sends "quit".
const udpGuest = `#!/bin/sh
mount -t proc proc /proc
ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
route add default gw 10.0.2.2
/bin/udpecho -port 5556 -timeout 120s
poweroff -f
`

// buildUDPEcho builds the guest's UDP server (static, so it runs in the busybox root).
func buildUDPEcho(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "udpecho")
	cmd := exec.Command("go", "build", "-o", out, "./lib/vswitch/testdata/udpecho")
	cmd.Dir = testenv.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building udpecho: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func natFreeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// udpExchange sends msg on c until the guest's echo comes back (the first datagrams may be
// lost while the gateway resolves the guest's address), within the deadline.
func udpExchange(c *net.UDPConn, msg string, deadline time.Time) (string, error) {
	buf := make([]byte, 2048)
	for time.Now().Before(deadline) {
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", fmt.Errorf("no reply to %q", msg)
}

var udpGotRE = regexp.MustCompile(`UDPECHO-GOT "([^"]*)" from (\S+)`)

// TestRealUMLGuestUDPForwardOnOurSwitch: a real linux.uml guest on our uml_switch -nat
// serves UDP on 10.0.2.15:5556; the host reaches it through -forward udp:HOSTPORT:... from
// two sockets (two flows). Each sender gets its own replies, and the guest sees every
// datagram come from the gateway address. All traffic stays on this machine.
func TestRealUMLGuestUDPForwardOnOurSwitch(t *testing.T) {
	testenv.Tool(t, "linux.uml")
	sw := testenv.Program(t, "uml_switch")
	echo := buildUDPEcho(t)
	ctl := filepath.Join(t.TempDir(), "sw.ctl")
	hostPort := natFreeUDPPort(t)
	var swOut testenv.SafeBuffer
	swCmd := exec.Command(sw, "-unix", ctl, "-nat", "-debug", "-nat-dns", "127.0.0.1:9",
		"-forward", fmt.Sprintf("udp:%d:10.0.2.15:5556", hostPort))
	swCmd.Stdout, swCmd.Stderr = &swOut, &swOut
	if err := swCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { swCmd.Process.Signal(syscall.SIGINT); swCmd.Wait() })
	if !testenv.WaitFor(20*time.Second, func() bool { return strings.Contains(swOut.String(), "nat gateway on '10.0.2.0/24'") }) {
		t.Fatalf("switch did not start with the NAT gateway:\n%s", swOut.String())
	}
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": udpGuest, "/bin/udpecho": string(echo)})
	u := &testenv.UML{Root: root, Init: "/t.sh", Timeout: 3 * time.Minute,
		Args: []string{"eth0=daemon,fe:fd:0a:00:02:0f,unix," + ctl}}
	cmd, out := u.Start(t)
	if !testenv.WaitFor(2*time.Minute, func() bool { return strings.Contains(out.String(), "UDPECHO-READY") }) {
		t.Fatalf("guest's UDP server never started\n--- console ---\n%s\n--- switch ---\n%s", out.String(), swOut.String())
	}

	fwd := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: hostPort}
	var peers []*net.UDPConn
	for i := 0; i < 2; i++ {
		c, err := net.DialUDP("udp4", nil, fwd)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		peers = append(peers, c)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, x := range []struct {
		peer int
		msg  string
	}{{0, "one from A"}, {1, "two from B"}, {0, "three from A"}, {1, "quit"}} {
		got, err := udpExchange(peers[x.peer], x.msg, deadline)
		if err != nil || got != "echo:"+x.msg {
			t.Errorf("peer %d sent %q: reply %q, %v", x.peer, x.msg, got, err)
		}
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil && !testenv.HaltedCleanly(t, err, out.String()) {
			t.Errorf("guest: %v", err)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Errorf("guest did not power off")
	}
	console := out.String()
	got := udpGotRE.FindAllStringSubmatch(console, -1)
	if len(got) < 4 || !strings.Contains(console, "UDPECHO-DONE") {
		t.Errorf("guest logged %d datagrams, want at least 4 and the end", len(got))
	}
	// Two senders are two flows: two gateway ports, and every datagram from 10.0.2.2.
	srcPorts := map[string]bool{}
	for _, m := range got {
		host, port, _ := net.SplitHostPort(m[2])
		if host != "10.0.2.2" {
			t.Errorf("guest got %q from %s, want the gateway address", m[1], m[2])
		}
		srcPorts[port] = true
	}
	if len(srcPorts) != 2 {
		t.Errorf("guest saw source ports %v, want one per host sender (2)", srcPorts)
	}
	if t.Failed() {
		t.Logf("--- console ---\n%s\n--- switch ---\n%s", console, swOut.String())
	}
}
