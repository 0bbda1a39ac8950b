package usernet

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// testGateway starts a gateway whose decisions go to the test log.
func testGateway(t *testing.T, c Config) *Gateway {
	t.Helper()
	if c.Logf == nil {
		c.Logf = t.Logf
	}
	if c.Resolvers == nil {
		c.Resolvers = []netip.AddrPort{}
	}
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// guestStack is a second netstack playing the guest, wired to the gateway by a pipe.
func guestStack(t testing.TB, g *Gateway, mac string, addr netip.Addr) *stack.Stack {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	ch := channel.New(512, MTU+header.EthernetMinimumSize, tcpip.LinkAddress(hw))
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	if err := s.CreateNIC(1, ethernet.New(ch)); err != nil {
		t.Fatal(err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpAddr(addr), PrefixLen: 24}}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	sub, _ := tcpip.NewSubnet(tcpAddr(g.cfg.Subnet.Addr()), tcpip.MaskFromBytes(net.CIDRMask(24, 32)))
	s.SetRouteTable([]tcpip.Route{{Destination: sub, NIC: 1}, {Destination: header.IPv4EmptySubnet, Gateway: tcpAddr(g.cfg.Gateway), NIC: 1}})
	ours, theirs := Pipe()
	g.Attach(theirs)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // guest → gateway
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
	go func() { // gateway → guest
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
	t.Cleanup(func() {
		cancel()
		ours.Close()
		wg.Wait()
		s.Close()
	})
	return s
}

// rawGuest exchanges hand-made frames with the gateway, answering ARP for its address
// (and neighbour solicitations for addr6, when set).
type rawGuest struct {
	mac    tcpip.LinkAddress
	addr   netip.Addr
	addr6  netip.Addr
	link   Link
	frames chan []byte
}

func newRawGuest(t *testing.T, g *Gateway, mac string, addr netip.Addr) *rawGuest {
	t.Helper()
	return newRawGuest6(t, g, mac, addr, netip.Addr{})
}

func newRawGuest6(t *testing.T, g *Gateway, mac string, addr, addr6 netip.Addr) *rawGuest {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	ours, theirs := Pipe()
	g.Attach(theirs)
	r := &rawGuest{mac: tcpip.LinkAddress(hw), addr: addr, addr6: addr6, link: ours, frames: make(chan []byte, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, err := ours.ReadFrame(buf)
			if err != nil {
				return
			}
			f := append([]byte(nil), buf[:n]...)
			if header.Ethernet(f).Type() == header.ARPProtocolNumber && r.addr.IsValid() {
				a := header.ARP(f[header.EthernetMinimumSize:])
				if a.Op() == header.ARPRequest && netip.AddrFrom4([4]byte(a.ProtocolAddressTarget())) == r.addr {
					r.link.WriteFrame(arpReply(r.mac, r.addr, f))
					continue
				}
			}
			if na := neighborAdvert(r.mac, r.addr6, f); na != nil {
				r.link.WriteFrame(na)
				continue
			}
			select {
			case r.frames <- f:
			default:
			}
		}
	}()
	t.Cleanup(func() { ours.Close(); <-done })
	return r
}

// neighborAdvert answers f when it is a neighbour solicitation for addr (else nil).
func neighborAdvert(mac tcpip.LinkAddress, addr netip.Addr, f []byte) []byte {
	if !addr.IsValid() || len(f) < header.EthernetMinimumSize+header.IPv6MinimumSize+header.ICMPv6NeighborSolicitMinimumSize ||
		header.Ethernet(f).Type() != header.IPv6ProtocolNumber {
		return nil
	}
	ip := header.IPv6(f[header.EthernetMinimumSize:])
	body := ip.Payload()
	if proto, _ := ip.TryParseTransportProtocol(); proto != header.ICMPv6ProtocolNumber || len(body) < header.ICMPv6NeighborSolicitMinimumSize ||
		header.ICMPv6(body).Type() != header.ICMPv6NeighborSolicit || netip.AddrFrom16([16]byte(body[8:24])) != addr {
		return nil
	}
	na := make([]byte, 32)
	na[0] = byte(header.ICMPv6NeighborAdvert)
	na[4] = 0x60 // solicited, override
	copy(na[8:24], body[8:24])
	na[24], na[25] = 2, 1 // target link-layer address
	copy(na[26:32], mac)
	return buildIPv6(mac, header.Ethernet(f).SourceAddress(), addr, netAddr(ip.SourceAddress()), 255, header.ICMPv6ProtocolNumber, na)
}

func arpReply(mac tcpip.LinkAddress, addr netip.Addr, req []byte) []byte {
	q := header.ARP(req[header.EthernetMinimumSize:])
	out := make([]byte, header.EthernetMinimumSize+header.ARPSize)
	header.Ethernet(out).Encode(&header.EthernetFields{SrcAddr: mac, DstAddr: tcpip.LinkAddress(q.HardwareAddressSender()), Type: header.ARPProtocolNumber})
	a := header.ARP(out[header.EthernetMinimumSize:])
	a.SetIPv4OverEthernet()
	a.SetOp(header.ARPReply)
	a4 := addr.As4()
	copy(a.HardwareAddressSender(), mac)
	copy(a.ProtocolAddressSender(), a4[:])
	copy(a.HardwareAddressTarget(), q.HardwareAddressSender())
	copy(a.ProtocolAddressTarget(), q.ProtocolAddressSender())
	return out
}

// next returns the next frame matching keep, or fails after a timeout.
func (r *rawGuest) next(t *testing.T, what string, keep func([]byte) bool) []byte {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f := <-r.frames:
			if keep(f) {
				return f
			}
		case <-deadline:
			t.Fatalf("no %s from the gateway", what)
			return nil
		}
	}
}

// none asserts that no frame matching keep arrives within d.
func (r *rawGuest) none(t *testing.T, what string, d time.Duration, keep func([]byte) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-r.frames:
			if keep(f) {
				t.Fatalf("unexpected %s from the gateway: % x", what, f)
			}
		case <-deadline:
			return
		}
	}
}

// ipProto reports whether f is an IPv4 frame of protocol p.
func ipProto(f []byte, p tcpip.TransportProtocolNumber) bool {
	if len(f) < header.EthernetMinimumSize+header.IPv4MinimumSize || header.Ethernet(f).Type() != header.IPv4ProtocolNumber {
		return false
	}
	return header.IPv4(f[header.EthernetMinimumSize:]).TransportProtocol() == p
}

// recordingDial wraps net.Dialer and records every address the gateway dials.
type recordingDial struct {
	mu    sync.Mutex
	addrs []string
	fail  bool
}

func (d *recordingDial) dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, network+" "+address)
	d.mu.Unlock()
	if ap, err := netip.ParseAddrPort(address); d.fail || err != nil || !ap.Addr().IsLoopback() {
		// Never leave the machine, whatever the gateway asks for.
		return nil, &net.OpError{Op: "dial", Net: network, Err: errRefusedByTest}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, address)
}

func (d *recordingDial) dialled() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

type testErr string

func (e testErr) Error() string { return string(e) }

const errRefusedByTest = testErr("test dialer refuses non-loopback addresses")

func checksumOf(b []byte) uint16 { return checksum.Checksum(b, 0) }

func guestStackB(b *testing.B, g *Gateway) *stack.Stack {
	return guestStack(b, g, "52:54:00:00:00:15", guest15)
}
