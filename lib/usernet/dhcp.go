package usernet

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// leases is the DHCP lease table: one address per client MAC, from DHCPStart to the end of
// the subnet, kept for the gateway's life unless released (or expired and needed).
type leases struct {
	mu     sync.Mutex
	cfg    Config
	byMAC  map[string]netip.Addr
	byAddr map[netip.Addr]string
	expiry map[netip.Addr]time.Time
}

func newLeases(c Config) *leases {
	return &leases{cfg: c, byMAC: map[string]netip.Addr{}, byAddr: map[netip.Addr]string{}, expiry: map[netip.Addr]time.Time{}}
}

func (l *leases) snapshot() map[string]netip.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]netip.Addr, len(l.byMAC))
	for k, v := range l.byMAC {
		out[k] = v
	}
	return out
}

// get returns mac's address, allocating one if needed (invalid when the pool is empty).
func (l *leases) get(mac string) netip.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, ok := l.byMAC[mac]; ok {
		l.expiry[a] = time.Now().Add(l.cfg.LeaseTime)
		return a
	}
	last := lastAddr(l.cfg.Subnet)
	now := time.Now()
	for pass := 0; pass < 2; pass++ {
		for a := l.cfg.DHCPStart; a.IsValid() && a.Less(last) && l.cfg.Subnet.Contains(a); a = a.Next() {
			if a == l.cfg.Gateway || a == l.cfg.DNS {
				continue
			}
			owner, taken := l.byAddr[a]
			if taken && pass == 1 && now.After(l.expiry[a]) {
				delete(l.byMAC, owner)
				taken = false
			}
			if !taken {
				l.byMAC[mac] = a
				l.byAddr[a] = mac
				l.expiry[a] = now.Add(l.cfg.LeaseTime)
				return a
			}
		}
	}
	return netip.Addr{}
}

func (l *leases) release(mac string, a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.byMAC[mac]; ok && cur == a {
		delete(l.byMAC, mac)
		delete(l.byAddr, a)
		delete(l.expiry, a)
		return true
	}
	return false
}

func ip4(a netip.Addr) net.IP { b := a.As4(); return net.IP(b[:]) }

// handleDHCP answers one DHCP message (the UDP payload of a datagram to port 67).
func (g *Gateway) handleDHCP(p *Port, srcMAC tcpip.LinkAddress, data []byte) {
	m, err := dhcpv4.FromBytes(data)
	if err != nil {
		g.logf("usernet: dhcp: drop malformed message from %s: %v", srcMAC, err)
		return
	}
	if m.OpCode != dhcpv4.OpcodeBootRequest || m.HWType != iana.HWTypeEthernet || len(m.ClientHWAddr) != 6 {
		g.logf("usernet: dhcp: drop non-ethernet request from %s", srcMAC)
		return
	}
	mac := m.ClientHWAddr.String()
	var typ dhcpv4.MessageType
	var yiaddr netip.Addr
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		yiaddr = g.dhcp.get(mac)
		if !yiaddr.IsValid() {
			g.logf("usernet: dhcp: no free address for %s", mac)
			return
		}
		typ = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		if sid := m.ServerIdentifier(); sid != nil && !sid.Equal(ip4(g.cfg.Gateway)) {
			return // the client chose another server
		}
		want := m.RequestedIPAddress()
		if want == nil {
			want = m.ClientIPAddr
		}
		yiaddr = g.dhcp.get(mac)
		wa, ok := netip.AddrFromSlice(want.To4())
		if !yiaddr.IsValid() || (ok && !wa.IsUnspecified() && wa != yiaddr) {
			g.logf("usernet: dhcp: nak %s for %s (lease is %s)", want, mac, yiaddr)
			typ, yiaddr = dhcpv4.MessageTypeNak, netip.Addr{}
			break
		}
		typ = dhcpv4.MessageTypeAck
	case dhcpv4.MessageTypeRelease:
		if a, ok := netip.AddrFromSlice(m.ClientIPAddr.To4()); ok && g.dhcp.release(mac, a) {
			g.logf("usernet: dhcp: %s released %s", mac, a)
		}
		return
	case dhcpv4.MessageTypeInform:
		typ = dhcpv4.MessageTypeAck
	default:
		return
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithServerIP(ip4(g.cfg.Gateway)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip4(g.cfg.Gateway))),
	}
	if typ != dhcpv4.MessageTypeNak {
		mods = append(mods,
			dhcpv4.WithNetmask(net.CIDRMask(g.cfg.Subnet.Bits(), 32)),
			dhcpv4.WithRouter(ip4(g.cfg.Gateway)),
			dhcpv4.WithDNS(ip4(g.cfg.DNS)))
		if yiaddr.IsValid() {
			mods = append(mods, dhcpv4.WithYourIP(ip4(yiaddr)), dhcpv4.WithLeaseTime(uint32(g.cfg.LeaseTime/time.Second)))
		}
	}
	reply, err := dhcpv4.NewReplyFromRequest(m, mods...)
	if err != nil {
		g.logf("usernet: dhcp: cannot build reply for %s: %v", mac, err)
		return
	}
	if typ != dhcpv4.MessageTypeNak {
		g.logf("usernet: dhcp: %s %s to %s", typ, yiaddr, mac)
	}
	// The client has no address yet: reply at layer 2 to its MAC (broadcast when it asked
	// for it, or for a NAK) rather than through netstack's routing.
	dstMAC := tcpip.LinkAddress(m.ClientHWAddr)
	dstIP := netip.AddrFrom4([4]byte{255, 255, 255, 255})
	switch {
	case typ == dhcpv4.MessageTypeNak || m.IsBroadcast():
		dstMAC = header.EthernetBroadcastAddress
	case !m.ClientIPAddr.IsUnspecified() && m.ClientIPAddr.To4() != nil:
		dstIP, _ = netip.AddrFromSlice(m.ClientIPAddr.To4())
	case yiaddr.IsValid():
		dstIP = yiaddr
	}
	p.write(buildUDP(g.mac, dstMAC, g.cfg.Gateway, dstIP, 67, 68, reply.ToBytes()))
}
