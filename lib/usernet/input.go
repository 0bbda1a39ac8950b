package usernet

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Deliver feeds one Ethernet frame received from the port's segment into the gateway.
// frame is not kept after the call. Any frame is safe: malformed ones are dropped (logged
// under Logf), and a panic inside netstack is recovered and logged, never propagated.
func (p *Port) Deliver(frame []byte) {
	p.mu.Lock()
	gone := p.gone
	p.mu.Unlock()
	if gone {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			p.g.panics.Add(1)
			p.g.logf("usernet: drop: netstack panicked on a %d-byte frame: %v", len(frame), r)
		}
	}()
	p.g.input(p, frame)
}

func (g *Gateway) input(p *Port, frame []byte) {
	if len(frame) < header.EthernetMinimumSize || len(frame) > header.EthernetMinimumSize+MTU {
		g.logf("usernet: drop: frame length %d out of range", len(frame))
		return
	}
	eth := header.Ethernet(frame)
	src, dst := eth.SourceAddress(), eth.DestinationAddress()
	if header.IsMulticastEthernetAddress(src) || src == g.mac {
		g.logf("usernet: drop: bad source mac %s", src)
		return
	}
	g.mu.Lock()
	if g.learned[src] != p {
		g.learned[src] = p
	}
	g.mu.Unlock()

	forUs := dst == g.mac
	bcast := header.IsMulticastEthernetAddress(dst)
	if !forUs {
		// Guest-to-guest traffic: bridge it like a switch would.
		g.output(frame, p)
		if !bcast {
			return
		}
	}
	pktType := tcpip.PacketHost
	if bcast {
		pktType = tcpip.PacketBroadcast
	}
	payload := frame[header.EthernetMinimumSize:]
	switch eth.Type() {
	case header.ARPProtocolNumber:
		g.inputARP(frame, payload, pktType)
	case header.IPv4ProtocolNumber:
		g.inputIPv4(p, frame, payload, bcast, pktType)
	case header.IPv6ProtocolNumber:
		if bcast {
			pktType = tcpip.PacketMulticast
		}
		g.inputIPv6(p, frame, payload, pktType)
	default:
		// Anything else: not served.
	}
}

func (g *Gateway) inputARP(frame, payload []byte, pktType tcpip.PacketType) {
	a := header.ARP(payload)
	if len(payload) < header.ARPSize || !a.IsValid() {
		g.logf("usernet: drop: malformed arp")
		return
	}
	// Only ARP about the gateway's own addresses reaches netstack: in promiscuous mode it
	// would otherwise claim every address, including other guests'.
	target := netip.AddrFrom4([4]byte(a.ProtocolAddressTarget()))
	if target != g.cfg.Gateway && target != g.cfg.DNS {
		return
	}
	g.ep.deliver(frame[:header.EthernetMinimumSize+header.ARPSize], pktType)
}

func (g *Gateway) inputIPv4(p *Port, frame, payload []byte, bcast bool, pktType tcpip.PacketType) {
	ip := header.IPv4(payload)
	if len(payload) < header.IPv4MinimumSize || !ip.IsValid(len(payload)) {
		g.logf("usernet: drop: malformed ipv4 header")
		return
	}
	hl := int(ip.HeaderLength())
	tl := int(ip.TotalLength())
	if hl < header.IPv4MinimumSize || tl < hl || tl > len(payload) {
		g.logf("usernet: drop: ipv4 lengths header=%d total=%d frame=%d", hl, tl, len(payload))
		return
	}
	// Ethernet pads short frames; netstack must see exactly the IP datagram.
	frame = frame[:header.EthernetMinimumSize+tl]
	payload = payload[:tl]
	ip = header.IPv4(payload)
	src, dst := netip.AddrFrom4(ip.SourceAddress().As4()), netip.AddrFrom4(ip.DestinationAddress().As4())
	proto := ip.TransportProtocol()
	fragmented := ip.More() || ip.FragmentOffset() != 0

	if proto == header.UDPProtocolNumber && !fragmented && tl-hl >= header.UDPMinimumSize {
		u := header.UDP(payload[hl:])
		if u.DestinationPort() == 67 {
			ul := int(u.Length())
			if ul < header.UDPMinimumSize || ul > tl-hl {
				g.logf("usernet: drop: dhcp udp length %d", ul)
				return
			}
			g.handleDHCP(p, header.Ethernet(frame).SourceAddress(), payload[hl+header.UDPMinimumSize:hl+ul])
			return
		}
	}
	if bcast || !g.cfg.Subnet.Contains(src) || src == g.cfg.Gateway || src == g.cfg.DNS {
		// Broadcasts other than DHCP are none of the gateway's business; a source outside
		// the subnet could not receive a reply anyway.
		return
	}
	local := dst == g.cfg.Gateway || dst == g.cfg.DNS
	if !local && g.cfg.Subnet.Contains(dst) {
		// Addressed to our MAC but meant for another guest of the subnet.
		return
	}
	if !local && reserved(dst) {
		// Netstack would drop most of these silently; the guest deserves an answer.
		if ip.FragmentOffset() == 0 {
			g.logf("usernet: deny ip proto %d %s -> %s: reserved address", proto, src, dst)
			g.icmpUnreachable(p, frame, header.ICMPv4AdminProhibited)
		}
		return
	}
	switch proto {
	case header.TCPProtocolNumber:
	case header.UDPProtocolNumber:
		if !fragmented && tl-hl >= header.UDPMinimumSize {
			port := header.UDP(payload[hl:]).DestinationPort()
			if dst == g.cfg.Gateway && g.isForwardReply(port) {
				break
			}
			if _, why, ok := g.Decide("udp", dst, port); !ok {
				g.logf("usernet: deny udp %s -> %s: %s", src, netip.AddrPortFrom(dst, port), why)
				code := header.ICMPv4AdminProhibited
				if local {
					code = header.ICMPv4PortUnreachable
				}
				g.icmpUnreachable(p, frame, code)
				return
			}
		}
	case header.ICMPv4ProtocolNumber:
		if !local {
			// Netstack in promiscuous mode would answer echo for any address; echo is only
			// served by the gateway's own addresses.
			if !fragmented || ip.FragmentOffset() == 0 {
				g.logf("usernet: deny icmp %s -> %s: only the gateway answers icmp", src, dst)
				g.icmpUnreachable(p, frame, header.ICMPv4AdminProhibited)
			}
			return
		}
	default:
		g.logf("usernet: drop: ip protocol %d from %s", proto, src)
		return
	}
	g.ep.deliver(frame, pktType)
}

// icmpUnreachable answers the IPv4 packet in frame with an ICMP destination unreachable.
func (g *Gateway) icmpUnreachable(p *Port, frame []byte, code header.ICMPv4Code) {
	eth := header.Ethernet(frame)
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	quote := ip[:min(len(ip), int(ip.HeaderLength())+8)]
	body := make([]byte, header.ICMPv4MinimumSize+len(quote))
	ic := header.ICMPv4(body)
	ic.SetType(header.ICMPv4DstUnreachable)
	ic.SetCode(code)
	copy(body[header.ICMPv4MinimumSize:], quote)
	ic.SetChecksum(^checksum.Checksum(body, 0))
	// Sent from the gateway, not the refused address: the guest learns who refused.
	out := buildIPv4(g.mac, eth.SourceAddress(), g.cfg.Gateway, netip.AddrFrom4(ip.SourceAddress().As4()), header.ICMPv4ProtocolNumber, body)
	p.write(out)
}

// buildIPv4 makes an Ethernet frame holding one IPv4 datagram.
func buildIPv4(srcMAC, dstMAC tcpip.LinkAddress, src, dst netip.Addr, proto tcpip.TransportProtocolNumber, body []byte) []byte {
	out := make([]byte, header.EthernetMinimumSize+header.IPv4MinimumSize+len(body))
	header.Ethernet(out).Encode(&header.EthernetFields{SrcAddr: srcMAC, DstAddr: dstMAC, Type: header.IPv4ProtocolNumber})
	ip := header.IPv4(out[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(header.IPv4MinimumSize + len(body)),
		TTL:         64,
		Protocol:    uint8(proto),
		SrcAddr:     tcpAddr(src),
		DstAddr:     tcpAddr(dst),
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	copy(out[header.EthernetMinimumSize+header.IPv4MinimumSize:], body)
	return out
}

// buildUDP makes an Ethernet frame holding one UDP datagram.
func buildUDP(srcMAC, dstMAC tcpip.LinkAddress, src, dst netip.Addr, sport, dport uint16, data []byte) []byte {
	body := make([]byte, header.UDPMinimumSize+len(data))
	u := header.UDP(body)
	u.Encode(&header.UDPFields{SrcPort: sport, DstPort: dport, Length: uint16(len(body))})
	copy(body[header.UDPMinimumSize:], data)
	x := header.PseudoHeaderChecksum(header.UDPProtocolNumber, tcpAddr(src), tcpAddr(dst), uint16(len(body)))
	x = checksum.Checksum(data, x)
	c := ^u.CalculateChecksum(x)
	if c == 0 {
		c = 0xffff
	}
	u.SetChecksum(c)
	return buildIPv4(srcMAC, dstMAC, src, dst, header.UDPProtocolNumber, body)
}
