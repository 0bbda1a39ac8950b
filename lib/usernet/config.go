// Package usernet is a user-mode NAT gateway for guests on an Ethernet link: the role slirp
// plays for the real UML, without any privilege. It answers ARP for its addresses, hands out
// DHCP leases, forwards DNS queries to the host's resolvers, terminates the guests' TCP and UDP
// flows in gVisor's netstack and re-opens them as ordinary host sockets, and forwards host
// TCP and UDP ports to guests. Over IPv6 it advertises a /64 for SLAAC, answers neighbour
// discovery and echo for its own addresses, and maps its address to the host's ::1.
//
// The guest side is a stream of raw Ethernet frames (a Link, or a Port fed by a switch), so
// anything that carries frames can attach it: our switch, a UML ucast transport (UcastLink),
// or an in-process pipe.
//
// Security: a guest controls every byte it sends, so every flow is checked against a policy
// before the host opens a socket. By default the only reachable host is the host's own
// loopback, through the gateway address; outside addresses need Config.Allow (IPv4 only:
// no outside IPv6 destination is ever served).
package usernet

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Config describes one gateway. The zero value is slirp's layout: subnet 10.0.2.0/24,
// gateway 10.0.2.2 (the host's 127.0.0.1), DNS 10.0.2.3, leases from 10.0.2.15, no outside.
type Config struct {
	// Subnet is the guests' network; default 10.0.2.0/24.
	Subnet netip.Prefix
	// Gateway is the router address, mapped to the host's loopback; default subnet+2.
	Gateway netip.Addr
	// DNS is the resolver address guests are told about; default subnet+3.
	DNS netip.Addr
	// DHCPStart is the first leased address; default subnet+15.
	DHCPStart netip.Addr
	// LeaseTime is the DHCP lease duration; default 24h.
	LeaseTime time.Duration
	// Resolvers are the upstream DNS servers queries to DNS:53 go to; default: the
	// nameserver lines of /etc/resolv.conf (port 53).
	Resolvers []netip.AddrPort
	// Allow lists outside destinations guests may reach. Empty: none (only the host's
	// loopback through the gateway address). AllowAll is 0.0.0.0/0. Loopback, link-local,
	// multicast, broadcast and reserved addresses are refused whatever Allow says.
	Allow []netip.Prefix
	// NoHostLoopback refuses flows to the gateway address instead of mapping them to the
	// host's 127.0.0.1 (DNS forwarding still works).
	NoHostLoopback bool
	// IPv6Prefix is the guests' IPv6 /64, announced by router advertisements (SLAAC); the
	// gateway is its ::2, mapped to the host's ::1. Default DefaultIPv6Prefix; NoIPv6 turns
	// IPv6 off.
	IPv6Prefix netip.Prefix
	// NoIPv6 drops all IPv6 traffic, as before the gateway spoke it.
	NoIPv6 bool
	// Forwards are host ports forwarded to guests.
	Forwards []Forward
	// MaxConns bounds the concurrent TCP connections plus UDP flows of one guest address;
	// default 256.
	MaxConns int
	// BufferSize is the socket buffer size (each direction) of one forwarded TCP
	// connection, and of the relay copy; default 256 KiB.
	BufferSize int
	// UDPIdle closes a UDP flow after this long without traffic; default 60s (DNS: 10s).
	UDPIdle time.Duration
	// Logf, when set, receives one line per decision (lease, allow, deny, drop).
	Logf func(format string, args ...any)
	// Dial opens host sockets; default net.Dialer. Tests use it to prove that a refused
	// destination is never dialled.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// AllowAll is the Allow list that lets guests reach any outside address.
var AllowAll = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}

// DefaultIPv6Prefix is the guests' default IPv6 network: a unique local /64 that spells
// the IPv4 default (slirp4netns uses fd00::/64, which hosts often have on their own links).
var DefaultIPv6Prefix = netip.MustParsePrefix("fd00:10:0:2::/64")

// nth6 returns the address n of an IPv6 prefix (n < 2^32 in the last four bytes).
func nth6(p netip.Prefix, n uint32) netip.Addr {
	a := p.Masked().Addr().As16()
	a[12], a[13], a[14], a[15] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return netip.AddrFrom16(a)
}

// ParseIPv6Prefix parses the argument of -nat-ipv6: an IPv6 /64 with no host bits set.
func ParseIPv6Prefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("bad ipv6 prefix %q: want an IPv6 /64 like fd00:10:0:2::/64", s)
	}
	if p.Bits() != 64 {
		return netip.Prefix{}, fmt.Errorf("bad ipv6 prefix %q: must be a /64 (SLAAC)", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("bad ipv6 prefix %q: host bits set (network is %s)", s, p.Masked())
	}
	if p.Addr().IsMulticast() || p.Addr().IsLinkLocalUnicast() || p.Addr().IsLoopback() || p.Addr().IsUnspecified() {
		return netip.Prefix{}, fmt.Errorf("bad ipv6 prefix %q: not a unicast network", s)
	}
	return p, nil
}

// DefaultSubnet is slirp's guest network.
var DefaultSubnet = netip.MustParsePrefix("10.0.2.0/24")

// nth returns the n-th address of the prefix p (p's network address + n).
func nth(p netip.Prefix, n uint32) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// ParseSubnet parses the SUBNET argument of -nat: an IPv4 network in CIDR form such as
// 10.0.2.0/24, with no host bits set and room for leases from .15 (at most /27).
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad subnet %q: want an IPv4 network like 10.0.2.0/24", s)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("bad subnet %q: only IPv4 is supported", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("bad subnet %q: host bits set (network is %s)", s, p.Masked())
	}
	if p.Bits() > 27 || p.Bits() < 8 {
		return netip.Prefix{}, fmt.Errorf("bad subnet %q: prefix length must be 8..27", s)
	}
	return p, nil
}

// withDefaults returns c with every unset field filled in, or an error naming the bad field.
func (c Config) withDefaults() (Config, error) {
	if !c.Subnet.IsValid() {
		c.Subnet = DefaultSubnet
	}
	if _, err := ParseSubnet(c.Subnet.String()); err != nil {
		return c, err
	}
	if !c.Gateway.IsValid() {
		c.Gateway = nth(c.Subnet, 2)
	}
	if !c.DNS.IsValid() {
		c.DNS = nth(c.Subnet, 3)
	}
	if !c.DHCPStart.IsValid() {
		c.DHCPStart = nth(c.Subnet, 15)
	}
	for name, a := range map[string]netip.Addr{"gateway": c.Gateway, "dns": c.DNS, "dhcp start": c.DHCPStart} {
		if !c.Subnet.Contains(a) || a == c.Subnet.Addr() || a == lastAddr(c.Subnet) {
			return c, fmt.Errorf("%s address %s is not a host address of %s", name, a, c.Subnet)
		}
	}
	if c.Gateway == c.DNS {
		return c, fmt.Errorf("gateway and dns address are both %s", c.Gateway)
	}
	switch {
	case c.NoIPv6:
		c.IPv6Prefix = netip.Prefix{}
	case !c.IPv6Prefix.IsValid():
		c.IPv6Prefix = DefaultIPv6Prefix
	default:
		if _, err := ParseIPv6Prefix(c.IPv6Prefix.String()); err != nil {
			return c, err
		}
	}
	if c.LeaseTime <= 0 {
		c.LeaseTime = 24 * time.Hour
	}
	if c.Resolvers == nil {
		c.Resolvers = SystemResolvers("/etc/resolv.conf")
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 256
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 256 << 10
	}
	if c.UDPIdle <= 0 {
		c.UDPIdle = 60 * time.Second
	}
	if c.Dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second}
		c.Dial = d.DialContext
	}
	for _, f := range c.Forwards {
		if !c.Subnet.Contains(f.GuestAddr) {
			return c, fmt.Errorf("forward %s: guest address %s is outside %s", f, f.GuestAddr, c.Subnet)
		}
	}
	return c, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	return nth(p, uint32(1)<<(32-p.Bits())-1)
}

// SystemResolvers reads the nameserver lines of a resolv.conf file (IPv4 only, port 53).
// A missing or unreadable file gives no resolvers: DNS queries are then refused.
func SystemResolvers(path string) []netip.AddrPort {
	f, err := os.Open(path)
	if err != nil {
		return []netip.AddrPort{}
	}
	defer f.Close()
	out := []netip.AddrPort{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "nameserver" {
			if a, err := netip.ParseAddr(fs[1]); err == nil && a.Is4() {
				out = append(out, netip.AddrPortFrom(a, 53))
			}
		}
	}
	return out
}

// ParseResolver parses a resolver given as ADDR or ADDR:PORT (IPv4).
func ParseResolver(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Is4() && ap.Port() != 0 {
		return ap, nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return netip.AddrPortFrom(a, 53), nil
	}
	return netip.AddrPort{}, fmt.Errorf("bad resolver %q: want IPV4ADDR or IPV4ADDR:PORT", s)
}

// ParseAllow parses an -allow argument: "all", "none", or a comma-separated list of IPv4
// networks (CIDR) or addresses.
func ParseAllow(s string) ([]netip.Prefix, error) {
	switch s {
	case "all":
		return AllowAll, nil
	case "none":
		return []netip.Prefix{}, nil
	}
	var out []netip.Prefix
	for _, w := range strings.Split(s, ",") {
		if p, err := netip.ParsePrefix(w); err == nil && p.Addr().Is4() {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(w); err == nil && a.Is4() {
			out = append(out, netip.PrefixFrom(a, 32))
			continue
		}
		return nil, fmt.Errorf("bad allow entry %q: want all, none, or IPv4 networks like 192.0.2.0/24", w)
	}
	return out, nil
}
