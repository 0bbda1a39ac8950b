package usernet

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Forward is one host port forwarded to a guest: connections accepted on Host (tcp), or
// datagrams received there (udp), are relayed to Guest through the gateway; the guest sees
// them come from the gateway address.
type Forward struct {
	Proto     string // "tcp" or "udp"
	HostAddr  netip.Addr
	HostPort  uint16
	GuestAddr netip.Addr
	GuestPort uint16
}

func (f Forward) String() string {
	return fmt.Sprintf("%s:%s:%d:%s:%d", f.Proto, f.HostAddr, f.HostPort, f.GuestAddr, f.GuestPort)
}

// ParseForward parses a -forward argument: PROTO:HOSTPORT:GUESTIP:GUESTPORT, or
// PROTO:HOSTADDR:HOSTPORT:GUESTIP:GUESTPORT to listen on another host address than the
// default 127.0.0.1. PROTO is tcp or udp.
func ParseForward(s string) (Forward, error) {
	f := Forward{HostAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	w := strings.Split(s, ":")
	if len(w) != 4 && len(w) != 5 {
		return f, fmt.Errorf("bad forward %q: want tcp|udp:HOSTPORT:GUESTIP:GUESTPORT", s)
	}
	f.Proto = w[0]
	if f.Proto != "tcp" && f.Proto != "udp" {
		return f, fmt.Errorf("bad forward %q: protocol %q unsupported (tcp or udp)", s, w[0])
	}
	if len(w) == 5 {
		a, err := netip.ParseAddr(w[1])
		if err != nil || !a.Is4() {
			return f, fmt.Errorf("bad forward %q: host address %q is not an IPv4 address", s, w[1])
		}
		f.HostAddr = a
		w = append(w[:1], w[2:]...)
	}
	var err error
	if f.HostPort, err = parsePort(w[1]); err != nil {
		return f, fmt.Errorf("bad forward %q: host port: %v", s, err)
	}
	a, err := netip.ParseAddr(w[2])
	if err != nil || !a.Is4() {
		return f, fmt.Errorf("bad forward %q: guest address %q is not an IPv4 address", s, w[2])
	}
	f.GuestAddr = a
	if f.GuestPort, err = parsePort(w[3]); err != nil {
		return f, fmt.Errorf("bad forward %q: guest port: %v", s, err)
	}
	return f, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number (1..65535)", s)
	}
	return uint16(n), nil
}
