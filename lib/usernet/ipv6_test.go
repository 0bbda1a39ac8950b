package usernet

import (
	"context"
	"encoding/binary"
	"fmt"
	"github.com/gouml/gouml/lib/testenv"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

var guest6 = netip.MustParseAddr("fd00:10:0:2::15")

// guestStack6 is a netstack guest with IPv6 only, at guest6, default route via the
// gateway's link-local address.
func guestStack6(t *testing.T, g *Gateway, mac string) *stack.Stack {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	ch := channel.New(512, MTU+header.EthernetMinimumSize, tcpip.LinkAddress(hw))
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol6},
	})
	if err := s.CreateNIC(1, ethernet.New(ch)); err != nil {
		t.Fatal(err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpAddr6(guest6), PrefixLen: 64}}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	sub, _ := tcpip.NewSubnet(tcpAddr6(g.prefix6.Addr()), tcpip.MaskFromBytes(net.CIDRMask(64, 128)))
	s.SetRouteTable([]tcpip.Route{{Destination: sub, NIC: 1}, {Destination: header.IPv6EmptySubnet, Gateway: tcpAddr6(g.ll6), NIC: 1}})
	ours, theirs := Pipe()
	g.Attach(theirs)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			pkt := ch.ReadContext(ctx)
			if pkt == nil {
				return
			}
			v := pkt.ToView()
			ours.WriteFrame(v.AsSlice())
			v.Release()
			pkt.DecRef()
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, err := ours.ReadFrame(buf)
			if err != nil {
				return
			}
			pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(buf[:n])})
			ch.InjectInbound(header.Ethernet(buf[:n]).Type(), pkt)
			pkt.DecRef()
		}
	}()
	t.Cleanup(func() { cancel(); ours.Close(); wg.Wait(); s.Close() })
	return s
}

// icmp6Frame makes a guest's ICMPv6 message from src to dst.
func icmp6Frame(r *rawGuest, dstMAC tcpip.LinkAddress, src, dst netip.Addr, hops uint8, body []byte) []byte {
	return buildIPv6(r.mac, dstMAC, src, dst, hops, header.ICMPv6ProtocolNumber, body)
}

// isICMPv6 matches an ICMPv6 frame of type typ.
func isICMPv6(typ header.ICMPv6Type) func([]byte) bool {
	return func(f []byte) bool {
		if len(f) < header.EthernetMinimumSize+header.IPv6MinimumSize+header.ICMPv6MinimumSize || header.Ethernet(f).Type() != header.IPv6ProtocolNumber {
			return false
		}
		ip := header.IPv6(f[header.EthernetMinimumSize:])
		proto, _ := ip.TryParseTransportProtocol()
		return proto == header.ICMPv6ProtocolNumber && header.ICMPv6(ip.Payload()).Type() == typ
	}
}

// validICMPv6 checks an emitted ICMPv6 message's checksum.
func validICMPv6(t *testing.T, f []byte) {
	t.Helper()
	ip := header.IPv6(f[header.EthernetMinimumSize:])
	b := ip.Payload()
	x := header.PseudoHeaderChecksum(header.ICMPv6ProtocolNumber, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(b)))
	if checksum.Checksum(b, x) != 0xffff {
		t.Fatalf("icmpv6 type %d: bad checksum", b[0])
	}
}

// TestIPv6RouterAdvertisement: a router solicitation gets an advertisement of the /64
// from the gateway's link-local address (hop limit 255, SLAAC prefix, the gateway's MAC);
// a solicitation that crossed a router (hop limit below 255) gets none, nor does any
// solicitation when IPv6 is off.
func TestIPv6RouterAdvertisement(t *testing.T) {
	g := testGateway(t, Config{})
	r := newRawGuest(t, g, "52:54:00:00:00:15", netip.Addr{})
	rs := make([]byte, 8)
	rs[0] = byte(header.ICMPv6RouterSolicit)
	allRouters := netip.MustParseAddr("ff02::2")
	allRoutersMAC := tcpip.LinkAddress("\x33\x33\x00\x00\x00\x02")
	r.link.WriteFrame(icmp6Frame(r, allRoutersMAC, netip.IPv6Unspecified(), allRouters, 255, rs))
	f := r.next(t, "router advertisement", isICMPv6(header.ICMPv6RouterAdvert))
	validICMPv6(t, f)
	ip := header.IPv6(f[header.EthernetMinimumSize:])
	if netAddr(ip.SourceAddress()) != g.ll6 || !g.ll6.IsLinkLocalUnicast() || ip.HopLimit() != 255 {
		t.Fatalf("advertisement from %s hop limit %d", netAddr(ip.SourceAddress()), ip.HopLimit())
	}
	ra := ip.Payload()[header.ICMPv6HeaderSize:]
	if binary.BigEndian.Uint16(ra[2:]) == 0 {
		t.Fatal("router lifetime 0: guests would not route through the gateway")
	}
	var prefix netip.Prefix
	var slla tcpip.LinkAddress
	for o := ra[header.NDPRAMinimumSize:]; len(o) >= 8 && o[1] != 0 && int(o[1])*8 <= len(o); o = o[int(o[1])*8:] {
		switch o[0] {
		case 1:
			slla = tcpip.LinkAddress(o[2:8])
		case 3:
			if o[3]&0xc0 != 0xc0 {
				t.Fatalf("prefix flags %#x, want on-link and autonomous", o[3])
			}
			prefix = netip.PrefixFrom(netip.AddrFrom16([16]byte(o[16:32])), int(o[2]))
		}
	}
	if prefix != DefaultIPv6Prefix || slla != g.mac {
		t.Fatalf("advertised prefix %s from %s, want %s from %s", prefix, slla, DefaultIPv6Prefix, g.mac)
	}
	r.link.WriteFrame(icmp6Frame(r, allRoutersMAC, netip.IPv6Unspecified(), allRouters, 64, rs))
	r.none(t, "advertisement for a forwarded solicitation", 300*time.Millisecond, isICMPv6(header.ICMPv6RouterAdvert))

	off := testGateway(t, Config{NoIPv6: true})
	ro := newRawGuest(t, off, "52:54:00:00:00:16", netip.Addr{})
	ro.link.WriteFrame(icmp6Frame(ro, allRoutersMAC, netip.IPv6Unspecified(), allRouters, 255, rs))
	ro.none(t, "advertisement with IPv6 off", 300*time.Millisecond, isICMPv6(header.ICMPv6RouterAdvert))
}

// TestIPv6EchoAndNeighbours: the gateway answers neighbour solicitations for its own
// addresses only, and echo only at its own addresses (others get administratively
// prohibited).
func TestIPv6EchoAndNeighbours(t *testing.T) {
	g := testGateway(t, Config{})
	r := newRawGuest6(t, g, "52:54:00:00:00:15", netip.Addr{}, guest6)
	ns := func(target netip.Addr) []byte {
		b := make([]byte, 32)
		b[0] = byte(header.ICMPv6NeighborSolicit)
		a := target.As16()
		copy(b[8:24], a[:])
		b[24], b[25] = 1, 1
		copy(b[26:32], r.mac)
		sn := netAddr(header.SolicitedNodeAddr(tcpAddr6(target)))
		snMAC := header.EthernetAddressFromMulticastIPv6Address(tcpAddr6(sn))
		return icmp6Frame(r, snMAC, guest6, sn, 255, b)
	}
	isNAFor := func(target netip.Addr) func([]byte) bool {
		return func(f []byte) bool {
			if !isICMPv6(header.ICMPv6NeighborAdvert)(f) {
				return false
			}
			b := header.IPv6(f[header.EthernetMinimumSize:]).Payload()
			return len(b) >= 24 && netip.AddrFrom16([16]byte(b[8:24])) == target
		}
	}
	r.link.WriteFrame(ns(g.gw6))
	if f := r.next(t, "neighbour advertisement for the gateway", isNAFor(g.gw6)); header.Ethernet(f).SourceAddress() != g.mac {
		t.Fatalf("gateway address advertised at %s", header.Ethernet(f).SourceAddress())
	}
	other := netip.MustParseAddr("fd00:10:0:2::16")
	r.link.WriteFrame(ns(other))
	r.none(t, "neighbour advertisement for another guest's address", 300*time.Millisecond, isNAFor(other))

	echo := func(dst netip.Addr) []byte {
		b := make([]byte, 12)
		b[0] = byte(header.ICMPv6EchoRequest)
		copy(b[8:], "ping")
		return icmp6Frame(r, g.mac, guest6, dst, 64, b)
	}
	r.link.WriteFrame(echo(g.gw6))
	f := r.next(t, "echo reply from the gateway", isICMPv6(header.ICMPv6EchoReply))
	if src := netAddr(header.IPv6(f[header.EthernetMinimumSize:]).SourceAddress()); src != g.gw6 {
		t.Fatalf("echo reply from %s", src)
	}
	outside := netip.MustParseAddr("2001:db8::1")
	r.link.WriteFrame(echo(outside))
	f = r.next(t, "unreachable for an outside echo", isICMPv6(header.ICMPv6DstUnreachable))
	validICMPv6(t, f)
	if c := header.ICMPv6(header.IPv6(f[header.EthernetMinimumSize:]).Payload()).Code(); c != header.ICMPv6Prohibited {
		t.Fatalf("unreachable code %d", c)
	}
	r.none(t, "echo reply from an outside address", 300*time.Millisecond, isICMPv6(header.ICMPv6EchoReply))
}

// TestIPv6TCPAndUDPToHostLoopback: a guest's TCP connection and UDP flow to the gateway's
// IPv6 address reach services on the host's ::1; nothing else is dialled.
func TestIPv6TCPAndUDPToHostLoopback(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this host: %v", err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				c.Write(append([]byte("host got "), b...))
			}()
		}
	}()
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("answer:"), buf[:n]...), from)
		}
	}()
	d := &recordingDial{}
	g := testGateway(t, Config{Dial: d.dial})
	s := guestStack6(t, g, "52:54:00:00:00:15")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tport := uint16(l.Addr().(*net.TCPAddr).Port)
	c, err := gonet.DialContextTCP(ctx, s, tcpip.FullAddress{NIC: 1, Addr: tcpAddr6(g.gw6), Port: tport}, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatalf("tcp to [%s]:%d: %v", g.gw6, tport, err)
	}
	if got := roundTrip(t, c, "hello"); got != "host got hello" {
		t.Fatalf("tcp through the gateway: %q", got)
	}
	uport := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	u, err := gonet.DialUDP(s, nil, &tcpip.FullAddress{NIC: 1, Addr: tcpAddr6(g.gw6), Port: uport}, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	buf := make([]byte, 100)
	got := ""
	for i := 0; i < 5 && got == ""; i++ {
		u.Write([]byte("q"))
		u.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := u.Read(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "answer:q" {
		t.Fatalf("udp through the gateway: %q", got)
	}
	for _, a := range d.dialled() {
		if a != "tcp6 [::1]:"+itoa(tport) && a != "udp6 [::1]:"+itoa(uport) {
			t.Fatalf("the gateway dialled %s", a)
		}
	}
}

func itoa(p uint16) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[len("0.0.0.0:"):]
}

// TestIPv6PolicyRefusesWithoutDialling: outside IPv6 destinations are refused even with
// AllowAll (which names IPv4 networks), as is the host's ::1 addressed directly and the
// gateway address under NoHostLoopback; none of them makes the host dial.
func TestIPv6PolicyRefusesWithoutDialling(t *testing.T) {
	d := &recordingDial{}
	g := testGateway(t, Config{Dial: d.dial, Allow: AllowAll, NoHostLoopback: true})
	s := guestStack6(t, g, "52:54:00:00:00:15")
	for _, dst := range []string{"2001:db8::1", "::1", "fd00:10:0:2::2", "fd00:10:0:2::3"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := gonet.DialContextTCP(ctx, s, tcpip.FullAddress{NIC: 1, Addr: tcpAddr6(netip.MustParseAddr(dst)), Port: 80}, ipv6.ProtocolNumber)
		cancel()
		if err == nil {
			c.Close()
			t.Errorf("tcp to [%s]:80 was accepted", dst)
		}
	}
	if got := d.dialled(); len(got) != 0 {
		t.Fatalf("refused flows dialled %v", got)
	}
}

// umlModule returns guest files holding a module of Debian's linux.uml and its
// dependencies (from modules.dep), and the guest commands that load them in order.
// Debian's kernel has IPv6 as a module (CONFIG_IPV6=m).
func umlModule(t *testing.T, mod string) (map[string]string, string) {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/uml/modules/*")
	if len(dirs) == 0 {
		t.Fatal("no /usr/lib/uml/modules/VERSION (user-mode-linux ships the kernel's modules)")
	}
	dir := dirs[len(dirs)-1]
	dep, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	var chain []string
	for _, line := range strings.Split(string(dep), "\n") {
		if name, deps, ok := strings.Cut(line, ":"); ok && name == mod {
			// modules.dep lists the deepest dependency last; it loads first.
			ds := strings.Fields(deps)
			for i := len(ds) - 1; i >= 0; i-- {
				chain = append(chain, ds[i])
			}
			chain = append(chain, mod)
			break
		}
	}
	if chain == nil {
		t.Fatalf("%s not in %s/modules.dep", mod, dir)
	}
	files := map[string]string{}
	var cmds []string
	for i, m := range chain {
		ko, err := os.ReadFile(filepath.Join(dir, m))
		if err != nil {
			t.Fatal(err)
		}
		p := fmt.Sprintf("/mod%d.ko", i)
		files[p] = string(ko)
		cmds = append(cmds, fmt.Sprintf("insmod %s || echo INSMOD-FAILED %s", p, filepath.Base(m)))
	}
	return files, strings.Join(cmds, "\n")
}

// hostHTTP6 serves body on the host's [::1] until the test ends and returns the port.
func hostHTTP6(t *testing.T, body string) int {
	t.Helper()
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this host: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// TestRealUMLGuestIPv6ThroughGateway boots the real linux.uml on a ucast link to the
// gateway with IPv6 only (no IPv4 address): the guest's kernel configures itself from the router
// advertisement (SLAAC address in fd00:10:0:2::/64, default route via the gateway), pings
// the gateway, fetches a page from the host's [::1] through [fd00:10:0:2::2], and is
// refused an outside address; the host dials nothing but ::1.
func TestRealUMLGuestIPv6ThroughGateway(t *testing.T) {
	testenv.Tool(t, "linux.uml")
	page := "hello over ipv6 " + t.Name()
	httpPort := hostHTTP6(t, page)
	var log testenv.SafeBuffer
	d := &recordingDial{}
	g := testGateway(t, Config{Dial: d.dial, Logf: func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) }})
	files, insmod := umlModule(t, "kernel/net/ipv6/ipv6.ko")
	eth0 := ucastGuest(t, g, "52:54:00:12:34:56")
	files["/t.sh"] = `#!/bin/sh
mount -t proc proc /proc
` + insmod + `
ip link set lo up
ip link set eth0 up
i=0
while [ $i -lt 150 ]; do
	ip -6 addr show dev eth0 | grep 'fd00:10:0:2:' | grep -qv tentative && break
	sleep 0.1; i=$((i+1))
done
ip -6 addr show dev eth0
echo "ROUTES-BEGIN"
ip -6 route show
echo "ROUTES-END"
ping6 -c 2 -w 10 fd00:10:0:2::2
echo "PING6-END rc=$?"
echo "WGET6-BEGIN"
wget -q -O - "http://[fd00:10:0:2::2]:$HTTPPORT/"
echo "WGET6-END rc=$?"
wget -q -O - "http://[2001:db8::1]/"
echo "OUTSIDE6-END rc=$?"
poweroff -f
`
	root := testenv.BusyboxRoot(t, files)
	u := &testenv.UML{Root: root, Init: "/t.sh", Args: []string{eth0, fmt.Sprintf("HTTPPORT=%d", httpPort)}, Timeout: 90 * time.Second}
	console := u.Run(t)
	fail := func(what string) {
		t.Errorf("%s\n--- console ---\n%s\n--- gateway ---\n%s", what, console, log.String())
	}
	if !regexp.MustCompile(`inet6 fd00:10:0:2:5054:ff:fe12:3456/64 scope global`).MatchString(console) {
		fail("the guest has no SLAAC address from the advertised prefix")
	}
	if !regexp.MustCompile(`(?s)ROUTES-BEGIN.*default via fe80::5055:aff:fe00:202 dev eth0.*ROUTES-END`).MatchString(console) {
		fail("the guest has no default route via the gateway's link-local address")
	}
	if !strings.Contains(console, "PING6-END rc=0") {
		fail("ping6 to the gateway failed")
	}
	if !strings.Contains(console, "WGET6-BEGIN\r\n"+page) && !strings.Contains(console, "WGET6-BEGIN\n"+page) || !strings.Contains(console, "WGET6-END rc=0") {
		fail("wget over IPv6 did not print the host's page")
	}
	if strings.Contains(console, "OUTSIDE6-END rc=0") || !strings.Contains(console, "OUTSIDE6-END") {
		fail("wget to an outside IPv6 address was not refused")
	}
	for _, a := range d.dialled() {
		if a != fmt.Sprintf("tcp6 [::1]:%d", httpPort) {
			fail("the gateway dialled " + a)
		}
	}
}
