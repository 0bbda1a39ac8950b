package usernet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

var guest15 = netip.MustParseAddr("10.0.2.15")

func dialFrom(t *testing.T, s *stack.Stack, to string) (net.Conn, error) {
	t.Helper()
	ap := netip.MustParseAddrPort(to)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return gonet.DialContextTCP(ctx, s, tcpip.FullAddress{NIC: 1, Addr: tcpAddr(ap.Addr()), Port: ap.Port()}, ipv4.ProtocolNumber)
}

// hostEcho listens on 127.0.0.1 and echoes every connection in upper case.
func hostEcho(t *testing.T) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				c.Write(bytes.ToUpper(b))
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr)
}

func roundTrip(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.(interface{ CloseWrite() error }).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTCPToGatewayReachesHostLoopback(t *testing.T) {
	port := hostEcho(t).Port
	g := testGateway(t, Config{})
	s := guestStack(t, g, "52:54:00:00:00:15", guest15)
	c, err := dialFrom(t, s, netip.AddrPortFrom(g.cfg.Gateway, uint16(port)).String())
	if err != nil {
		t.Fatalf("guest connect to gateway:%d: %v", port, err)
	}
	defer c.Close()
	big := strings.Repeat("payload-", 100000) // 800 KB: more than every buffer on the way
	if got := roundTrip(t, c, big); got != strings.ToUpper(big) {
		t.Fatalf("echo through NAT: got %d bytes, want %d", len(got), len(big))
	}
}

func TestPolicyRefusesWithoutDialling(t *testing.T) {
	d := &recordingDial{}
	g := testGateway(t, Config{Dial: d.dial})
	s := guestStack(t, g, "52:54:00:00:00:15", guest15)
	for _, to := range []string{
		"192.0.2.1:80",   // outside, not allowed by default
		"10.0.2.3:80",    // dns address, wrong port
		"10.0.2.3:53",    // dns address, but no resolver configured
		"169.254.1.1:80", // link-local
	} {
		c, err := dialFrom(t, s, to)
		if err == nil {
			c.Close()
			t.Errorf("guest connect to %s succeeded, want refused", to)
			continue
		}
		if !strings.Contains(err.Error(), "refused") && !strings.Contains(err.Error(), "no route to host") {
			t.Errorf("guest connect to %s: %v, want connection refused", to, err)
		}
	}
	if got := d.dialled(); len(got) != 0 {
		t.Fatalf("the gateway dialled %v for refused destinations", got)
	}
}

// synTo sends a hand-made TCP SYN to dst through the gateway's MAC.
func synTo(t *testing.T, g *Gateway, r *rawGuest, dst netip.AddrPort) {
	t.Helper()
	body := make([]byte, header.TCPMinimumSize)
	tc := header.TCP(body)
	tc.Encode(&header.TCPFields{SrcPort: 40000, DstPort: dst.Port(), SeqNum: 1, DataOffset: header.TCPMinimumSize, Flags: header.TCPFlagSyn, WindowSize: 65535})
	x := header.PseudoHeaderChecksum(header.TCPProtocolNumber, tcpAddr(guest15), tcpAddr(dst.Addr()), uint16(len(body)))
	tc.SetChecksum(^tc.CalculateChecksum(x))
	r.link.WriteFrame(buildIPv4(r.mac, g.mac, guest15, dst.Addr(), header.TCPProtocolNumber, body))
}

func isSynAck(f []byte) bool {
	if !ipProto(f, header.TCPProtocolNumber) {
		return false
	}
	return header.TCP(header.IPv4(f[header.EthernetMinimumSize:]).Payload()).Flags().Contains(header.TCPFlagSyn | header.TCPFlagAck)
}

func TestPolicyRefusesHandMadeSYN(t *testing.T) {
	// Addresses a guest's own stack would never route to the gateway, sent anyway.
	d := &recordingDial{}
	g := testGateway(t, Config{Dial: d.dial, Allow: AllowAll})
	r := newRawGuest(t, g, "52:54:00:00:00:15", guest15)
	for _, dst := range []string{"127.0.0.1:22", "0.0.0.0:22", "224.0.0.1:22", "255.255.255.255:22", "169.254.169.254:80"} {
		synTo(t, g, r, netip.MustParseAddrPort(dst))
		f := r.next(t, "refusal of a SYN to "+dst, func(f []byte) bool {
			return ipProto(f, header.ICMPv4ProtocolNumber) || ipProto(f, header.TCPProtocolNumber)
		})
		if ipProto(f, header.TCPProtocolNumber) {
			t.Fatalf("SYN to %s answered with tcp flags %s, want icmp unreachable", dst, header.TCP(header.IPv4(f[header.EthernetMinimumSize:]).Payload()).Flags())
		}
		if ic := header.ICMPv4(header.IPv4(f[header.EthernetMinimumSize:]).Payload()); ic.Type() != header.ICMPv4DstUnreachable || ic.Code() != header.ICMPv4AdminProhibited {
			t.Fatalf("SYN to %s answered with icmp %d/%d", dst, ic.Type(), ic.Code())
		}
	}
	// Another guest's address sent to the gateway's MAC: not forwarded, not answered.
	synTo(t, g, r, netip.MustParseAddrPort("10.0.2.99:22"))
	r.none(t, "answer to a SYN for another guest", 300*time.Millisecond, isSynAck)
	if got := d.dialled(); len(got) != 0 {
		t.Fatalf("the gateway dialled %v", got)
	}
}

func TestPolicyAllowOutsideDials(t *testing.T) {
	// The test dialer never connects out: it records and refuses, and the guest sees a reset.
	d := &recordingDial{}
	g := testGateway(t, Config{Dial: d.dial, Allow: AllowAll})
	s := guestStack(t, g, "52:54:00:00:00:15", guest15)
	if c, err := dialFrom(t, s, "192.0.2.1:80"); err == nil {
		c.Close()
		t.Fatal("connect succeeded although the host dial failed")
	}
	if c, err := dialFrom(t, s, "127.0.0.2:80"); err == nil {
		c.Close()
		t.Fatal("connect to loopback 127.0.0.2 succeeded")
	}
	got := d.dialled()
	if len(got) != 1 || got[0] != "tcp4 192.0.2.1:80" {
		t.Fatalf("dialled %v, want exactly [tcp4 192.0.2.1:80] (never loopback 127.0.0.2)", got)
	}
}

func TestDecide(t *testing.T) {
	g := testGateway(t, Config{Allow: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
		Resolvers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5353")}})
	cases := []struct {
		dst    string
		port   uint16
		target string
	}{
		{"10.0.2.2", 80, "127.0.0.1:80"},
		{"10.0.2.3", 53, "127.0.0.1:5353"},
		{"10.0.2.3", 54, ""},
		{"10.0.2.20", 80, ""},
		{"198.51.100.7", 443, "198.51.100.7:443"},
		{"198.51.101.7", 443, ""},
		{"127.0.0.1", 80, ""},
		{"0.0.0.0", 80, ""},
		{"224.0.0.1", 80, ""},
		{"255.255.255.255", 80, ""},
		{"169.254.169.254", 80, ""},
	}
	for _, c := range cases {
		target, why, ok := g.Decide("tcp", netip.MustParseAddr(c.dst), c.port)
		if ok != (c.target != "") || (ok && target.String() != c.target) {
			t.Errorf("Decide(%s:%d) = %v %q %v, want %q", c.dst, c.port, target, why, ok, c.target)
		}
	}
	g2 := testGateway(t, Config{NoHostLoopback: true})
	if _, _, ok := g2.Decide("tcp", netip.MustParseAddr("10.0.2.2"), 80); ok {
		t.Error("NoHostLoopback still maps the gateway to the host")
	}
}

func TestUDPRefusedGetsPortUnreachable(t *testing.T) {
	d := &recordingDial{}
	g := testGateway(t, Config{Dial: d.dial})
	r := newRawGuest(t, g, "52:54:00:00:00:15", guest15)
	outside := netip.MustParseAddr("192.0.2.1")
	r.link.WriteFrame(buildUDP(r.mac, g.mac, guest15, outside, 4000, 53, []byte("query")))
	f := r.next(t, "icmp unreachable", func(f []byte) bool { return ipProto(f, header.ICMPv4ProtocolNumber) })
	ip := header.IPv4(f[header.EthernetMinimumSize:])
	ic := header.ICMPv4(ip.Payload())
	if ic.Type() != header.ICMPv4DstUnreachable || netAddr(ip.DestinationAddress()) != guest15 {
		t.Fatalf("got icmp type %d code %d to %s", ic.Type(), ic.Code(), netAddr(ip.DestinationAddress()))
	}
	if got := d.dialled(); len(got) != 0 {
		t.Fatalf("dialled %v", got)
	}
}

// stubDNS answers every query on 127.0.0.1 with the query echoed back with a marker.
func stubUDP(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
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
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestUDPToDNSReachesResolver(t *testing.T) {
	stub := stubUDP(t)
	g := testGateway(t, Config{Resolvers: []netip.AddrPort{stub}})
	s := guestStack(t, g, "52:54:00:00:00:15", guest15)
	c, err := gonet.DialUDP(s, nil, &tcpip.FullAddress{NIC: 1, Addr: tcpAddr(g.cfg.DNS), Port: 53}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	for i := 0; ; i++ { // the first datagram may wait for ARP
		c.Write([]byte("q1"))
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			if got := string(buf[:n]); got != "answer:q1" {
				t.Fatalf("dns reply %q", got)
			}
			return
		}
		if i == 4 {
			t.Fatalf("no dns reply: %v", err)
		}
	}
}

func TestForwardReachesGuest(t *testing.T) {
	g := testGateway(t, Config{Forwards: []Forward{{Proto: "tcp", HostAddr: netip.MustParseAddr("127.0.0.1"), GuestAddr: guest15, GuestPort: 8080}}})
	s := guestStack(t, g, "52:54:00:00:00:15", guest15)
	l, err := gonet.ListenTCP(s, tcpip.FullAddress{NIC: 1, Port: 8080}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		c.Write(append([]byte("guest got "), b...))
	}()
	c, err := net.DialTimeout("tcp4", g.ForwardAddrs()[0].String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := roundTrip(t, c, "hello"); got != "guest got hello" {
		t.Fatalf("through forward: %q", got)
	}
}

func TestConnectionLimit(t *testing.T) {
	port := hostEcho(t).Port
	g := testGateway(t, Config{MaxConns: 2})
	s := guestStack(t, g, "52:54:00:00:00:15", guest15)
	to := netip.AddrPortFrom(g.cfg.Gateway, uint16(port)).String()
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := 0; i < 2; i++ {
		c, err := dialFrom(t, s, to)
		if err != nil {
			t.Fatalf("connection %d within the limit: %v", i+1, err)
		}
		open = append(open, c)
	}
	if c, err := dialFrom(t, s, to); err == nil {
		c.Close()
		t.Fatal("third connection accepted with MaxConns=2")
	}
}

func dhcpFrame(t *testing.T, mac net.HardwareAddr, m *dhcpv4.DHCPv4) []byte {
	t.Helper()
	return buildUDP(tcpip.LinkAddress(mac), header.EthernetBroadcastAddress, netip.IPv4Unspecified(),
		netip.AddrFrom4([4]byte{255, 255, 255, 255}), 68, 67, m.ToBytes())
}

func dhcpReply(t *testing.T, r *rawGuest, xid dhcpv4.TransactionID) *dhcpv4.DHCPv4 {
	t.Helper()
	var m *dhcpv4.DHCPv4
	r.next(t, "dhcp reply", func(f []byte) bool {
		if !ipProto(f, header.UDPProtocolNumber) {
			return false
		}
		ip := header.IPv4(f[header.EthernetMinimumSize:])
		u := header.UDP(ip.Payload())
		if u.DestinationPort() != 68 {
			return false
		}
		if !ip.IsChecksumValid() {
			t.Errorf("dhcp reply has a bad ip checksum")
		}
		x, err := dhcpv4.FromBytes(u.Payload())
		if err != nil || x.TransactionID != xid {
			return false
		}
		m = x
		return true
	})
	return m
}

func lease(t *testing.T, r *rawGuest, mac net.HardwareAddr) netip.Addr {
	t.Helper()
	d, err := dhcpv4.NewDiscovery(mac)
	if err != nil {
		t.Fatal(err)
	}
	r.link.WriteFrame(dhcpFrame(t, mac, d))
	offer := dhcpReply(t, r, d.TransactionID)
	if offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("reply to discover is %s", offer.MessageType())
	}
	req, err := dhcpv4.NewRequestFromOffer(offer)
	if err != nil {
		t.Fatal(err)
	}
	r.link.WriteFrame(dhcpFrame(t, mac, req))
	ack := dhcpReply(t, r, req.TransactionID)
	if ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("reply to request is %s", ack.MessageType())
	}
	if !ack.Router()[0].Equal(net.IPv4(10, 0, 2, 2)) || !ack.DNS()[0].Equal(net.IPv4(10, 0, 2, 3)) || ack.SubnetMask().String() != "ffffff00" {
		t.Fatalf("ack options: router %v dns %v mask %v", ack.Router(), ack.DNS(), ack.SubnetMask())
	}
	a, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
	return a
}

func TestDHCPLeases(t *testing.T) {
	g := testGateway(t, Config{})
	m1, _ := net.ParseMAC("52:54:00:00:00:01")
	m2, _ := net.ParseMAC("52:54:00:00:00:02")
	r1 := newRawGuest(t, g, m1.String(), netip.Addr{})
	r2 := newRawGuest(t, g, m2.String(), netip.Addr{})
	a1, a2 := lease(t, r1, m1), lease(t, r2, m2)
	if a1.String() != "10.0.2.15" || a2.String() != "10.0.2.16" {
		t.Fatalf("leases %s %s, want 10.0.2.15 and 10.0.2.16", a1, a2)
	}
	if again := lease(t, r1, m1); again != a1 {
		t.Fatalf("second lease for the same mac: %s, want %s", again, a1)
	}
	// Asking for someone else's address gets a NAK.
	req, _ := dhcpv4.New(dhcpv4.WithHwAddr(m1), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(a2.AsSlice()))))
	r1.link.WriteFrame(dhcpFrame(t, m1, req))
	if nak := dhcpReply(t, r1, req.TransactionID); nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("request for another client's address: %s, want NAK", nak.MessageType())
	}
	if got := g.Leases(); len(got) != 2 || got[m1.String()] != a1 {
		t.Fatalf("lease table %v", got)
	}
}

func TestICMPEcho(t *testing.T) {
	g := testGateway(t, Config{})
	mac := "52:54:00:00:00:15"
	r := newRawGuest(t, g, mac, guest15)
	echo := func(dst netip.Addr) []byte {
		body := make([]byte, header.ICMPv4MinimumSize+4)
		ic := header.ICMPv4(body)
		ic.SetType(header.ICMPv4Echo)
		ic.SetIdent(7)
		ic.SetSequence(1)
		copy(body[header.ICMPv4MinimumSize:], "ping")
		ic.SetChecksum(0)
		ic.SetChecksum(^checksumOf(body))
		return buildIPv4(r.mac, g.mac, guest15, dst, header.ICMPv4ProtocolNumber, body)
	}
	isICMP := func(typ header.ICMPv4Type, from netip.Addr) func([]byte) bool {
		return func(f []byte) bool {
			if !ipProto(f, header.ICMPv4ProtocolNumber) {
				return false
			}
			ip := header.IPv4(f[header.EthernetMinimumSize:])
			return header.ICMPv4(ip.Payload()).Type() == typ && netAddr(ip.SourceAddress()) == from
		}
	}
	r.link.WriteFrame(echo(g.cfg.Gateway))
	r.next(t, "echo reply from the gateway", isICMP(header.ICMPv4EchoReply, g.cfg.Gateway))
	outside := netip.MustParseAddr("192.0.2.1")
	r.link.WriteFrame(echo(outside))
	f := r.next(t, "unreachable for an outside echo", isICMP(header.ICMPv4DstUnreachable, g.cfg.Gateway))
	if c := header.ICMPv4(header.IPv4(f[header.EthernetMinimumSize:]).Payload()).Code(); c != header.ICMPv4AdminProhibited {
		t.Fatalf("unreachable code %d", c)
	}
	r.none(t, "echo reply from an outside address", 300*time.Millisecond, isICMP(header.ICMPv4EchoReply, outside))
}

func TestARPOnlyForGatewayAddresses(t *testing.T) {
	g := testGateway(t, Config{})
	r := newRawGuest(t, g, "52:54:00:00:00:15", guest15)
	ask := func(target string) []byte {
		out := make([]byte, header.EthernetMinimumSize+header.ARPSize)
		header.Ethernet(out).Encode(&header.EthernetFields{SrcAddr: r.mac, DstAddr: header.EthernetBroadcastAddress, Type: header.ARPProtocolNumber})
		a := header.ARP(out[header.EthernetMinimumSize:])
		a.SetIPv4OverEthernet()
		a.SetOp(header.ARPRequest)
		copy(a.HardwareAddressSender(), r.mac)
		s4, t4 := guest15.As4(), netip.MustParseAddr(target).As4()
		copy(a.ProtocolAddressSender(), s4[:])
		copy(a.ProtocolAddressTarget(), t4[:])
		return out
	}
	isReply := func(f []byte) bool {
		return header.Ethernet(f).Type() == header.ARPProtocolNumber && header.ARP(f[header.EthernetMinimumSize:]).Op() == header.ARPReply
	}
	for _, a := range []string{"10.0.2.2", "10.0.2.3"} {
		r.link.WriteFrame(ask(a))
		f := r.next(t, "arp reply for "+a, isReply)
		if got := tcpip.LinkAddress(header.ARP(f[header.EthernetMinimumSize:]).HardwareAddressSender()); got != g.mac {
			t.Fatalf("arp %s answered with %s", a, got)
		}
	}
	r.link.WriteFrame(ask("10.0.2.16"))
	r.none(t, "arp reply for another guest's address", 300*time.Millisecond, isReply)
}

func TestTwoGuestsBridged(t *testing.T) {
	g := testGateway(t, Config{})
	a := guestStack(t, g, "52:54:00:00:00:15", guest15)
	b := guestStack(t, g, "52:54:00:00:00:16", netip.MustParseAddr("10.0.2.16"))
	l, err := gonet.ListenTCP(b, tcpip.FullAddress{NIC: 1, Port: 7}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	c, err := dialFrom(t, a, "10.0.2.16:7")
	if err != nil {
		t.Fatalf("guest to guest across two links: %v", err)
	}
	defer c.Close()
	if got := roundTrip(t, c, "hi"); got != "hi" {
		t.Fatalf("got %q", got)
	}
}

func TestUcastLink(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	a, err := ListenUcast(netip.AddrPortFrom(lo, 0), netip.AddrPortFrom(lo, 9))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ListenUcast(netip.AddrPortFrom(lo, 0), a.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.peer = b.LocalAddr()
	// A stranger's datagram is dropped; the peer's frame arrives.
	stranger, _ := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(a.LocalAddr()))
	defer stranger.Close()
	stranger.Write([]byte("injected frame"))
	time.Sleep(50 * time.Millisecond)
	if err := b.WriteFrame([]byte("frame from b")); err != nil {
		t.Fatal(err)
	}
	a.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := a.ReadFrame(buf)
	if err != nil || string(buf[:n]) != "frame from b" {
		t.Fatalf("ReadFrame = %q, %v", buf[:n], err)
	}
	a.Close()
	if _, err := a.ReadFrame(buf); err == nil || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadFrame after Close: %v", err)
	}
	if _, err := ListenUcast(netip.AddrPortFrom(lo, 0), netip.AddrPortFrom(lo, 0)); err == nil {
		t.Fatal("ListenUcast accepted peer port 0")
	}
	_ = syscall.EINVAL
}

// BenchmarkGuestToHostTCP measures the gateway alone: a netstack guest on an in-process pipe
// sends to a host loopback sink through the NAT.
func BenchmarkGuestToHostTCP(b *testing.B) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	g, err := New(Config{Resolvers: []netip.AddrPort{}})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	s := guestStackB(b, g)
	ap := netip.AddrPortFrom(g.cfg.Gateway, uint16(l.Addr().(*net.TCPAddr).Port))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, s, tcpip.FullAddress{NIC: 1, Addr: tcpAddr(ap.Addr()), Port: ap.Port()}, ipv4.ProtocolNumber)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// guestUDPEcho answers every datagram on the guest's port with "guest got " + payload,
// from the same socket, as a UDP server does.
func guestUDPEcho(t *testing.T, s *stack.Stack, port uint16) {
	t.Helper()
	c, err := gonet.DialUDP(s, &tcpip.FullAddress{NIC: 1, Port: port}, nil, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo(append([]byte("guest got "), buf[:n]...), from)
		}
	}()
}

// udpAsk sends msg until a reply arrives (the first datagram may wait for ARP).
func udpAsk(t *testing.T, c *net.UDPConn, msg string) string {
	t.Helper()
	buf := make([]byte, 2048)
	for i := 0; i < 10; i++ {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c.Read(buf); err == nil {
			return string(buf[:n])
		}
	}
	t.Fatalf("no reply to %q through the udp forward", msg)
	return ""
}

// TestUDPForwardReachesGuest: datagrams to a udp forward reach the guest's server, its
// replies come back to the sender; two host peers are two flows, each gets its own
// replies. NoHostLoopback does not break the reply leg (it goes to the flow's socket, not
// through the policy), and nothing is dialled on the host.
func TestUDPForwardReachesGuest(t *testing.T) {
	d := &recordingDial{}
	g := testGateway(t, Config{NoHostLoopback: true, Dial: d.dial,
		Forwards: []Forward{{Proto: "udp", HostAddr: netip.MustParseAddr("127.0.0.1"), GuestAddr: guest15, GuestPort: 5353}}})
	s := guestStack(t, g, "52:54:00:00:00:15", guest15)
	guestUDPEcho(t, s, 5353)
	fwd := g.ForwardAddrs()[0]
	var peers []*net.UDPConn
	for i := 0; i < 2; i++ {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(fwd))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		peers = append(peers, c)
	}
	for round := 0; round < 2; round++ {
		for i, c := range peers {
			msg := fmt.Sprintf("peer %d round %d", i, round)
			if got := udpAsk(t, c, msg); got != "guest got "+msg {
				t.Fatalf("peer %d: reply %q", i, got)
			}
		}
	}
	if got := d.dialled(); len(got) != 0 {
		t.Fatalf("a udp forward made the host dial %v", got)
	}
}

// TestUDPForwardFlowLimit: each host peer of a udp forward is one flow of the guest; past
// MaxConns a new peer gets nothing while the existing flows keep working.
func TestUDPForwardFlowLimit(t *testing.T) {
	g := testGateway(t, Config{MaxConns: 1, UDPIdle: time.Minute,
		Forwards: []Forward{{Proto: "udp", HostAddr: netip.MustParseAddr("127.0.0.1"), GuestAddr: guest15, GuestPort: 5353}}})
	s := guestStack(t, g, "52:54:00:00:00:15", guest15)
	guestUDPEcho(t, s, 5353)
	fwd := net.UDPAddrFromAddrPort(g.ForwardAddrs()[0])
	a, err := net.DialUDP("udp4", nil, fwd)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := udpAsk(t, a, "first"); got != "guest got first" {
		t.Fatalf("first peer: %q", got)
	}
	b, err := net.DialUDP("udp4", nil, fwd)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Write([]byte("second"))
	// The refusal is shown without timing: the first peer's next exchange completes, and
	// only then is the second peer's socket checked (its datagram was read before).
	if got := udpAsk(t, a, "again"); got != "guest got again" {
		t.Fatalf("first peer after the refusal: %q", got)
	}
	b.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, err := b.Read(make([]byte, 100)); err == nil {
		t.Fatalf("second peer got a reply (%d bytes) past MaxConns=1", n)
	}
}
