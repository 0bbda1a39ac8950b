package usernet

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

var (
	fuzzOnce sync.Once
	fuzzGW   *Gateway
	fuzzPort *Port
)

// fuzzGateway is shared by every fuzz input (a gateway per input would dominate the run).
// Its dialer refuses everything, so no input can open a host socket.
func fuzzGateway(t *testing.T) (*Gateway, *Port) {
	fuzzOnce.Do(func() {
		g, err := New(Config{
			Resolvers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")},
			MaxConns:  8,
			Dial: func(context.Context, string, string) (net.Conn, error) {
				return nil, &net.OpError{Op: "dial", Err: errRefusedByTest}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		fuzzGW = g
		fuzzPort = g.AttachPort(func(frame []byte) error {
			if len(frame) < header.EthernetMinimumSize || len(frame) > header.EthernetMinimumSize+MTU {
				panic("gateway emitted a frame of impossible length")
			}
			return nil
		})
	})
	return fuzzGW, fuzzPort
}

// watchdog fails the input when handling it takes more than 10 s (a hang, not load).
func watchdog(t *testing.T, f func()) {
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("frame handling hung for 10s:\n%s", buf[:n])
	}
}

func checkNoPanic(t *testing.T, g *Gateway) {
	if n := g.panics.Load(); n != 0 {
		t.Fatalf("netstack panicked %d times (recovered)", n)
	}
}

// FuzzDeliver feeds whole frames from the guest side.
func FuzzDeliver(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		g, p := fuzzGateway(t)
		watchdog(t, func() { p.Deliver(frame) })
		checkNoPanic(t, g)
	})
}

var fuzzGuestMAC = tcpip.LinkAddress("\x52\x54\x00\x12\x34\x56")

// FuzzIPv4 feeds IPv4 packets (truncated headers, fragments, options) in a well-formed
// Ethernet frame addressed to the gateway.
func FuzzIPv4(f *testing.F) {
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		g, p := fuzzGateway(t)
		frame := make([]byte, header.EthernetMinimumSize+len(pkt))
		header.Ethernet(frame).Encode(&header.EthernetFields{SrcAddr: fuzzGuestMAC, DstAddr: g.mac, Type: header.IPv4ProtocolNumber})
		copy(frame[header.EthernetMinimumSize:], pkt)
		watchdog(t, func() { p.Deliver(frame) })
		checkNoPanic(t, g)
	})
}

// FuzzDHCP feeds DHCP messages (any options) in a well-formed broadcast UDP datagram.
func FuzzDHCP(f *testing.F) {
	f.Add([]byte{1, 1, 6, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		g, p := fuzzGateway(t)
		if len(msg) > MTU-header.IPv4MinimumSize-header.UDPMinimumSize {
			return
		}
		watchdog(t, func() {
			p.Deliver(buildUDP(fuzzGuestMAC, header.EthernetBroadcastAddress, netip.IPv4Unspecified(),
				netip.AddrFrom4([4]byte{255, 255, 255, 255}), 68, 67, msg))
		})
		checkNoPanic(t, g)
	})
}

// FuzzParseOptions feeds the command-line parsers.
func FuzzParseOptions(f *testing.F) {
	f.Add("tcp:8080:10.0.2.15:80")
	f.Fuzz(func(t *testing.T, s string) {
		if fw, err := ParseForward(s); err == nil {
			again, err := ParseForward(fw.String())
			if err != nil || again != fw {
				t.Fatalf("ParseForward(%q) = %v, reparse %v %v", s, fw, again, err)
			}
		}
		if p, err := ParseSubnet(s); err == nil {
			g, err := New(Config{Subnet: p, Resolvers: []netip.AddrPort{}})
			if err != nil {
				t.Fatalf("ParseSubnet(%q) accepted %v but New refused it: %v", s, p, err)
			}
			g.Close()
		}
		ParseAllow(s)
		ParseResolver(s)
		ParseOptions(strings.Fields(s))
	})
}

// FuzzIPv6 feeds IPv6 packets (neighbour discovery, extension headers, bad lengths) in a
// well-formed Ethernet frame addressed to the gateway.
func FuzzIPv6(f *testing.F) {
	f.Add([]byte{0x60})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		g, p := fuzzGateway(t)
		frame := make([]byte, header.EthernetMinimumSize+len(pkt))
		header.Ethernet(frame).Encode(&header.EthernetFields{SrcAddr: fuzzGuestMAC, DstAddr: g.mac, Type: header.IPv6ProtocolNumber})
		copy(frame[header.EthernetMinimumSize:], pkt)
		watchdog(t, func() { p.Deliver(frame) })
		checkNoPanic(t, g)
	})
}
