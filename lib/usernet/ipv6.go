package usernet

import (
	"encoding/binary"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Router advertisement timers: guests keep the default route for raLifetime; unsolicited
// advertisements every raInterval refresh it long before that (and reach guests whose
// solicitations were lost).
const (
	raInterval = 5 * time.Minute
	raLifetime = 1800 // seconds
)

var (
	allNodes6    = netip.MustParseAddr("ff02::1")
	allNodesMAC6 = tcpip.LinkAddress("\x33\x33\x00\x00\x00\x01")
)

// inputIPv6 checks a guest's IPv6 packet and hands what the gateway serves to netstack:
// neighbour discovery for the gateway's own addresses, echo to them, and TCP and UDP flows
// (decided by the policy as for IPv4). Router solicitations are answered here.
func (g *Gateway) inputIPv6(p *Port, frame, payload []byte, pktType tcpip.PacketType) {
	if !g.gw6.IsValid() {
		return
	}
	ip := header.IPv6(payload)
	if len(payload) < header.IPv6MinimumSize || !ip.IsValid(len(payload)) {
		g.logf("usernet: drop: malformed ipv6 header")
		return
	}
	total := header.IPv6MinimumSize + int(ip.PayloadLength())
	frame = frame[:header.EthernetMinimumSize+total]
	payload = payload[:total]
	ip = header.IPv6(payload)
	src, dst := netip.AddrFrom16(ip.SourceAddress().As16()), netip.AddrFrom16(ip.DestinationAddress().As16())
	body := payload[header.IPv6MinimumSize:]
	// Only addresses a guest can hold on this link: its /64, link-local, or none yet (DAD).
	if !(g.prefix6.Contains(src) || src.IsLinkLocalUnicast() || src.IsUnspecified()) || src == g.gw6 || src == g.ll6 {
		g.logf("usernet: drop: ipv6 source %s not on the guests' link", src)
		return
	}
	local := dst == g.gw6 || dst == g.ll6
	switch tcpip.TransportProtocolNumber(ip.NextHeader()) {
	case header.ICMPv6ProtocolNumber:
		g.inputICMPv6(p, frame, ip, src, dst, body, local, pktType)
		return
	case header.TCPProtocolNumber:
	case header.UDPProtocolNumber:
		if len(body) < header.UDPMinimumSize || src.IsUnspecified() {
			return
		}
		port := header.UDP(body).DestinationPort()
		if dst == g.gw6 && g.isForwardReply(port) {
			break
		}
		if _, why, ok := g.Decide("udp", dst, port); !ok {
			g.logf("usernet: deny udp %s -> %s: %s", src, netip.AddrPortFrom(dst, port), why)
			if !dst.IsMulticast() {
				code := header.ICMPv6Prohibited
				if local {
					code = header.ICMPv6PortUnreachable
				}
				g.icmp6Unreachable(p, frame, code)
			}
			return
		}
	default:
		// Extension headers (fragments included) and other protocols are not served.
		g.logf("usernet: drop: ipv6 next header %d from %s", ip.NextHeader(), src)
		return
	}
	if src.IsUnspecified() || dst.IsMulticast() {
		return
	}
	if !local && (g.prefix6.Contains(dst) || dst.IsLinkLocalUnicast()) {
		// Addressed to our MAC but meant for another guest of the link.
		return
	}
	g.ep.deliver(frame, pktType)
}

func (g *Gateway) inputICMPv6(p *Port, frame []byte, ip header.IPv6, src, dst netip.Addr, body []byte, local bool, pktType tcpip.PacketType) {
	if len(body) < header.ICMPv6MinimumSize {
		return
	}
	ic := header.ICMPv6(body)
	switch ic.Type() {
	case header.ICMPv6RouterSolicit:
		if ip.HopLimit() == 255 {
			g.sendRA(p)
		}
		return
	case header.ICMPv6NeighborSolicit:
		// In promiscuous mode netstack would claim every target; it only hears about
		// the gateway's own addresses.
		if len(body) < header.ICMPv6NeighborSolicitMinimumSize {
			return
		}
		target := netip.AddrFrom16([16]byte(body[8:24]))
		if target != g.gw6 && target != g.ll6 {
			return
		}
	case header.ICMPv6NeighborAdvert:
		// Netstack resolves guests' addresses before it answers them.
		if src.IsUnspecified() {
			return
		}
	case header.ICMPv6EchoRequest:
		if !local {
			if !dst.IsMulticast() && !src.IsUnspecified() {
				g.logf("usernet: deny icmpv6 %s -> %s: only the gateway answers echo", src, dst)
				g.icmp6Unreachable(p, frame, header.ICMPv6Prohibited)
			}
			return
		}
	default:
		// Router advertisements from guests, redirects, MLD: none of the gateway's business.
		return
	}
	g.ep.deliver(frame, pktType)
}

// sendRA sends a router advertisement for the guests' /64 to all nodes (to one port when p
// is set, else to every port): default route via the gateway's link-local address, SLAAC.
func (g *Gateway) sendRA(p *Port) {
	const raSize = header.ICMPv6HeaderSize + header.NDPRAMinimumSize + 8 + 8 + 32
	body := make([]byte, raSize)
	body[0] = byte(header.ICMPv6RouterAdvert)
	ra := body[header.ICMPv6HeaderSize:]
	ra[0] = 64 // current hop limit
	binary.BigEndian.PutUint16(ra[2:], raLifetime)
	opts := ra[header.NDPRAMinimumSize:]
	// Source link-layer address.
	opts[0], opts[1] = 1, 1
	copy(opts[2:8], g.mac)
	// MTU.
	opts[8], opts[9] = 5, 1
	binary.BigEndian.PutUint32(opts[12:], MTU)
	// Prefix information: on-link, autonomous (SLAAC).
	pi := opts[16:]
	pi[0], pi[1], pi[2], pi[3] = 3, 4, 64, 0xc0
	binary.BigEndian.PutUint32(pi[4:], 86400) // valid lifetime
	binary.BigEndian.PutUint32(pi[8:], 14400) // preferred lifetime
	pfx := g.prefix6.Addr().As16()
	copy(pi[16:32], pfx[:])
	frame := buildIPv6(g.mac, allNodesMAC6, g.ll6, allNodes6, 255, header.ICMPv6ProtocolNumber, body)
	if p != nil {
		p.write(frame)
		return
	}
	g.output(frame, nil)
}

// advertise sends unsolicited router advertisements until the gateway closes.
func (g *Gateway) advertise() {
	t := time.NewTicker(raInterval)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
			g.sendRA(nil)
		}
	}
}

// icmp6Unreachable answers the IPv6 packet in frame with an ICMPv6 destination unreachable.
func (g *Gateway) icmp6Unreachable(p *Port, frame []byte, code header.ICMPv6Code) {
	eth := header.Ethernet(frame)
	ip := frame[header.EthernetMinimumSize:]
	src := netip.AddrFrom16(header.IPv6(ip).SourceAddress().As16())
	// The invoking packet, as much as fits in the minimum IPv6 MTU.
	quote := ip[:min(len(ip), header.IPv6MinimumMTU-header.IPv6MinimumSize-header.ICMPv6DstUnreachableMinimumSize)]
	body := make([]byte, header.ICMPv6DstUnreachableMinimumSize+len(quote))
	body[0], body[1] = byte(header.ICMPv6DstUnreachable), byte(code)
	copy(body[header.ICMPv6DstUnreachableMinimumSize:], quote)
	from := g.gw6
	if src.IsLinkLocalUnicast() {
		from = g.ll6
	}
	p.write(buildIPv6(g.mac, eth.SourceAddress(), from, src, 64, header.ICMPv6ProtocolNumber, body))
}

// buildIPv6 makes an Ethernet frame holding one IPv6 packet; an ICMPv6 body gets its
// checksum filled in.
func buildIPv6(srcMAC, dstMAC tcpip.LinkAddress, src, dst netip.Addr, hops uint8, proto tcpip.TransportProtocolNumber, body []byte) []byte {
	out := make([]byte, header.EthernetMinimumSize+header.IPv6MinimumSize+len(body))
	header.Ethernet(out).Encode(&header.EthernetFields{SrcAddr: srcMAC, DstAddr: dstMAC, Type: header.IPv6ProtocolNumber})
	ip := header.IPv6(out[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv6Fields{
		PayloadLength:     uint16(len(body)),
		TransportProtocol: proto,
		HopLimit:          hops,
		SrcAddr:           tcpAddr6(src),
		DstAddr:           tcpAddr6(dst),
	})
	b := out[header.EthernetMinimumSize+header.IPv6MinimumSize:]
	copy(b, body)
	if proto == header.ICMPv6ProtocolNumber {
		b[2], b[3] = 0, 0
		x := header.PseudoHeaderChecksum(proto, tcpAddr6(src), tcpAddr6(dst), uint16(len(b)))
		binary.BigEndian.PutUint16(b[2:], ^checksum.Checksum(b, x))
	}
	return out
}
