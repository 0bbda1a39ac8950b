package usernet

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"github.com/gouml/gouml/lib/usernet/usernettest"
)

// freeUDPPort returns a UDP port that was free a moment ago (for the guest's ucast bind).
func freeUDPPort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// ucastGuest attaches a ucast link to g and returns the eth0= argument for a guest.
func ucastGuest(t *testing.T, g *Gateway, mac string) string {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	gport := freeUDPPort(t)
	l, err := ListenUcast(netip.AddrPortFrom(lo, 0), netip.AddrPortFrom(lo, gport))
	if err != nil {
		t.Fatal(err)
	}
	var link Link = l
	if dir := os.Getenv("GOUML_USERNET_CAPTURE"); dir != "" {
		// Used to refresh the fuzz seed corpora with real guest frames.
		link = &captureLink{Link: l, dir: dir, prefix: strings.ReplaceAll(mac, ":", "")}
	}
	g.Attach(link)
	return fmt.Sprintf("eth0=ucast,%s,127.0.0.1,%d,%d", mac, gport, l.LocalAddr().Port())
}

// captureLink saves every frame read from the guest into dir.
type captureLink struct {
	Link
	dir    string
	prefix string
	n      int
}

func (c *captureLink) ReadFrame(buf []byte) (int, error) {
	n, err := c.Link.ReadFrame(buf)
	if err == nil {
		c.n++
		os.WriteFile(filepath.Join(c.dir, fmt.Sprintf("%s-%04d", c.prefix, c.n)), buf[:n], 0o644)
	}
	return n, err
}

var leaseRE = regexp.MustCompile(`LEASE ip=(\S+) router=(\S+) dns=(\S+)`)

// TestRealUMLGuestThroughGateway boots the real linux.uml with a ucast NIC attached to the
// gateway: DHCP, HTTP to the host's loopback through the gateway address, DNS through the
// forwarder, and a host port forwarded to a guest listener.
func TestRealUMLGuestThroughGateway(t *testing.T) {
	testenv.Tool(t, "linux.uml")
	page := "hello from the host loopback " + t.Name()
	httpPort := usernettest.HostHTTP(t, page)
	resolver := usernettest.StubResolver(t, "gouml-host.test", netip.MustParseAddr("192.0.2.77"))
	var log testenv.SafeBuffer
	d := &recordingDial{}
	g := testGateway(t, Config{
		Dial:      d.dial,
		Resolvers: []netip.AddrPort{resolver},
		Forwards:  []Forward{{Proto: "tcp", HostAddr: netip.MustParseAddr("127.0.0.1"), GuestAddr: guest15, GuestPort: 5555}},
		Logf:      func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) },
	})
	eth0 := ucastGuest(t, g, "52:54:00:12:34:56")
	root := testenv.BusyboxRoot(t, map[string]string{
		"/udhcpc.sh": usernettest.UDHCPCScript,
		"/t.sh": `#!/bin/sh
mount -t proc proc /proc
ifconfig lo 127.0.0.1 up
udhcpc -i eth0 -s /udhcpc.sh -n -q -t 10 -T 1 || echo DHCP-FAILED
echo "WGET-BEGIN"
wget -q -O - "http://10.0.2.2:$HTTPPORT/"
echo "WGET-END rc=$?"
nslookup gouml-host.test 10.0.2.3
echo "NSLOOKUP-END rc=$?"
wget -q -O - http://192.0.2.1/
echo "OUTSIDE-END rc=$?"
echo from-guest | nc -l -p 5555 > /tmp/nc.out &
NC=$!
echo "NC-LISTENING"
i=0
while kill -0 $NC 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
echo "NC-GOT $(cat /tmp/nc.out)"
poweroff -f
`,
	})
	u := &testenv.UML{Root: root, Init: "/t.sh", Args: []string{eth0, fmt.Sprintf("HTTPPORT=%d", httpPort)}, Timeout: 90 * time.Second}
	cmd, out := u.Start(t)
	if !testenv.WaitFor(60*time.Second, func() bool { return strings.Contains(out.String(), "NC-LISTENING") }) {
		t.Fatalf("guest never got to its listener\n--- console ---\n%s\n--- gateway ---\n%s", out.String(), log.String())
	}
	// Host side of the forward: reach the guest's nc.
	var fromGuest string
	for i := 0; i < 50 && fromGuest == ""; i++ {
		c, err := net.DialTimeout("tcp4", g.ForwardAddrs()[0].String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "from-host\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		fromGuest = strings.TrimSpace(line)
		if fromGuest == "" {
			time.Sleep(100 * time.Millisecond) // nc not listening yet: the guest reset us
		}
	}
	if err := cmd.Wait(); !testenv.HaltedCleanly(t, err, out.String()) {
		t.Fatalf("linux.uml: %v\n%s", err, out.String())
	}
	console := out.String()
	fail := func(what string) {
		t.Errorf("%s\n--- console ---\n%s\n--- gateway ---\n%s", what, console, log.String())
	}
	m := leaseRE.FindStringSubmatch(console)
	if m == nil || m[1] != "10.0.2.15" || m[2] != "10.0.2.2" || m[3] != "10.0.2.3" {
		fail(fmt.Sprintf("lease line %q, want ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3", m))
	}
	if !strings.Contains(console, "WGET-BEGIN\r\n"+page) && !strings.Contains(console, "WGET-BEGIN\n"+page) {
		fail("wget through the gateway did not print the host's page")
	}
	if !strings.Contains(console, "WGET-END rc=0") {
		fail("wget failed")
	}
	if !regexp.MustCompile(`Address:\s*192\.0\.2\.77`).MatchString(console) || !strings.Contains(console, "NSLOOKUP-END rc=0") {
		fail("nslookup through the dns forwarder did not return the stub's address")
	}
	if !strings.Contains(console, "Connection refused") || !strings.Contains(console, "OUTSIDE-END rc=1") {
		fail("wget to an outside address was not refused")
	}
	for _, a := range d.dialled() {
		if !strings.HasPrefix(a, "tcp4 127.0.0.1:") && !strings.HasPrefix(a, "udp4 127.0.0.1:") {
			fail("the gateway dialled " + a)
		}
	}
	if fromGuest != "from-guest" {
		fail(fmt.Sprintf("host end of the forward read %q, want from-guest", fromGuest))
	}
	if !strings.Contains(console, "NC-GOT from-host") {
		fail("the guest's nc did not receive the host's line")
	}
}

// TestRealUMLTwoGuestsSeparateLeases boots two real guests on two links of one gateway.
func TestRealUMLTwoGuestsSeparateLeases(t *testing.T) {
	testenv.Tool(t, "linux.uml")
	g := testGateway(t, Config{})
	script := map[string]string{
		"/udhcpc.sh": usernettest.UDHCPCScript,
		"/t.sh": `#!/bin/sh
udhcpc -i eth0 -s /udhcpc.sh -n -q -t 10 -T 1 || echo DHCP-FAILED
poweroff -f
`,
	}
	type run struct {
		wait func() error
		out  *testenv.SafeBuffer
	}
	var runs []run
	macs := []string{"52:54:00:00:aa:01", "52:54:00:00:aa:02"}
	for i, mac := range macs {
		u := &testenv.UML{Root: testenv.BusyboxRoot(t, script), Init: "/t.sh", Umid: fmt.Sprintf("%s%d", testenv.Umid(t), i),
			Args: []string{ucastGuest(t, g, mac)}, Timeout: 90 * time.Second}
		cmd, out := u.Start(t)
		runs = append(runs, run{cmd.Wait, out})
	}
	var ips []string
	for i, r := range runs {
		if err := r.wait(); err != nil {
			t.Fatalf("guest %d: %v\n%s", i, err, r.out.String())
		}
		m := leaseRE.FindStringSubmatch(r.out.String())
		if m == nil {
			t.Fatalf("guest %d got no lease\n%s", i, r.out.String())
		}
		ips = append(ips, m[1])
	}
	if ips[0] == ips[1] {
		t.Fatalf("both guests leased %s", ips[0])
	}
	leases := g.Leases()
	for i, mac := range macs {
		if leases[mac].String() != ips[i] {
			t.Errorf("gateway lease for %s is %v, guest %d configured %s", mac, leases[mac], i, ips[i])
		}
	}
}
